"""The one exception type the connectors turn into a one-line message."""


class PaperbotError(Exception):
    """A problem the user can fix (bad input, missing file, unreachable server)."""
