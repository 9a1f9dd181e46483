"""The same results on every processor: numpy's processor-specific code changes nothing.

numpy picks its routines by processor: with AVX-512 its ``np.log`` and
``np.exp`` differ from the C library's in the last bit for some values. pmt
takes logs, powers and exponentials from the C library (``pmt._kernels.libm``),
so synthetic households and their welfare must be the same bits whether or
not numpy uses its AVX-512 code. The test runs the same job in two child
processes, one with numpy's AVX-512 code turned off
(``NPY_DISABLE_CPU_FEATURES``, as on a processor without it), and compares.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

#: numpy's names for its AVX-512 code paths (numpy 2.4 groups the common ones as X86_V4)
AVX512 = ("X86_V4", "AVX512_SKX", "AVX512_CLX", "AVX512_CNL", "AVX512_ICL", "AVX512_SPR")


def _numpy_avx512() -> list[str]:
    """The AVX-512 code paths of numpy that this processor runs."""
    import importlib

    try:
        umath = importlib.import_module("numpy._core._multiarray_umath")
    except ImportError:  # numpy 1
        umath = importlib.import_module("numpy.core._multiarray_umath")
    found = umath.__cpu_features__

    return [name for name in AVX512 if found.get(name)]


JOB = """
import sys
import numpy as np
import pmt

ws = pmt.load_weights("demo")
households = pmt.synth.registry(200_000, seed=3)
result = pmt.rank(households, ws, cutoffs="reference")
survey = pmt.synth.survey(3_000, seed=4, heterogeneity=0)
np.savez(
    sys.argv[1],
    floor_area=households["floor_area"].to_numpy(float),
    terms=np.ascontiguousarray(pmt.encode.encode(households, ws).numeric),  # derived terms
    welfare=result.welfare,
    desil=result.desil_national,
    consumption=survey["consumption"].to_numpy(float),
)
"""


def _run(path: Path, disabled: list[str]) -> dict[str, np.ndarray]:
    env = dict(os.environ)
    env.pop("NPY_DISABLE_CPU_FEATURES", None)
    if disabled:
        env["NPY_DISABLE_CPU_FEATURES"] = " ".join(disabled)
    subprocess.run([sys.executable, "-c", JOB, str(path)], env=env, check=True, timeout=600)
    with np.load(path) as saved:
        return {k: saved[k] for k in saved.files}


@pytest.mark.skipif(
    not _numpy_avx512(), reason="numpy runs no AVX-512 code on this processor: nothing to turn off"
)
def test_households_and_welfare_do_not_depend_on_numpys_avx512_code(tmp_path: Path) -> None:
    plain = _run(tmp_path / "plain.npz", [])
    without = _run(tmp_path / "without.npz", _numpy_avx512())
    for name, values in plain.items():
        assert values.dtype == without[name].dtype, name
        differ = int(np.count_nonzero(values.view(np.uint8) != without[name].view(np.uint8)))
        assert differ == 0, f"{name}: {differ} bytes differ"
