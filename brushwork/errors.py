"""Exceptions that carry a one-line message meant for the user."""


class BrushworkError(Exception):
    """Base class: the message is a complete, user-facing sentence."""


class InputError(BrushworkError, ValueError):
    """A file or parameter given by the user cannot be used."""


class MissingWeightsError(BrushworkError, FileNotFoundError):
    """Network weights were not found where they were looked for."""


class InputWarning(UserWarning):
    """Something given by the user was adapted to be usable (the message says how); the CLI
    prints it as a one-line note."""
