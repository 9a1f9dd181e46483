"""Chunked ranking of Parquet files: bit-identical to the in-memory path, any chunk size."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from conftest import make_households
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import pmt
from pmt import errors as E
from pmt.io import rank_file
from pmt.io.stream import _chunks


def _in_memory(df: pd.DataFrame, ws, **kw) -> pd.DataFrame:
    return pmt.rank(df, ws, **kw).to_frame().reset_index(drop=True)


@pytest.fixture(scope="module")
def registry_file(tmp_path_factory: pytest.TempPathFactory) -> tuple[pd.DataFrame, Path]:
    df = make_households(400, seed=21)
    path = tmp_path_factory.mktemp("stream") / "hh.parquet"
    df.to_parquet(path, row_group_size=37)  # row groups that straddle the chunks
    return df, path


@settings(
    max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(chunk=st.integers(1, 450), cutoffs=st.sampled_from(["registry", "reference"]))
def test_any_chunk_size_gives_the_in_memory_result(
    registry_file, tiny_ws_ref, tmp_path, chunk, cutoffs
):
    df, path = registry_file
    out = tmp_path / f"out_{chunk}_{cutoffs}.parquet"
    res = rank_file(path, tiny_ws_ref, out, chunk_size=chunk, cutoffs=cutoffs)
    expected = _in_memory(df, tiny_ws_ref, cutoffs=cutoffs)
    pd.testing.assert_frame_equal(pd.read_parquet(out), expected, check_exact=True)
    assert res.n_households == len(df) and res.n_rejected == 0
    np.testing.assert_array_equal(res.rows, np.arange(len(df)))


#: row groups of uneven sizes, an empty one among them
GROUPS = [10, 50, 3, 0, 200, 7, 41]


def _grouped_file(path: Path, table: pa.Table) -> None:
    with pq.ParquetWriter(path, table.schema) as writer:
        lo = 0
        for size in GROUPS:
            writer.write_table(table.slice(lo, size))
            lo += size


@pytest.mark.parametrize("chunk", [1, 6, 7, 10, 49, 50, 53, 64, 300, 1000])
def test_chunks_cover_the_file_in_order_within_the_chunk_size(tmp_path, chunk):
    # every branch of _chunks: row groups gathered, read whole and cut, read batch by batch
    n = sum(GROUPS)
    table = pa.table({"a": np.arange(n), "b": np.arange(n) * 0.5, "c": np.arange(n) % 7})
    path = tmp_path / "groups.parquet"
    _grouped_file(path, table)
    source = pq.ParquetFile(path)
    assert [source.metadata.row_group(i).num_rows for i in range(len(GROUPS))] == GROUPS
    chunks = list(_chunks(source, ["c", "a"], chunk))
    assert all(0 < t.num_rows <= chunk for t in chunks)
    assert pa.concat_tables(chunks).equals(table.select(["c", "a"]))
    # no more chunks than reading chunk rows at a time from each row group needs
    assert len(chunks) <= sum(-(-g // chunk) for g in GROUPS)


@pytest.mark.parametrize("chunk", [4, 30, 64, 500])
def test_uneven_row_groups_give_the_in_memory_result(tiny_ws_ref, tmp_path, chunk):
    df = make_households(sum(GROUPS), seed=8)
    path = tmp_path / "hh.parquet"
    _grouped_file(path, pa.Table.from_pandas(df, preserve_index=False))
    out = tmp_path / "out.parquet"
    rank_file(path, tiny_ws_ref, out, chunk_size=chunk)
    pd.testing.assert_frame_equal(
        pd.read_parquet(out), _in_memory(df, tiny_ws_ref), check_exact=True
    )


def test_rejects_and_duplicate_ids_across_chunks(tiny_ws, tmp_path):
    df = make_households(300, seed=5)
    df["hh_size"] = df["hh_size"].astype("float64")
    df.loc[[3, 150], "hh_size"] = np.nan
    df.loc[40, "floor_material"] = 99
    df.loc[250, "hh_id"] = df.loc[10, "hh_id"]  # same id in different chunks
    df.to_parquet(tmp_path / "hh.parquet")
    expected = pmt.rank(df, tiny_ws, on_invalid="reject")
    res = rank_file(
        tmp_path / "hh.parquet",
        tiny_ws,
        tmp_path / "out.parquet",
        chunk_size=64,
        on_invalid="reject",
        rejects=tmp_path / "rejects.parquet",
    )
    got = pd.read_parquet(tmp_path / "out.parquet")
    pd.testing.assert_frame_equal(got, expected.to_frame().reset_index(drop=True), check_exact=True)
    rejects = pd.read_parquet(tmp_path / "rejects.parquet")
    assert rejects["row"].tolist() == [3, 10, 40, 150, 250]
    assert rejects["rule"].tolist() == [
        "missing_or_infinite",
        "duplicate_id",
        "invalid_code",
        "missing_or_infinite",
        "duplicate_id",
    ]
    assert rejects["row"].tolist() == expected.rejects["row"].tolist()
    assert rejects["rule"].tolist() == expected.rejects["rule"].tolist()
    assert res.n_households + res.n_rejected == len(df)


def test_errors_report_positions_in_the_file(tiny_ws, tmp_path):
    df = make_households(200, seed=8)
    df.loc[130, "floor_material"] = 0
    df.to_parquet(tmp_path / "hh.parquet")
    with pytest.raises(E.InvalidCodeError) as info:
        rank_file(tmp_path / "hh.parquet", tiny_ws, tmp_path / "o.parquet", chunk_size=50)
    assert info.value.rows == (130,) and "row 130 (0)" in str(info.value)
    assert "the 50 rows from row 100" in str(info.value)
    # in the first chunk too, the error says it counted a part of the file, not all of it
    df.loc[[7, 130], "floor_material"] = [0, 1]
    df.loc[180, "floor_material"] = 0
    df.to_parquet(tmp_path / "hh.parquet")
    with pytest.raises(E.InvalidCodeError, match="1 of the 50 rows from row 0 break it"):
        rank_file(tmp_path / "hh.parquet", tiny_ws, tmp_path / "o.parquet", chunk_size=50)


def test_duplicate_ids_across_chunks_raise(tiny_ws, tmp_path):
    df = make_households(100, seed=2)
    df.loc[90, "hh_id"] = df.loc[1, "hh_id"]
    df.to_parquet(tmp_path / "hh.parquet")
    with pytest.raises(E.DuplicateIdError) as info:
        rank_file(tmp_path / "hh.parquet", tiny_ws, tmp_path / "o.parquet", chunk_size=30)
    assert info.value.rows == (1, 90)
    assert str(df.loc[1, "hh_id"]) not in str(info.value).replace("rows 1, 90", "")


def test_bad_files_and_options(tiny_ws, tmp_path):
    df = make_households(20, seed=1)
    df.iloc[:0].to_parquet(tmp_path / "empty.parquet")
    with pytest.raises(E.EmptyInputError):
        rank_file(tmp_path / "empty.parquet", tiny_ws, tmp_path / "o.parquet")
    df.drop(columns="roof_material").to_parquet(tmp_path / "missing.parquet")
    with pytest.raises(E.MissingColumnError, match="roof_material"):
        rank_file(tmp_path / "missing.parquet", tiny_ws, tmp_path / "o.parquet")
    df.to_parquet(tmp_path / "ok.parquet")
    with pytest.raises(ValueError, match="chunk_size"):
        rank_file(tmp_path / "ok.parquet", tiny_ws, tmp_path / "o.parquet", chunk_size=0)
    with pytest.raises(ValueError, match="rejects=PATH"):
        rank_file(tmp_path / "ok.parquet", tiny_ws, tmp_path / "o.parquet", on_invalid="reject")


def test_parquet_results_are_written_with_pmts_settings(registry_file, tiny_ws_ref, tmp_path):
    """Parquet results carry pmt's encodings; streamed and in-memory files read back the same.

    Dictionary encoding where values repeat, none for ids and all-distinct
    columns; all-distinct columns uncompressed, the others snappy; no
    statistics on the label columns; every column required (no missing value).
    """
    import pyarrow.parquet as pq

    df, path = registry_file
    streamed, in_memory = tmp_path / "streamed.parquet", tmp_path / "memory.parquet"
    distinct = {"welfare", "rank_national", "rank_provincial"}
    distinct |= {"share_below_national", "share_below_provincial"}
    rank_file(path, tiny_ws_ref, streamed, chunk_size=150, cutoffs="reference")
    pmt.rank(df, tiny_ws_ref, cutoffs="reference").to_parquet(in_memory)
    for out, id_dictionary in ((streamed, False), (in_memory, True)):
        meta = pq.ParquetFile(out).metadata
        for g in range(meta.num_row_groups):
            group = meta.row_group(g)
            chunks = {group.column(i).path_in_schema: group.column(i) for i in range(13)}
            for name, chunk in chunks.items():
                dictionary = "RLE_DICTIONARY" in chunk.encodings
                if name in distinct:
                    assert not dictionary, name
                elif name == "hh_id":  # the streamed writer knows which column is the id
                    assert dictionary == id_dictionary
                elif name == "eligible":  # Parquet never dictionary-encodes booleans
                    assert not dictionary
                else:
                    assert dictionary, name
                assert chunk.is_stats_set == (name not in ("model_key", "model_level")), name
                assert chunk.compression == ("UNCOMPRESSED" if name in distinct else "SNAPPY")
        schema = pq.read_schema(out)
        assert len(schema) == 13 and not any(f.nullable for f in schema), schema
    pd.testing.assert_frame_equal(
        pd.read_parquet(streamed), pd.read_parquet(in_memory), check_exact=True
    )


def test_parquet_columns_with_missing_values_stay_optional(tmp_path):
    """Only columns without a missing value are written required; the values read back."""
    import pyarrow.parquet as pq

    frame = pd.DataFrame(
        {"full": [1.5, 2.5, 3.5], "gaps": [1.0, None, 3.0], "text": ["a", None, "c"]}
    )
    frame["none"] = None
    pmt.io.write_table(frame, tmp_path / "t.parquet")
    schema = pq.read_schema(tmp_path / "t.parquet")
    assert [f.nullable for f in schema] == [False, True, True, True]
    pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / "t.parquet"), frame)


def _late_rejects(df: pd.DataFrame) -> pd.DataFrame:
    df.loc[[430, 431], "floor_material"] = 99  # only the last chunks set rows aside
    return df


def _first_chunk_rejected(df: pd.DataFrame) -> pd.DataFrame:
    df.loc[:99, "floor_material"] = 99
    return df


def _big_unsigned_ids(df: pd.DataFrame) -> pd.DataFrame:
    df["hh_id"] = np.arange(len(df), dtype=np.uint64)[::-1] + np.uint64(2**63 + 7)
    df.loc[300, "hh_id"] = df.loc[2, "hh_id"]
    return df


def _text_ids(df: pd.DataFrame) -> pd.DataFrame:
    df["hh_id"] = [f"{i:016d}" for i in range(len(df))]
    df.loc[499, "hh_id"] = df.loc[0, "hh_id"]
    return df


@pytest.mark.parametrize(
    "change", [_late_rejects, _first_chunk_rejected, _big_unsigned_ids, _text_ids]
)
def test_rows_and_ids_kept_by_the_file_path_match_memory(change, tiny_ws_ref, tmp_path):
    """The file path's rows, ids and rejects are those of pmt.rank, whatever is set aside.

    Row positions are made only once a row is set aside, and ids of every kind
    are checked across chunks.
    """
    df = change(make_households(500, seed=4))
    df.to_parquet(tmp_path / "hh.parquet")
    out, rejects = tmp_path / "out.parquet", tmp_path / "rejects.parquet"
    res = rank_file(
        tmp_path / "hh.parquet",
        tiny_ws_ref,
        out,
        chunk_size=100,
        cutoffs="reference",
        on_invalid="reject",
        rejects=rejects,
    )
    mem = pmt.rank(df, tiny_ws_ref, cutoffs="reference", on_invalid="reject")
    expected = mem.to_frame().reset_index(drop=True)
    pd.testing.assert_frame_equal(pd.read_parquet(out), expected, check_exact=True)
    np.testing.assert_array_equal(res.rows, mem.rows)
    assert res.index.tolist() == mem.index.tolist()
    got = pd.read_parquet(rejects)
    assert got["row"].tolist() == mem.rejects["row"].tolist()
    assert got["rule"].tolist() == mem.rejects["rule"].tolist()
    assert got["hh_id"].tolist() == mem.rejects["hh_id"].tolist()
    assert res.n_rejected == mem.n_rejected > 0


def _edge_repeat(df: pd.DataFrame) -> pd.DataFrame:  # last id of one chunk first of the next
    df.loc[100, "hh_id"] = df.loc[99, "hh_id"]
    return df


def _neighbours(df: pd.DataFrame) -> pd.DataFrame:  # equal neighbours inside a chunk
    df.loc[151, "hh_id"] = df.loc[150, "hh_id"]
    return df


def _descending_start(df: pd.DataFrame) -> pd.DataFrame:  # not ascending from the first chunk
    df["hh_id"] = df["hh_id"].to_numpy()[::-1]
    df.loc[480, "hh_id"] = df.loc[5, "hh_id"]
    return df


def _repeat_of_a_rejected_row(df: pd.DataFrame) -> pd.DataFrame:
    """A later row repeats the id of a row set aside earlier: not a duplicate (memory's rule)."""
    df.loc[30, "hh_size"] = 0
    df.loc[420, "hh_id"] = df.loc[30, "hh_id"]
    df.loc[421, "hh_id"] = df.loc[31, "hh_id"]  # and a true repeat, found after the re-read
    return df


@pytest.mark.parametrize(
    "change",
    [lambda df: df, _edge_repeat, _neighbours, _descending_start, _repeat_of_a_rejected_row],
)
@pytest.mark.parametrize("unsigned", [False, True])
def test_ascending_ids_are_checked_without_holding_them(change, unsigned, tiny_ws_ref, tmp_path):
    """Integer ids in ascending order are checked chunk by chunk; any other order as before.

    Pass 1 remembers only the last id while the ids ascend, and reads the
    earlier ones again from the file at the first chunk where they do not:
    the duplicates found, and so the rejects and the result, are the memory
    path's in every case.
    """
    df = make_households(500, seed=6)
    if unsigned:
        df["hh_id"] = df["hh_id"].astype(np.uint64) + np.uint64(2**63)
    df = change(df)
    df["hh_size"] = df["hh_size"].astype("float64")
    df.to_parquet(tmp_path / "hh.parquet")
    out, rejects = tmp_path / "out.parquet", tmp_path / "rejects.parquet"
    kw = {"cutoffs": "reference", "on_invalid": "reject"}
    res = rank_file(
        tmp_path / "hh.parquet", tiny_ws_ref, out, chunk_size=100, rejects=rejects, **kw
    )
    mem = pmt.rank(df, tiny_ws_ref, **kw)
    pd.testing.assert_frame_equal(
        pd.read_parquet(out), mem.to_frame().reset_index(drop=True), check_exact=True
    )
    got = pd.read_parquet(rejects)
    assert got["row"].tolist() == mem.rejects["row"].tolist()
    assert got["rule"].tolist() == mem.rejects["rule"].tolist()
    assert got["hh_id"].tolist() == mem.rejects["hh_id"].tolist()  # uint64 ids past int64 too
    np.testing.assert_array_equal(res.rows, mem.rows)
    if mem.n_rejected:  # raise mode names the same rows
        with pytest.raises(E.InputError) as file_error:
            rank_file(tmp_path / "hh.parquet", tiny_ws_ref, tmp_path / "o.parquet", chunk_size=100)
        with pytest.raises(E.InputError) as memory_error:
            pmt.rank(df, tiny_ws_ref)
        assert type(file_error.value) is type(memory_error.value)
        assert file_error.value.rows == memory_error.value.rows


def test_encoding_into_a_workspace_gives_what_new_arrays_give(tiny_ws):
    """The file path encodes every chunk into the same buffers: each chunk as if alone.

    A larger chunk, a smaller one with a rejected row, then the larger again:
    the codes and numeric terms equal a plain encode's, and a later call
    overwrites the buffers an earlier result holds (as documented).
    """
    from pmt.encode import encode
    from pmt.ranker import Workspace

    space = Workspace()
    big = make_households(500, seed=3)
    small = make_households(120, seed=4)
    small.loc[7, "hh_size"] = 0  # set aside: the kept rows are copied out of the buffers
    held = None
    for frame in (big, small, big):
        want = encode(frame, tiny_ws, on_invalid="reject")
        got = encode(frame, tiny_ws, on_invalid="reject", workspace=space)
        np.testing.assert_array_equal(got.codes, want.codes)
        np.testing.assert_array_equal(got.numeric, want.numeric)
        np.testing.assert_array_equal(got.person_weight, want.person_weight)
        assert got.codes.flags.f_contiguous and got.numeric.flags.f_contiguous
        np.testing.assert_array_equal(got.rows, want.rows)
        if held is None:
            held = got
    assert held is not None and np.shares_memory(held.numeric, space.take("numeric", 1, np.float64))


def test_writeback_asks_from_where_the_call_before_began(tmp_path, monkeypatch):
    import os

    from pmt.io.stream import _Writeback

    if not hasattr(os, "posix_fadvise"):
        pytest.skip("no posix_fadvise here")
    calls: list[tuple[int, int]] = []
    monkeypatch.setattr(os, "posix_fadvise", lambda fd, off, n, advice: calls.append((off, n)))
    path = tmp_path / "out.bin"
    flush = _Writeback(path)
    with open(path, "wb") as f:
        for size in (1000, 0, 4096, 7):
            f.write(b"x" * size)
            f.flush()
            flush()
    flush.close()
    # each call: the chunk before (on disk by now: dropped) and the new bytes (written back)
    assert calls == [(0, 0), (0, 0), (1000, 0), (1000, 0)]
