"""Exceptions of rekall_engine: one per kind of engine failure.

The message is the engine's own, the one the rekall CLI prints. Each class
also derives from the Python exception a caller would expect, so
``except KeyError`` catches an unknown id and ``except ValueError`` bad input.
"""


class RekallError(Exception):
    """Base of every error the engine raises."""


class NotFoundError(RekallError, KeyError):
    """Unknown entry id, missing database folder or config file."""

    # KeyError's str() would quote the message.
    __str__ = Exception.__str__


class InvalidArgumentError(RekallError, ValueError):
    """Bad input: type, confidence, UTF-8, search mode, a closed knowledge base..."""


class StorageError(RekallError, OSError):
    """The file system said no: read-only, full disk..."""


class CorruptionError(RekallError):
    """A file exists but is not what it should be (not a database, damaged)."""


class UnavailableError(RekallError):
    """A resource is missing or not ready, e.g. the model for embed()."""


class BusyError(RekallError):
    """The database is locked by another process."""


class CancelledError(RekallError):
    """The operation was cancelled."""


class RekallWarning(UserWarning):
    """A notice from a call that succeeded: keyword results because the model
    is missing, an entry stored without an embedding, a migrated database."""


__all__ = [
    "RekallError",
    "NotFoundError",
    "InvalidArgumentError",
    "StorageError",
    "CorruptionError",
    "UnavailableError",
    "BusyError",
    "CancelledError",
    "RekallWarning",
]
