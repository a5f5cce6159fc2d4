"""`python -m frontend.cli` runs the copymark command."""

from frontend.cli import main

main()
