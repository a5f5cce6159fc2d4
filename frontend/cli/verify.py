"""`copymark verify`: check a certificate or an evidence bundle offline, with the log's key."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from frontend.cli.output import JsonFlag, emit, fail, stderr
from frontend.cli.wiring import services

if TYPE_CHECKING:
    from registry.log.signing import LogPublicKey


def verify(
    document: Annotated[
        Path, typer.Argument(help="a certificate (JSON) or an evidence bundle (zip)")
    ],
    public_key: Annotated[
        Path | None, typer.Option("--public-key", help="the log's key: key.pem, its JSON or base64")
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """Check a certificate or an evidence bundle offline: only the log's public key is needed."""
    # Deferred: the certificate and evidence checkers bring PDF, image and zip handling.
    # The licensing and settlement leaf kinds register themselves on import, so their openings
    # can be checked.
    import licensing.events  # noqa: F401
    import settlement.events  # noqa: F401
    from registry.certificates import read_json_document, verify_certificate
    from registry.errors import CertificateError
    from registry.monitoring.evidence import MAX_BUNDLE_BYTES, verify_bundle

    key = _trusted_key(public_key)
    data = _read_capped(document, MAX_BUNDLE_BYTES, "the document")
    if zipfile.is_zipfile(io.BytesIO(data)):
        bundle = verify_bundle(data, key)
        valid, reason, index = bundle.valid, bundle.reason, bundle.log_index
        size, disclosed = None, bundle.disclosed
    else:
        try:
            parsed = read_json_document(data, "certificate")
        except CertificateError as error:
            fail(f"{document} is neither a certificate (JSON) nor a bundle (zip): {error}", 2)
        check = verify_certificate(parsed, key)
        valid, reason, index = check.valid, check.reason, check.log_index
        size = check.tree_head.tree_size if check.tree_head else None
        disclosed = check.disclosed
    if as_json:
        emit({"valid": valid, "reason": reason, "log_index": index, "disclosed": disclosed})
    if not valid:
        fail(f"{document} does NOT verify: {reason}")
    if not as_json:
        in_tree = f" of {size} leaves" if size else ""
        stderr.print(f"{document} verifies: leaf {index} is in the signed log{in_tree}")
        for name, value in sorted(disclosed.items()):
            stderr.print(f"  proves {name} = {json.dumps(value, ensure_ascii=False)}")


# A PEM public key is a few hundred bytes; a larger "key" file is the wrong file.
MAX_KEY_FILE_BYTES = 64 * 1024


def _read_capped(path: Path, limit: int, what: str) -> bytes:
    """The file's bytes, or a one-line error when it is missing, unreadable or over `limit`."""
    try:
        with path.open("rb") as stream:
            data = stream.read(limit + 1)
    except OSError as error:
        fail(f"cannot read {what} {path}: {error.strerror or error}", 2)
    if len(data) > limit:
        fail(f"{what} {path} is larger than {limit} bytes", 2)
    return data


def _trusted_key(path: Path | None) -> LogPublicKey:
    """The key given on the command line, else this installation's own log key."""
    from frontend.services import NotInitialised
    from registry.errors import CopymarkError
    from registry.log.signing import LogPublicKey

    if path is None:
        try:
            return services().signer.public_key
        except (NotInitialised, CopymarkError) as error:
            fail(f"no log key to check against ({error}); pass the log's key: --public-key FILE", 2)
    data = _read_capped(path, MAX_KEY_FILE_BYTES, "the public key")
    try:
        return LogPublicKey.from_text(data.decode("ascii"))
    except UnicodeDecodeError:
        fail(f"the public key {path} is not a PEM or base64 text file", 2)
    except (ValueError, CopymarkError) as error:
        fail(f"cannot read the public key {path}: the key is unusable ({error})", 2)
