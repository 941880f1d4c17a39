"""Privacy (DESIGN §16): erasing a person, the suppression list, retention at build."""
