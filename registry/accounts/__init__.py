"""Accounts: users with roles, argon2 passwords, hashed API keys, login sessions and brand
organisations (whose web domain license checks recognise as the licensee's site).

A sub-package of the registry shaped like `registry.monitoring` and `registry.notifications`:
`service.py` holds the use cases, `repository.py` every query and the one scoping rule (a
user's own API keys). The tables stay in `registry.models`, beside the works that reference
users.
"""
