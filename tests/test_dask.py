"""pmt.dask.rank on a two-process LocalCluster: bit for bit pmt.rank, for any partitioning."""

from __future__ import annotations

import dataclasses
import itertools
import os
import subprocess
import sys
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from conftest import make_households, tiny_weight_set
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import pmt
from pmt import errors as E

dask = pytest.importorskip("dask")
dd = pytest.importorskip("dask.dataframe")
distributed = pytest.importorskip("distributed")
import pmt.dask as pdk  # noqa: E402  (after the skips)


@pytest.fixture(scope="module")
def client() -> Iterator[Any]:
    """Two worker processes, one thread each: every exchange crosses a process boundary.

    The kernels are compiled here first, in this process (numba's disk cache then
    serves the workers).
    """
    with dask.config.set(scheduler="synchronous"):
        warm = make_households(30, seed=0)
        _distributed(_parts(warm, [10]), tiny_weight_set()).summary()
    cluster = distributed.LocalCluster(
        n_workers=2,
        processes=True,
        threads_per_worker=1,
        dashboard_address=":0",
        memory_limit="1GiB",
    )
    with cluster, distributed.Client(cluster) as c:
        yield c


def _parts(df: pd.DataFrame, cuts: list[int]) -> Any:
    """A Dask DataFrame of ``df`` cut at ``cuts`` (repeated cuts: empty partitions)."""
    edges = [0, *sorted(min(max(c, 0), len(df)) for c in cuts), len(df)]
    pieces = [df.iloc[a:b] for a, b in itertools.pairwise(edges)]
    return dd.from_delayed([dask.delayed(p) for p in pieces], meta=df.iloc[:0], verify_meta=False)


def _memory(df: pd.DataFrame, ws: Any, **kw: Any) -> pmt.RankResult:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", E.SmallPopulationWarning)
        return pmt.rank(df, ws, **kw)


def _distributed(ddf: Any, ws: Any, **kw: Any) -> Any:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", E.SmallPopulationWarning)
        return pdk.rank(ddf, ws, **kw)


def _same_frame(got: Any, expected: pmt.RankResult) -> None:
    frame = got.frame.compute()
    pd.testing.assert_frame_equal(frame, expected.to_frame(), check_exact=True)
    assert got.n_households == expected.n_households and got.n_rejected == expected.n_rejected


@st.composite
def _case(draw: Any) -> tuple[pd.DataFrame, list[int], dict[str, Any]]:
    n = draw(st.integers(12, 160))
    df = make_households(
        n, seed=draw(st.integers(0, 2**16)), tie_frac=draw(st.sampled_from([0, 0.7]))
    )
    # "given": the reference table passed as a mapping (cutoffs the caller gives)
    kw: dict[str, Any] = {"cutoffs": draw(st.sampled_from(["registry", "reference", "given"]))}
    if draw(st.booleans()):  # survey weights that are not whole: the sums must still match
        rng = np.random.default_rng(n)
        df["w"] = rng.uniform(0.3, 4.0, n).round(draw(st.sampled_from([1, 9])))
        kw["weight"] = "w"
    if draw(st.booleans()):
        kw["weighting"] = "household"
    cuts = draw(st.lists(st.integers(0, n), max_size=6))
    return df, cuts, kw


@settings(
    max_examples=4, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(case=_case())
def test_any_partitioning_gives_the_in_memory_result(client, tiny_ws_ref, case):
    df, cuts, kw = case
    if kw["cutoffs"] == "given":
        kw["cutoffs"] = dict(tiny_ws_ref.cutoffs)
        kw["max_desil"] = 5
    got = _distributed(_parts(df, cuts), tiny_ws_ref, **kw)
    _same_frame(got, _memory(df, tiny_ws_ref, **kw))


@pytest.mark.parametrize("cutoffs", ["reference", "given", "registry"])
def test_without_ranks_reference_cutoffs_are_one_map_over_the_partitions(
    client, tiny_ws_ref, cutoffs
):
    df = make_households(150, seed=9)
    df.loc[[7, 90], "hh_id"] = df.loc[20, "hh_id"]  # an id repeated across partitions
    kw: dict[str, Any] = {"cutoffs": cutoffs, "on_invalid": "reject"}
    if cutoffs == "given":
        kw["cutoffs"] = dict(tiny_ws_ref.cutoffs)
    got = _distributed(_parts(df, [0, 30, 60, 60, 149]), tiny_ws_ref, ranks=False, **kw)
    expected = _memory(df, tiny_ws_ref, **kw).to_frame()
    dropped = ["rank_national", "rank_provincial", "share_below_national", "share_below_provincial"]
    frame = got.frame.compute()
    pd.testing.assert_frame_equal(frame, expected.drop(columns=dropped), check_exact=True)
    assert got.n_rejected == 3
    # what computing the frame runs: with cutoffs and no duplicate ids (whose rows alone
    # go back to their partitions by a shuffle), a map over the scored partitions only
    clean = _distributed(_parts(df.iloc[21:], [0, 30, 60, 60]), tiny_ws_ref, ranks=False, **kw)
    tasks = {str(k[0] if isinstance(k, tuple) else k) for k in dict(clean.frame.dask)}
    global_ = {t for t in tasks if any(w in t for w in ("shuffle", "sort", "_walk", "set_index"))}
    assert bool(global_) == (cutoffs == "registry"), sorted(global_)
    assert any(t.startswith("_finish") for t in tasks)


def test_heavy_ties_across_partitions_one_household_and_empty_partitions(client, tiny_ws):
    # a third of the rows are one household copied: one tie run over many partitions
    df = make_households(150, seed=4)
    copy = df.columns.drop("hh_id")
    df.loc[df.index[::3], copy] = df.loc[df.index[0], copy].to_numpy()
    df["w"] = np.random.default_rng(1).uniform(0.5, 2.0, len(df))
    cuts = [0, 0, 1, 2, 2, 40, 41, 90, 150, 150]
    got = _distributed(_parts(df, cuts), tiny_ws, weight="w")
    expected = _memory(df, tiny_ws, weight="w")
    _same_frame(got, expected)
    assert (expected.rank_national == expected.rank_national[0]).sum() >= 50  # the tie is whole
    pd.testing.assert_frame_equal(got.summary(), expected.summary(), check_exact=False, rtol=1e-12)


def test_a_partition_per_province(client, tiny_ws):
    df = make_households(200, seed=6).sort_values("district_code", kind="stable")
    province = (df["district_code"] // 100).to_numpy()
    cuts = np.flatnonzero(np.diff(province)) + 1
    got = _distributed(_parts(df, cuts.tolist()), tiny_ws)
    expected = _memory(df, tiny_ws)
    _same_frame(got, expected)
    pd.testing.assert_frame_equal(got.summary(), expected.summary(), check_exact=True)


def test_rejects_and_duplicate_ids_across_partitions(client, tiny_ws):
    df = make_households(120, seed=5)
    df["hh_size"] = df["hh_size"].astype("float64")
    df.loc[[3, 100], "hh_size"] = np.nan
    df.loc[40, "floor_material"] = 99
    df.loc[110, "hh_id"] = df.loc[10, "hh_id"]  # the same id in two partitions
    df.loc[111, "hh_id"] = df.loc[3, "hh_id"]  # a copy of a rejected row's id: not a duplicate
    expected = _memory(df, tiny_ws, on_invalid="reject")
    for cuts in ([30, 60, 60, 90], [8, 105]):  # the duplicates with or without other rejects
        got = _distributed(_parts(df, cuts), tiny_ws, on_invalid="reject")
        _same_frame(got, expected)
        rejects = got.rejects.compute().reset_index(drop=True)
        pd.testing.assert_frame_equal(rejects, expected.rejects, check_exact=True)
    assert rejects["row"].tolist() == [3, 10, 40, 100, 110]
    assert rejects["rule"].tolist() == [
        "missing_or_infinite",
        "duplicate_id",
        "invalid_code",
        "missing_or_infinite",
        "duplicate_id",
    ]
    valid = df.drop(index=[3, 40, 100]).reset_index(drop=True)  # the copies are at 9 and 107
    with pytest.raises(E.DuplicateIdError) as info:
        _distributed(_parts(valid, [30, 60]), tiny_ws)
    with pytest.raises(E.DuplicateIdError) as mem:
        _memory(valid, tiny_ws)
    assert info.value.rows == mem.value.rows == (9, 107)  # positions in the whole input
    assert str(valid.loc[9, "hh_id"]) not in str(info.value).replace("rows 9, 107", "")


def test_text_ids_repeated_across_partitions(client, tiny_ws):
    df = make_households(60, seed=9)
    df["hh_id"] = [f"KK-{i:016d}" for i in range(60)]
    df.loc[50, "hh_id"] = df.loc[5, "hh_id"]
    ddf = _parts(df, [20, 40])
    got = _distributed(ddf, tiny_ws, on_invalid="reject")
    # against the table Dask holds: with pandas 2, Dask stores text as Arrow strings (its
    # dataframe.convert-string option), and pmt passes ids through with their type
    expected = _memory(ddf.compute(), tiny_ws, on_invalid="reject")
    _same_frame(got, expected)
    rejects = got.rejects.compute().reset_index(drop=True)
    assert rejects["row"].tolist() == [5, 50] == expected.rejects["row"].tolist()
    assert rejects["hh_id"].tolist() == expected.rejects["hh_id"].tolist()


def test_bad_input_raises_as_in_memory(client, tiny_ws):
    df = make_households(90, seed=8)
    df.loc[70, "floor_material"] = 0
    with pytest.raises(E.InvalidCodeError) as info:
        _distributed(_parts(df, [30, 60]), tiny_ws)
    with pytest.raises(E.InvalidCodeError) as mem:
        _memory(df, tiny_ws)
    assert info.value.rows == mem.value.rows == (70,)
    with pytest.raises(E.EmptyInputError):
        _distributed(_parts(df.iloc[:0], [0]), tiny_ws)
    with pytest.raises(E.MissingColumnError, match="roof_material"):
        _distributed(_parts(df.drop(columns="roof_material"), [10]), tiny_ws)
    with pytest.raises(TypeError, match=r"dask\.dataframe\.DataFrame"):
        pdk.rank(df, tiny_ws)  # type: ignore[arg-type]
    with pytest.raises(E.ArgumentError, match="max_desil"):
        pdk.rank(_parts(df, []), tiny_ws, max_desil=11)
    with pytest.raises(E.PopulationTooSmallError):
        _distributed(_parts(df.iloc[:5], [2]), tiny_ws)


def test_every_row_rejected_gives_an_empty_result(client, tiny_ws):
    df = make_households(20, seed=3)
    df["floor_material"] = 99
    got = _distributed(_parts(df, [7, 7]), tiny_ws, on_invalid="reject")
    expected = _memory(df, tiny_ws, on_invalid="reject")
    assert got.n_households == 0 and got.n_rejected == 20
    _same_frame(got, expected)
    assert len(got.summary()) == 0


def test_to_parquet_is_atomic(client, tiny_ws, tmp_path):
    df = make_households(80, seed=2)
    got = _distributed(_parts(df, [20, 50]), tiny_ws)
    out = tmp_path / "ranked"
    got.to_parquet(out, rejects=tmp_path / "rejects")
    back = pd.read_parquet(out)
    pd.testing.assert_frame_equal(back, _memory(df, tiny_ws).to_frame().reset_index(drop=True))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ranked", "rejects"]
    # pmt's Parquet settings, as the in-memory and streamed writers use them
    import pyarrow.parquet as pq

    for part in sorted(out.glob("*.parquet")):
        assert not any(f.nullable for f in pq.read_schema(part)), part
        group = pq.ParquetFile(part).metadata.row_group(0)
        chunks = {group.column(i).path_in_schema: group.column(i) for i in range(group.num_columns)}
        assert chunks["welfare"].compression == "UNCOMPRESSED"
        assert chunks["desil_national"].compression == "SNAPPY"
        assert "RLE_DICTIONARY" not in chunks["share_below_national"].encodings
        assert not chunks["model_key"].is_stats_set
    # a job that fails while writing leaves the old dataset, and no temporary folder
    marker = tmp_path / "fail"
    failing = dataclasses.replace(
        got, frame=got.frame.map_partitions(_fail_at, str(marker), meta=got.frame._meta)
    )
    marker.write_text("")
    with pytest.raises(RuntimeError, match="job failed"):
        failing.to_parquet(out)
    marker.unlink()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ranked", "rejects"]
    pd.testing.assert_frame_equal(pd.read_parquet(out), back)


class _Interrupted:
    """A result frame whose write is cancelled (Ctrl-C) after a partial first file."""

    def __init__(self, frame: Any) -> None:
        self._meta, self.columns = frame._meta, frame.columns

    def to_parquet(self, path: str, **kwargs: Any) -> None:
        os.mkdir(path)
        with open(os.path.join(path, "part.0.parquet"), "wb") as f:
            f.write(b"PAR1 partial")
        raise KeyboardInterrupt


def test_a_cancelled_write_leaves_nothing(client, tiny_ws, tmp_path):
    got = _distributed(_parts(make_households(30, seed=1), [10]), tiny_ws)
    cancelled = dataclasses.replace(got, frame=_Interrupted(got.frame))
    with pytest.raises(KeyboardInterrupt):
        cancelled.to_parquet(tmp_path / "ranked")
    assert list(tmp_path.iterdir()) == []  # no dataset, no temporary folder


@pytest.mark.parametrize("exchange", [True, False], ids=["exchange", "two renames"])
def test_an_interrupt_as_the_new_dataset_takes_its_name_keeps_the_old_one(
    client, tiny_ws, tmp_path, monkeypatch, exchange
):
    # a folder cannot be renamed onto another: without the atomic exchange (not Linux) the old
    # dataset is moved aside first, and an interrupt before the new one takes its name must
    # not leave the name empty (it left the old dataset hidden in .ranked.pmt-old-*)
    import pmt._folders

    got = _distributed(_parts(make_households(30, seed=1), [10]), tiny_ws)
    out = tmp_path / "ranked"
    got.to_parquet(out)
    before = pd.read_parquet(out)
    if not exchange:
        monkeypatch.setattr(pmt._folders, "_exchange", lambda a, b: False)
    rename = os.rename

    def interrupted(src: Any, dst: Any) -> None:
        if Path(dst) == out and ".pmt-tmp-" in Path(src).name:
            raise KeyboardInterrupt
        rename(src, dst)

    def exchange_interrupted(a: Any, b: Any) -> bool:
        raise KeyboardInterrupt

    monkeypatch.setattr(os, "rename", interrupted)
    if exchange:
        monkeypatch.setattr(pmt._folders, "_exchange", exchange_interrupted)
    with pytest.raises(KeyboardInterrupt):
        dataclasses.replace(got, frame=got.frame.map_partitions(_shifted)).to_parquet(out)
    monkeypatch.undo()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ranked"]
    pd.testing.assert_frame_equal(pd.read_parquet(out), before)


def test_a_folder_that_is_more_than_a_dataset_is_never_replaced(client, tiny_ws, tmp_path):
    got = _distributed(_parts(make_households(30, seed=1), [10]), tiny_ws)
    home = tmp_path / "home"
    (home / "code").mkdir(parents=True)
    (home / "notes.txt").write_text("mine")
    (home / "data.parquet").write_bytes(b"PAR1")
    before = sorted(str(p.relative_to(home)) for p in home.rglob("*"))
    stray = r"more than a Parquet dataset, e\.g\. code/, notes\.txt"
    with pytest.raises(E.OutputPathError, match=stray):
        got.to_parquet(home)
    with pytest.raises(E.OutputPathError, match=r"rejects .*notes\.txt") as caught:
        got.to_parquet(tmp_path / "ranked", rejects=home)
    assert caught.value.argument == "rejects"
    assert sorted(str(p.relative_to(home)) for p in home.rglob("*")) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["home"]  # nothing written
    # a dataset's own files, files readers skip and hive folders are a dataset: replaced
    ds = tmp_path / "ds"
    (ds / "province=11").mkdir(parents=True)
    for name in ("part.0.parquet", "part.9.PQ", "_metadata", "_SUCCESS", ".part.0.parquet.crc"):
        (ds / name).write_bytes(b"")
    (ds / "province=11" / "part.1.parquet").write_bytes(b"")
    got.to_parquet(ds)
    assert len(pd.read_parquet(ds)) == 30


def test_a_link_to_a_dataset_is_followed_and_kept(client, tiny_ws, tmp_path):
    got = _distributed(_parts(make_households(30, seed=1), [10]), tiny_ws)
    real, link = tmp_path / "store" / "ranked", tmp_path / "ranked"
    real.parent.mkdir()
    got.to_parquet(real)
    link.symlink_to(real, target_is_directory=True)
    shifted = dataclasses.replace(got, frame=got.frame.map_partitions(_shifted))
    shifted.to_parquet(link)
    assert link.is_symlink() and os.readlink(link) == str(real)
    pd.testing.assert_frame_equal(
        pd.read_parquet(real), shifted.frame.compute().reset_index(drop=True)
    )
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ranked", "store"]
    assert sorted(p.name for p in real.parent.iterdir()) == ["ranked"]


def _shifted(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.assign(welfare=frame["welfare"] + 1.0)


def _fail_at(frame: pd.DataFrame, marker: str) -> pd.DataFrame:
    """Fail on a partition that holds row 50 while ``marker`` exists."""
    if os.path.exists(marker) and (frame.index == 50).any():
        raise RuntimeError("job failed")
    return frame


def _kill_once(frame: pd.DataFrame, marker: str) -> pd.DataFrame:
    """Kill this worker process the first time any partition gets here (``marker`` absent)."""
    try:
        fd = os.open(marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
    except FileExistsError:
        return frame
    os.close(fd)
    os._exit(1)


def test_a_killed_worker_is_replaced_and_the_result_is_the_same(client, tiny_ws, tmp_path):
    df = make_households(100, seed=12)
    got = _distributed(_parts(df, [25, 50, 75]), tiny_ws)
    marker = str(tmp_path / "killed")
    frame = got.frame.map_partitions(_kill_once, marker, meta=got.frame._meta).compute()
    assert os.path.exists(marker)  # a worker did die
    pd.testing.assert_frame_equal(frame, _memory(df, tiny_ws).to_frame(), check_exact=True)


def test_command_line_on_the_cluster(client, tiny_ws, tmp_path, capsys):
    from pmt.cli import main

    df = make_households(90, seed=14)
    df.loc[5, "floor_material"] = 99
    df.assign(province=df["district_code"] // 100).to_parquet(
        tmp_path / "registry", partition_cols=["province"]
    )
    address = client.scheduler.address
    args = ["rank", str(tmp_path / "registry"), "--weights", str(tiny_ws.path)]
    args += ["--out", str(tmp_path / "ranked"), "--rejects", str(tmp_path / "rejects")]
    assert main([*args, "--engine", "dask", "--scheduler", address]) == 0
    assert "ranked 89 of 90 rows" in capsys.readouterr().out
    ranked = pd.read_parquet(tmp_path / "ranked")
    back = dd.read_parquet(tmp_path / "registry").compute()  # the order the dataset is read in
    expected = _memory(back, tiny_ws, on_invalid="reject").to_frame().reset_index(drop=True)
    pd.testing.assert_frame_equal(ranked, expected, check_exact=True)
    assert pd.read_parquet(tmp_path / "rejects")["rule"].tolist() == ["invalid_code"]
    assert main([*args, "--workers", "2"]) == 2  # --workers without --engine dask: a usage error
    assert "--engine dask" in capsys.readouterr().err
    # an --out folder that is more than a dataset: refused before any work, untouched
    (tmp_path / "ranked" / "notes.txt").write_text("mine")
    listing = sorted(p.name for p in tmp_path.iterdir())
    code = main([*args, "--engine", "dask", "--scheduler", address])
    err = capsys.readouterr().err
    assert code == 2, err  # a usage error
    assert "--out" in err and "notes.txt" in err and "more than a Parquet dataset" in err
    assert sorted(p.name for p in tmp_path.iterdir()) == listing


def test_import_pmt_does_not_import_dask() -> None:
    code = (
        "import sys, pmt\n"
        "assert 'pmt.dask' not in sys.modules and 'dask' not in sys.modules\n"
        "sys.modules['dask'] = None  # as if Dask were not installed\n"
        "try:\n    import pmt.dask\nexcept ImportError as e:\n    print(e)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True)
    assert 'pip install "pmt[dask]"' in out.stdout
