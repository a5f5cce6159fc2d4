"""Monitoring: crawl the web for copies of registered works and keep the evidence.

``service`` holds the use cases: crawl jobs and watches (a watch re-crawls its seeds on a
schedule), the per-work licensed-domain allow-list whose copies are a licensed use and raise
no alert, alert triage, and recording a copy found as an alert with its sightings. ``jobs``
runs a crawl job (``Monitor``) and resumes one that was interrupted; ``evidence`` assembles and
verifies the evidence bundle logged for each new alert; ``screenshots`` renders the page a copy
was found on; ``events`` is the evidence leaf of the attestation log. ``models`` holds the
tables and the limits of a crawl, ``schemas`` the API models, ``repository`` every query (an
alert, job or watch is scoped to its owner there) and ``errors`` what a user can get wrong.
"""
