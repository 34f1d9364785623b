"""Exceptions that carry a one-line message meant for the user."""


class BrushworkError(Exception):
    """Base class: the message is a complete, user-facing sentence."""


class InputError(BrushworkError, ValueError):
    """A file or parameter given by the user cannot be used."""


class MissingWeightsError(BrushworkError, FileNotFoundError):
    """Network weights were not found where they were looked for."""
