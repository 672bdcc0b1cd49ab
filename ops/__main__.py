"""`python -m ops <command>`: the toolkit's command line. See `python -m ops --help`."""

from ops.cli import main

raise SystemExit(main())
