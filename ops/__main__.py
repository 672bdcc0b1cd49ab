"""`python -m ops <command>`: the toolkit's command line. See `python -m ops --help`."""

import gc

# A command lives for seconds and its data is mostly acyclic, while the provider packages it imports
# create hundreds of thousands of objects: the default thresholds spend ~10% of an offline preview
# walking them again and again (mypy raises its thresholds for the same reason).
gc.set_threshold(200_000, 50, 100)

from ops.cli import main  # noqa: E402  (after the collector is tuned, so the imports benefit)

raise SystemExit(main())
