"""Build the documentation site: the guides in docs/ plus an API reference from the docstrings.

    python docs/build_site.py [--out site] [--no-strict]

The site is built with MkDocs and mkdocstrings (numpy-style docstrings), with
warnings as errors unless ``--no-strict``: a broken link between the guides, a
reference to a missing name or a docstring mkdocstrings cannot read fails the
build. The test suite runs it (tests/test_docs_site.py). The configuration is
written here, into a temporary folder together with a copy of the guides and
one generated page per module of the reference, so the repository keeps its
layout (no mkdocs.yml at the top).
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent

#: The guides, in the order of the site's navigation: (title, file in docs/).
GUIDES = [
    ("Home", "index.md"),
    ("The desil rule", "desil.md"),
    ("Python API", "api.md"),
    ("Command line", "cli.md"),
    ("Weight sets", "weights.md"),
    ("Variables", "variables.md"),
    ("Writing a variable spec", "spec.md"),
    ("Regions", "regions.md"),
    ("Bad input and guarantees", "errors.md"),
    ("Evaluation", "evaluation.md"),
    ("Calibration", "calibration.md"),
    ("Registry operations", "operations.md"),
    ("Service", "service.md"),
    ("Dask", "dask.md"),
    ("Performance", "performance.md"),
    ("Contributing", "contributing.md"),
]

#: The API reference: (page title, module). One page per module, its public names.
REFERENCE = [
    ("pmt", "pmt"),
    ("pmt.rank", "pmt.rank"),
    ("pmt.desil", "pmt.desil"),
    ("pmt.selection", "pmt.selection"),
    ("pmt.ranker", "pmt.ranker"),
    ("pmt.options", "pmt.options"),
    ("pmt.results", "pmt.results"),
    ("pmt.encode", "pmt.encode"),
    ("pmt.rejects", "pmt.rejects"),
    ("pmt.ids", "pmt.ids"),
    ("pmt.weights", "pmt.weights"),
    ("pmt.spec", "pmt.spec"),
    ("pmt.terms", "pmt.terms"),
    ("pmt.regions", "pmt.regions"),
    ("pmt.errors", "pmt.errors"),
    ("pmt.io", "pmt.io"),
    ("pmt.evaluation", "pmt.evaluation"),
    ("pmt.calibration", "pmt.calibration"),
    ("pmt.operations", "pmt.operations"),
    ("pmt.report", "pmt.report"),
    ("pmt.synth", "pmt.synth"),
    ("pmt.dask", "pmt.dask"),
]


def config(site: Path) -> str:
    """The mkdocs.yml text."""
    nav = ["nav:"]
    nav += [f"  - {json_str(title)}: {page}" for title, page in GUIDES]
    nav += ["  - API reference:"]
    nav += [f"      - {json_str(title)}: reference/{mod}.md" for title, mod in REFERENCE]
    return "\n".join(
        [
            "site_name: pmt",
            "site_description: Proxy Means Test scoring, ranking and desil",
            f"site_dir: {json_str(str(site))}",
            "docs_dir: docs",
            "theme:",
            "  name: mkdocs",
            "strict: true",
            "validation:",
            "  links:",
            "    not_found: warn",
            "    anchors: warn",
            "    unrecognized_links: warn",
            "plugins:",
            "  - search",
            "  - mkdocstrings:",
            "      default_handler: python",
            "      handlers:",
            "        python:",
            f"          paths: [{json_str(str(ROOT))}]",
            "          options:",
            "            docstring_style: numpy",
            "            show_source: false",
            "            show_root_heading: true",
            "            show_root_full_path: true",
            "            members_order: source",
            "            filters: ['!^_']",
            "            show_if_no_docstring: false",
            "            show_signature_annotations: true",
            "            separate_signature: true",
            "markdown_extensions:",
            "  - toc:",
            "      permalink: true",
            "  - admonition",
            "  - tables",
            "  - fenced_code",
            *nav,
            "",
        ]
    )


def json_str(text: str) -> str:
    """A YAML string (JSON strings are valid YAML)."""
    import json

    return json.dumps(text)


_LINK = re.compile(r"\]\(([^)#\s]+)(#[^)\s]*)?\)")


def _relink(text: str, source: Path, page: Path, docs: Path, queue: list[Path]) -> str:
    """Links of ``text`` (the repository file ``source``, staged as ``page``) made to work.

    A link into docs/ points at the staged guide; a link to another repository
    file points at a copy staged under ``repo/`` (queued, so its links are
    followed too); a folder stands for its README.md. External links stay.
    """

    def fix(m: re.Match[str]) -> str:
        target, anchor = m.group(1), m.group(2) or ""
        if "://" in target or target.startswith("mailto:"):
            return m.group(0)
        path = (source.parent / target).resolve()
        if path.is_dir() and (path / "README.md").exists():
            path = path / "README.md"
        if not path.exists() or ROOT not in path.parents:
            return m.group(0)  # mkdocs reports it
        rel = path.relative_to(ROOT)
        if rel.parts[0] == "docs":
            staged = docs / Path(*rel.parts[1:])
        else:
            staged = docs / "repo" / rel
            if path.suffix == ".md" and not staged.exists():
                queue.append(path)
        if path.suffix != ".md":
            staged = docs / "repo" / rel
            staged.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(path, staged)
        return f"]({os.path.relpath(staged, page.parent)}{anchor})"

    return _LINK.sub(fix, text)


def stage(tmp: Path) -> Path:
    """Copy the guides and write the reference pages under ``tmp/docs``; the docs folder."""
    docs = tmp / "docs"
    docs.mkdir()
    queue: list[Path] = []
    for _, page in GUIDES:
        source = ROOT / "README.md" if page == "index.md" else HERE / page
        (docs / page).write_text(_relink(source.read_text(), source, docs / page, docs, queue))
    while queue:  # repository files the guides link to, and the files they link to
        source = queue.pop()
        staged = docs / "repo" / source.relative_to(ROOT)
        if staged.exists():
            continue
        staged.parent.mkdir(parents=True, exist_ok=True)
        staged.write_text(_relink(source.read_text(), source, staged, docs, queue))
    ref = docs / "reference"
    ref.mkdir()
    for title, mod in REFERENCE:
        (ref / f"{mod}.md").write_text(f"# {title}\n\n::: {mod}\n")
    return docs


def build(out: Path, *, strict: bool = True) -> None:
    """Build the site into ``out``; raises SystemExit with mkdocs' messages if it fails."""
    from mkdocs.commands.build import build as mkdocs_build
    from mkdocs.config import load_config

    with tempfile.TemporaryDirectory(prefix="pmt-site-") as tmp_name:
        tmp = Path(tmp_name)
        stage(tmp)
        cfg_path = tmp / "mkdocs.yml"
        cfg_path.write_text(config(out.resolve()))
        cfg = load_config(str(cfg_path), strict=strict)
        mkdocs_build(cfg)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=ROOT / "site", help="where the site goes")
    ap.add_argument("--no-strict", action="store_true", help="warnings do not fail the build")
    args = ap.parse_args(argv)
    try:
        build(args.out, strict=not args.no_strict)
    except Exception as exc:  # mkdocs raises Abort with its warnings counted
        print(f"docs site: build failed: {exc}", file=sys.stderr)
        return 1
    print(f"docs site: built in {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
