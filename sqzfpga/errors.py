"""One exception type for problems the user can fix; the CLI prints it as one line."""


class UserError(Exception):
    """Bad input or a request that cannot be met: message says what, where, expected, how to fix."""


def short_reason(exc: BaseException) -> str:
    """First line of an exception's message (or its type), short enough for a one-line error."""
    text = str(exc).strip()
    return text.splitlines()[0][:120] if text else type(exc).__name__
