"""Licensing use cases, one module per aggregate: contracts, offers, grants, sales, checks."""
