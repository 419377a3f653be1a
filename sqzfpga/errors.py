"""One exception type for problems the user can fix; the CLI prints it as one line."""


class UserError(Exception):
    """Bad input or a request that cannot be met: message says what, where, expected, how to fix."""
