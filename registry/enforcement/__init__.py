"""Enforcement: a confirmed alert becomes a case that goes from a takedown notice to a resolution.

A case groups confirmed alerts of one owner on one site. It moves through a fixed state machine
(`lifecycle`), sends its notice by email to the site's abuse contact (`contacts`, `notices`),
takes the accused party's counter-notice or licence claim on a public page reached with an
unguessable per-case token, and keeps deadlines that the worker turns into reminders. Every
step is a leaf on the attestation log carrying the digest of its evidence.

It lives in `registry` beside monitoring because a case is the continuation of monitoring
records (alerts, evidence) and of the log; the licence check it needs from `licensing` is a
function the composition root passes in, as monitoring's is.
"""
