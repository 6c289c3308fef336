"""`python -m connectors.cli`: the same command as `paperbot`."""

from connectors.cli import main

main()
