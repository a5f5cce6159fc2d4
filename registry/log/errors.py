"""Errors of the attestation log that a caller can cause, each a kind of the one error root."""

from registry.errors import CopymarkError, Invalid, NotFound, StorageFault, Unavailable


class LogError(CopymarkError):
    """Base of every attestation-log error; it sets no status or code, so the kind each subclass
    adds decides them."""


class ProofRequestError(LogError, Invalid, ValueError):
    """A proof was asked for an index or tree size the tree cannot have."""

    code = "proof_request_invalid"


class LeafNotFoundError(LogError, NotFound, LookupError):
    """No leaf is stored at the requested index."""

    code = "leaf_not_found"


class TreeSizeError(LogError, Invalid, ValueError):
    """A tree size beyond what the log currently holds."""

    code = "tree_size_invalid"


class SignerMissingError(LogError, Unavailable):
    """The log was asked to sign but holds no signing key."""

    code = "signer_missing"


class SigningKeyError(LogError, StorageFault):
    """A signing or public key file is missing, unsafe or malformed."""

    code = "signing_key_invalid"


class TreeHeadFormatError(LogError, Invalid, ValueError):
    """A signed tree head document is not in the expected shape."""

    code = "tree_head_malformed"


class LogCorruptionError(LogError, StorageFault):
    """A stored node or leaf the tree needs is missing: the log's storage is damaged."""

    code = "log_corrupted"
