"""Licensing: contracts as data, the split engine, offers, license grants and sales reports.

- `contract`: the v1 contract document (pydantic models, published JSON Schema, JSON/YAML parsing).
- `engine`: `compile_contract(contract, resolver)` and `execute(contract, event) -> Execution`,
  pure and deterministic, integer minor units, allocations summing exactly to the gross.
- `money`: `Money` and `BasisPoints` value types; `apportion`: largest-remainder rounding.
- `directory`: a contract resolver over a folder of contract files.
- `service` package, one module per aggregate: `contracts` (versions activated by every
  party's consent), `offers`, `grants` (one buyout per work, which transfers it), `sales`
  (named sales reports with corrections), `royalties` (a work's royalty history) and
  `license_check` (`is_use_licensed(session, work_id, domain_or_url)` by the licensee
  organisation's domain).
- `models` / `repository`: the tables, and every query with what a user may see or act on.
- `references`: how contract documents name works (`work-<id>`) and accounts.
- `events`: the consent, grant and split leaves every write appends to the attestation log.
- `schemas` / `reports`: API bodies and the CSV sales report reader.
"""
