"""Registry: accounts, works, blob store, attestation log, certificates and monitoring records."""
