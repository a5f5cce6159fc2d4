"""Benchmarks: the figures `copymark bench` prints, kept out of the product packages.

Layering: frontend > bench > settlement > licensing > registry > similarity. A benchmark drives
the product through its public API and never imports `frontend`: where it needs the app's own
wiring (services on a scratch home, the `copymark` command), the CLI builds it and passes it in
(`bench.wiring`), so the figures measure the code the app runs.

- `similarity`: the DISC21-style copy-detection set (Tux Paint evaluation stamps, scikit-image
  photos), global-ranking metrics and the runner (`python -m bench.similarity`).
- `calibration`: fits `similarity/calibration.json` (p_copy) on calibration-only Debian images
  and measures never-registered images decided `copy` at 12, 1,000 and 100,000 works
  (`python -m bench.calibration`).
- `index`: index search latency and bytes per work at synthetic scale.
- `crawl`: crawler pages/s against a loopback site.
- `monitoring`: crawl-to-alert end to end, alert precision and recall per copy family.
- `log`: attestation-log appends, inclusion proofs and full audits.
- `spawned`: workers in spawned processes, started together and gathered against a deadline.
- `registration`: works/s and CPU-s per work through `copymark register` at 1, 2 and 4
  fingerprinting processes, and the hash-only baseline.
- `licensing`: split executions/s and a deep derivative chain.
- `web`: a real server under concurrent searches and uploads: 5xx, /healthz latency, refusals.
"""
