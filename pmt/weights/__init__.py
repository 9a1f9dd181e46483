"""Weight sets: the manifest model, loading, saving, validation and hashing.

A weight set is a folder of plain text a person can diff and review::

    weights/<name>/
        manifest.json       frozen pydantic model (:class:`Manifest`), incl. the variable spec
        coefficients.csv    one row per model key, one column per term (see ``docs/weights.md``)
        poverty_lines.csv   region_key,poverty_line   (optional; Rp per person per month)
        cutoffs.csv         scope,c1,...,c{n-1}       (optional reference cutoffs)

Nothing here knows about ranking. :func:`load_weights` checks everything and
reports every problem found as ``file:line: message`` in one
:class:`~pmt.errors.WeightSetError`.

Integrity: the manifest's ``content_hash`` covers the manifest and every data
file and ``file_hashes`` holds one digest per data file (so an error can name
the file that changed); a set without a hash, or whose files do not match it,
is refused unless ``verify_hash=False``. Every file name in a manifest is a
plain name inside the set's folder, checked in :class:`WeightFiles` and again
(through symbolic links) when reading. :func:`save_weights` writes a complete
new folder next to the target and swaps it into place.
"""

from __future__ import annotations

from .model import FORMAT, Manifest, WeightFiles, WeightSet, manifest_json_schema
from .store import available_weights, compute_hash, file_hash, load_weights, save_weights

__all__ = [
    "FORMAT",
    "Manifest",
    "WeightFiles",
    "WeightSet",
    "available_weights",
    "compute_hash",
    "file_hash",
    "load_weights",
    "manifest_json_schema",
    "save_weights",
]
