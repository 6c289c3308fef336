"""The one exception type the connectors turn into a one-line message."""


class PaperbotError(Exception):
    """A problem the user can fix (bad input, missing file, unreachable server)."""


class LLMUnavailable(PaperbotError):
    """The language model could not be reached or refused the request, after retries."""
