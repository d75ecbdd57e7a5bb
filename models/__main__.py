"""``python -m models``: the ``graphpde`` command line."""

from models.experiments.cli import main

raise SystemExit(main())
