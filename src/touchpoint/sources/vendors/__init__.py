"""Call-tracking vendors: their records, files, webhooks and signatures → raw-call rows."""
