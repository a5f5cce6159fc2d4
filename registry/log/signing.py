"""Ed25519 keys and signed tree heads: a head's signature covers exactly its canonical bytes.

Canonical tree-head bytes (fixed length, 102 bytes, no parsing ambiguity)::

    b"copymark/tree-head/v1\\x00"     22 bytes, context string (domain separation)
    tree_size                       8 bytes, unsigned big-endian
    timestamp                       8 bytes, unsigned big-endian, ms since epoch UTC
    root_hash                      32 bytes, raw SHA-256
    key_id                         32 bytes, raw SHA-256 of the raw Ed25519 public key

The Ed25519 signature (64 bytes) is over those bytes. Binding the key id stops a head
from being presented as issued under another key. The key id is the hex SHA-256 of the
raw 32-byte public key.
"""

import base64
import binascii
import hashlib
import json
import os
import stat
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from registry.log.errors import SigningKeyError, TreeHeadFormatError
from registry.log.merkle import HASH_SIZE
from registry.messages import N_

TREE_HEAD_CONTEXT = b"copymark/tree-head/v1\x00"
PUBLIC_KEY_SIZE = 32
SIGNATURE_SIZE = 64
MAX_UINT64 = 2**64 - 1


def now_ms() -> int:
    """Milliseconds since the Unix epoch, UTC."""
    return time.time_ns() // 1_000_000


@dataclass(frozen=True, slots=True)
class LogPublicKey:
    """An Ed25519 public key that verifies tree heads."""

    raw: bytes

    def __post_init__(self) -> None:
        if len(self.raw) != PUBLIC_KEY_SIZE:
            raise SigningKeyError(
                N_("an Ed25519 public key is 32 bytes, got %(count)s"), count=len(self.raw)
            )

    @property
    def key_id(self) -> str:
        """Hex SHA-256 of the raw public key."""
        return hashlib.sha256(self.raw).hexdigest()

    def to_base64(self) -> str:
        """The raw 32 bytes, base64."""
        return base64.b64encode(self.raw).decode("ascii")

    def to_pem(self) -> str:
        """SubjectPublicKeyInfo PEM."""
        key = Ed25519PublicKey.from_public_bytes(self.raw)
        return key.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        ).decode("ascii")

    @classmethod
    def from_base64(cls, text: str) -> "LogPublicKey":
        """Parse the raw key from base64."""
        try:
            return cls(base64.b64decode(text.strip(), validate=True))
        except (binascii.Error, ValueError) as error:
            raise SigningKeyError(
                N_("public key is not valid base64: %(reason)s"), reason=str(error)
            ) from error

    @classmethod
    def from_pem(cls, pem: str | bytes) -> "LogPublicKey":
        """Parse a SubjectPublicKeyInfo PEM holding an Ed25519 key."""
        data = pem.encode("ascii") if isinstance(pem, str) else pem
        try:
            key = serialization.load_pem_public_key(data)
        except ValueError as error:
            raise SigningKeyError(
                N_("public key PEM is malformed: %(reason)s"), reason=str(error)
            ) from error
        if not isinstance(key, Ed25519PublicKey):
            raise SigningKeyError(N_("public key PEM does not hold an Ed25519 key"))
        return cls(key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw))

    @classmethod
    def from_text(cls, text: str) -> "LogPublicKey":
        """Parse the key in any form the log publishes: PEM, raw base64 or the JSON document.

        The JSON document (``/api/v1/log/public-key``) carries the key twice and its id once;
        they must all name the same key, or a hand-edited file could pass one key off as another.
        """
        stripped = text.strip()
        if stripped.startswith("{"):
            return cls._from_json_document(stripped)
        if "-----BEGIN" in stripped:
            return cls.from_pem(stripped)
        return cls.from_base64(stripped)

    @classmethod
    def _from_json_document(cls, text: str) -> "LogPublicKey":
        try:
            document = json.loads(text)
        except ValueError as error:
            raise SigningKeyError(
                N_("public key JSON is malformed: %(reason)s"), reason=str(error)
            ) from error
        if not isinstance(document, dict) or not isinstance(document.get("ed25519_base64"), str):
            raise SigningKeyError(N_("public key JSON has no ed25519_base64 string"))
        key = cls.from_base64(document["ed25519_base64"])
        pem = document.get("pem")
        if pem is not None and (not isinstance(pem, str) or cls.from_pem(pem) != key):
            raise SigningKeyError(N_("public key JSON holds two different keys (pem and base64)"))
        key_id = document.get("key_id")
        if key_id is not None and key_id != key.key_id:
            raise SigningKeyError(
                N_("public key JSON names key id %(key_id)s, not its key's"), key_id=repr(key_id)
            )
        return key

    def verify(self, signature: bytes, message: bytes) -> bool:
        """Whether ``signature`` is this key's Ed25519 signature of ``message``."""
        try:
            Ed25519PublicKey.from_public_bytes(self.raw).verify(signature, message)
        except InvalidSignature:
            return False
        return True


class Signer(Protocol):
    """Signs tree heads; a file key by default, an HSM or KMS could stand in."""

    @property
    def public_key(self) -> LogPublicKey:
        """The key that verifies this signer's signatures."""
        ...

    def sign(self, message: bytes) -> bytes:
        """Ed25519 signature of ``message``."""
        ...


class LogSigner:
    """An Ed25519 private key held in memory."""

    def __init__(self, private_key: Ed25519PrivateKey) -> None:
        self._private_key = private_key
        raw = private_key.public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )
        self._public_key = LogPublicKey(raw)

    @classmethod
    def generate(cls) -> "LogSigner":
        """A fresh random key (not persisted)."""
        return cls(Ed25519PrivateKey.generate())

    @property
    def public_key(self) -> LogPublicKey:
        """The key that verifies this signer's signatures."""
        return self._public_key

    @property
    def key_id(self) -> str:
        """Hex SHA-256 of the raw public key."""
        return self._public_key.key_id

    def sign(self, message: bytes) -> bytes:
        """Ed25519 signature of ``message``."""
        return self._private_key.sign(message)

    def private_pem(self) -> bytes:
        """Unencrypted PKCS#8 PEM of the private key."""
        return self._private_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )

    def __repr__(self) -> str:
        return f"LogSigner(key_id={self.key_id!r})"


def create_signing_key(path: Path) -> LogSigner:
    """Create a new key at ``path`` (mode 0600); refuses to overwrite an existing file."""
    signer = LogSigner.generate()
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        # O_EXCL: never replace a key that earlier heads were signed with.
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError as error:
        raise SigningKeyError(
            N_("a signing key already exists at %(path)s"), path=str(path)
        ) from error
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(signer.private_pem())
    return signer


def load_signer(path: Path) -> LogSigner:
    """Load the key at ``path``; refuses a file readable by group or others."""
    try:
        mode = path.stat().st_mode
    except FileNotFoundError as error:
        raise SigningKeyError(N_("no signing key at %(path)s"), path=str(path)) from error
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise SigningKeyError(
            N_(
                "signing key %(path)s is accessible by group or others (mode %(mode)s); "
                "chmod 600 it"
            ),
            path=str(path),
            mode=f"{stat.S_IMODE(mode):04o}",
        )
    try:
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except (ValueError, TypeError) as error:
        raise SigningKeyError(
            N_("signing key %(path)s is malformed: %(reason)s"), path=str(path), reason=str(error)
        ) from error
    if not isinstance(key, Ed25519PrivateKey):
        raise SigningKeyError(N_("signing key %(path)s is not an Ed25519 key"), path=str(path))
    return LogSigner(key)


@dataclass(frozen=True, slots=True)
class SignedTreeHead:
    """A tree size and root, timestamped and signed by the log's key."""

    tree_size: int
    root_hash: bytes
    timestamp: int
    key_id: str
    signature: bytes

    def signed_bytes(self) -> bytes:
        """The canonical bytes the signature covers."""
        return tree_head_bytes(self.tree_size, self.root_hash, self.timestamp, self.key_id)

    def verify(self, public_key: LogPublicKey) -> bool:
        """Whether the head was signed by ``public_key``."""
        return self.key_id == public_key.key_id and public_key.verify(
            self.signature, self.signed_bytes()
        )

    def to_json(self) -> dict[str, int | str]:
        """JSON form: sizes and ms timestamp as integers, root hex, signature base64."""
        return {
            "tree_size": self.tree_size,
            "root_hash": self.root_hash.hex(),
            "timestamp": self.timestamp,
            "key_id": self.key_id,
            "signature": base64.b64encode(self.signature).decode("ascii"),
        }

    @classmethod
    def from_json(cls, document: Any) -> "SignedTreeHead":
        """Parse the JSON form strictly; raises TreeHeadFormatError naming the bad field."""
        if not isinstance(document, dict):
            raise TreeHeadFormatError(N_("tree head must be a JSON object"))
        expected = {"tree_size", "root_hash", "timestamp", "key_id", "signature"}
        if set(document) != expected:
            raise TreeHeadFormatError(
                N_("tree head fields must be exactly %(expected)s, got %(got)s"),
                expected=str(sorted(expected)),
                got=str(sorted(document)),
            )
        return cls(
            tree_size=_uint64(document["tree_size"], "tree_size"),
            root_hash=_hex_digest(document["root_hash"], "root_hash"),
            timestamp=_uint64(document["timestamp"], "timestamp"),
            key_id=_hex_digest(document["key_id"], "key_id").hex(),
            signature=_signature(document["signature"]),
        )


def tree_head_bytes(tree_size: int, root_hash: bytes, timestamp: int, key_id: str) -> bytes:
    """Canonical bytes of a tree head (see the module docstring)."""
    if not 0 <= tree_size <= MAX_UINT64 or not 0 <= timestamp <= MAX_UINT64:
        raise TreeHeadFormatError(N_("tree size and timestamp must be unsigned 64-bit integers"))
    if len(root_hash) != HASH_SIZE:
        raise TreeHeadFormatError(N_("root hash must be %(count)s bytes"), count=HASH_SIZE)
    return b"".join(
        (
            TREE_HEAD_CONTEXT,
            tree_size.to_bytes(8, "big"),
            timestamp.to_bytes(8, "big"),
            root_hash,
            _hex_digest(key_id, "key_id"),
        )
    )


def sign_tree_head(
    signer: Signer, tree_size: int, root_hash: bytes, timestamp: int
) -> SignedTreeHead:
    """Sign a tree head with ``signer``."""
    key_id = signer.public_key.key_id
    signature = signer.sign(tree_head_bytes(tree_size, root_hash, timestamp, key_id))
    return SignedTreeHead(tree_size, root_hash, timestamp, key_id, signature)


def _uint64(value: object, field: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_UINT64:
        raise TreeHeadFormatError(N_("%(field)s must be an unsigned 64-bit integer"), field=field)
    return value


def _hex_digest(value: object, field: str) -> bytes:
    if not isinstance(value, str) or len(value) != 2 * HASH_SIZE:
        raise TreeHeadFormatError(
            N_("%(field)s must be %(count)s lowercase hex characters"),
            field=field,
            count=2 * HASH_SIZE,
        )
    if value != value.lower():
        raise TreeHeadFormatError(N_("%(field)s must be lowercase hex"), field=field)
    try:
        return bytes.fromhex(value)
    except ValueError as error:
        raise TreeHeadFormatError(N_("%(field)s is not hex"), field=field) from error


def _signature(value: object) -> bytes:
    if not isinstance(value, str):
        raise TreeHeadFormatError(N_("signature must be a base64 string"))
    try:
        signature = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError) as error:
        raise TreeHeadFormatError(N_("signature is not valid base64")) from error
    if len(signature) != SIGNATURE_SIZE:
        raise TreeHeadFormatError(N_("signature must be %(count)s bytes"), count=SIGNATURE_SIZE)
    return signature
