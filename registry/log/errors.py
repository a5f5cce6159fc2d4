"""Errors of the attestation log that a caller can cause, each with the HTTP status it maps to."""

from typing import ClassVar


class LogError(Exception):
    """Base of every attestation-log error a caller can cause."""

    status_code: ClassVar[int] = 400


class ProofRequestError(LogError, ValueError):
    """A proof was asked for an index or tree size the tree cannot have."""

    status_code = 422


class LeafNotFoundError(LogError, LookupError):
    """No leaf is stored at the requested index."""

    status_code = 404


class TreeSizeError(LogError, ValueError):
    """A tree size beyond what the log currently holds."""

    status_code = 422


class SignerMissingError(LogError):
    """The log was asked to sign but holds no signing key."""

    status_code = 503


class SigningKeyError(LogError):
    """A signing or public key file is missing, unsafe or malformed."""

    status_code = 500


class TreeHeadFormatError(LogError, ValueError):
    """A signed tree head document is not in the expected shape."""

    status_code = 422


class LogCorruptionError(LogError):
    """A stored node or leaf the tree needs is missing: the log's storage is damaged."""

    status_code = 500
