"""The documentation site builds with warnings as errors, and its API reference is complete."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

pytest.importorskip("mkdocstrings", reason="the docs site needs the test extra (mkdocstrings)")


def _build_site():  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location("build_site", ROOT / "docs" / "build_site.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def site(tmp_path_factory):  # type: ignore[no-untyped-def]
    out = tmp_path_factory.mktemp("site")
    _build_site().build(out, strict=True)  # raises on any warning
    return out


def test_every_guide_is_in_the_site_navigation():
    listed = {page for _, page in _build_site().GUIDES}
    guides = {p.name for p in (ROOT / "docs").glob("*.md")}
    assert guides <= listed, f"add {sorted(guides - listed)} to GUIDES in docs/build_site.py"


def test_the_reference_documents_the_public_api(site):
    def ids(module: str) -> set[str]:
        text = (site / "reference" / module / "index.html").read_text()
        return set(re.findall(r'id="([\w.]+)"', text))

    assert {"pmt.rank.rank", "pmt.rank.score", "pmt.desil.assign_desil"} <= ids("pmt.rank") | ids(
        "pmt.desil"
    )
    assert "pmt.evaluation.evaluate" in ids("pmt.evaluation")
    assert "pmt.calibration.calibrate" in ids("pmt.calibration")
    assert "pmt.results.RankResult.summary" in ids("pmt.results")
    assert "pmt.warmup" in ids("pmt")


def test_links_to_repository_files_reach_a_page(site):
    index = (site / "index.html").read_text()
    assert 'href="repo/CHANGELOG/"' in index or 'href="repo/CHANGELOG.md"' in index
    assert (site / "repo" / "CHANGELOG" / "index.html").exists()
