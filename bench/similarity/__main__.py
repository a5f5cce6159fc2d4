"""`python -m bench.similarity`: run the copy-detection benchmark from a shell."""

from bench.similarity.runner import main

raise SystemExit(main())
