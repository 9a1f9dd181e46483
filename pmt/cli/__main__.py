"""``python -m pmt.cli``: the ``pmt`` command."""

from . import console

console()
