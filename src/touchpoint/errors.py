"""The one error type the command line turns into a single clear line."""


class TouchpointError(Exception):
    """A data or runtime problem worth one line to the user (exit status 1)."""
