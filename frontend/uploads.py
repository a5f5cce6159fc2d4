"""Uploaded files as the API and the pages read them: never more than the size limit."""

from __future__ import annotations

from fastapi import UploadFile

from registry.errors import PayloadTooLarge


async def read_upload(upload: UploadFile, max_bytes: int) -> bytes:
    """The upload's bytes, refusing more than max_bytes without reading them all."""
    data = await upload.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise PayloadTooLarge(f"{upload.filename or 'upload'} is larger than {max_bytes} bytes")
    return data
