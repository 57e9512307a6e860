"""One error type for everything a user can get wrong; the CLI prints it without a traceback."""


class ImuadError(Exception):
    """A user-facing error: the message names the file, line, column or field at fault."""
