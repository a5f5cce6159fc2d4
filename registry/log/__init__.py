"""Attestation log: an append-only RFC 9162 Merkle tree of canonical JSON events with signed heads.

``merkle`` holds the pure tree maths and verifiers, ``events`` the canonical leaf encoding,
``commitments`` the salted commitments a leaf carries in place of private values, ``signing``
the Ed25519 tree-head signatures, ``models`` the tables, ``schemas`` the API's
request and response models, ``errors`` what a caller can get wrong, and ``store`` the
persisted log (``AttestationLog``) and its full audit (``verify_log``): it is the log's
repository, holding every query. The log is public, so nothing in it is scoped to an owner and
nothing private is on it in the clear. ``docs/log-format.md`` specifies the bytes.
"""
