"""``python -m pmt.cli``: the ``pmt`` command."""

from . import main

raise SystemExit(main())
