"""pmt.warmup, ``pmt warmup`` and the command line's "compiling" line."""

from __future__ import annotations

import io
import json

import numba
import numpy as np
import pytest

import pmt
from pmt import _kernels as K
from pmt._kernels import _jit
from pmt.cli import Progress, main


@pytest.fixture
def one_kernel(monkeypatch):
    """KERNELS cut down to one small kernel, so that these tests compile little."""
    monkeypatch.setattr(_jit, "KERNELS", {"_factorize_small": _jit.KERNELS["_factorize_small"]})
    monkeypatch.setattr(K, "KERNELS", _jit.KERNELS)


def test_warmup_compiles_every_signature_and_reports_progress(one_kernel):
    seen = []
    names = pmt.warmup(progress=lambda done, total, stage: seen.append((done, total, stage)))
    assert names == ["_factorize_small"]
    assert seen == [(1, 1, "compiling")]
    kernel = _jit.KERNELS["_factorize_small"]
    assert set(kernel.dispatcher.overloads) == set(kernel.signatures)


def test_pmt_warmup_json(one_kernel, capsys):
    assert main(["--quiet", "warmup", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["kernels"] == ["_factorize_small"]
    assert doc["pmt_version"] == pmt.__version__
    assert doc["seconds"] >= 0


def test_the_command_line_says_once_when_it_compiles():
    from pmt.cli import _announce_compiling

    def add(x, out):  # type: ignore[no-untyped-def]
        for i in range(x.shape[0]):
            out[i] = x[i] + 1.0

    k = _jit.Kernel(add, [(_jit.f8_in, _jit.f8)])
    k.dispatcher = numba.njit(add)  # a kernel of the test's own, never cached: it compiles
    stream = io.StringIO()
    progress = Progress(stream=stream, live=False)
    x, out = np.arange(3.0), np.empty(3)
    with _announce_compiling(progress):
        k(x, out)
        k(x, out)  # compiled: no second line
    np.testing.assert_array_equal(out, x + 1.0)
    assert stream.getvalue().count("compiling numba kernels (first run only") == 1
    assert _jit._compile_listener[0] is None  # put back


def test_warmup_knows_every_kernel_of_every_kernel_module():
    """Each kernel is in KERNELS under its own name, so that warmup compiles it.

    (Two kernels once shared a name: warmup compiled one, and the first ranking
    after ``pmt warmup`` still compiled the other.)
    """
    import importlib
    import pkgutil

    found = []
    for info in pkgutil.iter_modules(K.__path__):
        module = importlib.import_module(f"pmt._kernels.{info.name}")
        found += [v for v in vars(module).values() if isinstance(v, _jit.Kernel)]
    assert len(found) >= 15
    for k in found:
        assert _jit.KERNELS[k.__name__] is k, k
    assert len({id(k) for k in found}) == len(_jit.KERNELS)
