"""`python -m similarity.benchmark`: run the copy-detection benchmark from a shell."""

from similarity.benchmark.runner import main

raise SystemExit(main())
