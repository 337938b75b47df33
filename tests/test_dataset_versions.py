"""Datasets and their versions, through the Python API, on a real git + DVC project."""

from __future__ import annotations

import pandas as pd
import pytest
from helpers import git
from hypothesis import given, settings
from hypothesis import strategies as st

from mlops_jupyter import datasets
from mlops_jupyter.errors import MlopsError


def hourly_to(path, rule):
    """Resample the hourly series to a coarser window, as the talk's files did by hand."""
    frame = pd.read_csv(path, parse_dates=["date"], date_format="%Y/%m/%d %H:%M")
    return frame.set_index("date").resample(rule).mean().reset_index()


def test_add_makes_a_tagged_commit_with_only_the_dataset_files(temps, project):
    (project / "notes.txt").write_text("unfinished thoughts")
    git(project, "add", "notes.txt")  # the user's own staged change

    version = datasets.add(temps, message="hourly window")

    assert version.ref == "temps_1h@v1"
    assert (version.rows, version.columns, version.size) == (8759, 2, temps.stat().st_size)
    assert git(project, "tag", "--list") == "temps_1h@v1"
    committed = git(
        project, "diff-tree", "--name-only", "-r", "--no-commit-id", "temps_1h@v1^{commit}"
    )
    assert sorted(committed.splitlines()) == ["data/.gitignore", "data/temps_1h.csv.dvc"]
    # The user's staged file is still staged, and not committed.
    assert git(project, "status", "--porcelain", "notes.txt") == "A  notes.txt"
    assert "hourly window" in git(project, "tag", "-n1", "temps_1h@v1")


def test_versions_number_up_and_list_reads_them_back(temps, project):
    datasets.add(temps, message="hourly window")
    frame = pd.read_csv(temps)
    frame.iloc[::2].to_csv(temps, index=False)
    v2 = datasets.add(temps, message="every other hour")

    assert v2.ref == "temps_1h@v2"
    listing = datasets.versions("temps_1h")
    assert listing["version"].tolist() == ["v1", "v2"]
    assert listing["rows"].tolist() == [8759, 4380]
    assert listing["message"].tolist() == ["hourly window", "every other hour"]
    assert datasets.info("temps_1h").ref == "temps_1h@v2"
    assert datasets.info("temps_1h@latest").ref == "temps_1h@v2"


def test_adding_the_same_data_again_adds_nothing(temps, project):
    v1 = datasets.add(temps)
    again = datasets.add(temps, message="no change")
    assert again.ref == v1.ref
    assert git(project, "tag", "--list") == "temps_1h@v1"
    assert git(project, "status", "--porcelain") == ""


def test_show_has_schema_and_statistics_computed_at_add(temps, project):
    datasets.add(temps)
    stats = datasets.show("temps_1h@v1")

    assert list(stats.index) == ["date", "temp"]
    assert stats.loc["date", "dtype"].startswith("datetime64")
    temp = stats.loc["temp"]
    expected = pd.read_csv(temps)["temp"]
    assert temp["dtype"] == "float64"
    assert (temp["count"], temp["nulls"]) == (8759, 0)
    assert (temp["min"], temp["max"]) == (expected.min(), expected.max())
    assert temp["mean"] == pytest.approx(expected.mean())
    assert temp["distinct"] == expected.nunique()
    top_value, top_count = expected.value_counts().index[0], expected.value_counts().iloc[0]
    assert temp["top"].startswith(f"{top_value} ({top_count})")


def test_load_reads_any_version_without_touching_the_workspace(temps, project):
    datasets.add(temps)
    hourly_to(temps, "3h").to_csv(temps, index=False)
    datasets.add(temps, message="3 hour window")
    workspace_bytes = temps.read_bytes()

    old = datasets.load("temps_1h@v1")
    new = datasets.load("temps_1h@v2")

    assert len(old) == 8759 and len(new) == 2920
    assert str(old["date"].dtype).startswith("datetime64")
    assert temps.read_bytes() == workspace_bytes
    assert git(project, "status", "--porcelain") == ""


def test_a_version_can_be_named_by_git_revision(temps, project):
    datasets.add(temps)
    hourly_to(temps, "1D").to_csv(temps, index=False)
    datasets.add(temps, message="daily")

    by_rev = datasets.load("temps_1h@HEAD~1")
    assert len(by_rev) == 8759
    assert datasets.info("temps_1h@HEAD").ref == "temps_1h@v2"
    with pytest.raises(MlopsError, match="neither a version"):
        datasets.info("temps_1h@no-such-branch")


def test_diff_shows_schema_rows_and_statistics(temps, project):
    datasets.add(temps)
    frame = pd.read_csv(temps)
    frame["temp_c"] = (frame["temp"] - 32) / 1.8
    frame.iloc[:1000].to_csv(temps, index=False)
    datasets.add(temps, message="first 1000 hours, with Celsius")

    d = datasets.diff("temps_1h@v1", "temps_1h@v2")

    assert d.schema_changes == {"added": ["temp_c"], "removed": [], "changed": []}
    rows = d.table.set_index(["column", "statistic"])
    assert (rows.loc[("(dataset)", "rows"), "a"], rows.loc[("(dataset)", "rows"), "b"]) == (
        8759,
        1000,
    )
    assert rows.loc[("(dataset)", "rows"), "status"] == "changed"
    assert rows.loc[("temp", "max"), "status"] == "changed"
    assert rows.loc[("temp", "dtype"), "status"] == "same"
    assert "rows 8,759 -> 1,000 (-7,759)" in d.summary()
    # One reference compares it with the version before it.
    assert datasets.diff("temps_1h").summary() == d.summary()


def test_checkout_puts_an_old_version_back(temps, project):
    original = temps.read_bytes()
    datasets.add(temps)
    hourly_to(temps, "1D").to_csv(temps, index=False)
    datasets.add(temps, message="daily")

    datasets.checkout("temps_1h@v1")
    assert temps.read_bytes() == original

    datasets.checkout("temps_1h@v2")
    assert len(pd.read_csv(temps)) == 365


def test_folders_are_datasets_too(project):
    folder = project / "data" / "stocks"
    folder.mkdir(parents=True)
    from helpers import VEGA_DATA

    stocks = pd.read_csv(VEGA_DATA / "stocks.csv")
    for symbol, part in stocks.groupby("symbol"):
        part.to_parquet(folder / f"{symbol}.parquet", index=False)

    version = datasets.add(folder, name="stocks", message="one file per symbol")

    assert version.files == stocks["symbol"].nunique()
    loaded = datasets.load("stocks")
    assert len(loaded) == len(stocks)
    assert set(loaded["symbol"]) == set(stocks["symbol"])


def test_a_folder_diff_names_files_added_deleted_modified_and_renamed(project):
    images = project / "data" / "images"
    images.mkdir(parents=True)
    for name, content in {"cat.png": b"cat", "dog.png": b"dog", "owl.png": b"owl",
                          "fox.png": b"fox"}.items():  # fmt: skip
        (images / name).write_bytes(content)
    datasets.add(images, name="images")
    (images / "dog.png").unlink()  # deleted
    (images / "emu.png").write_bytes(b"emu!")  # added
    (images / "owl.png").write_bytes(b"owl, sharper")  # modified
    (images / "fox.png").rename(images / "vixen.png")  # renamed: same content
    datasets.add(images, name="images")

    d = datasets.diff("images@v1", "images@v2")

    rows = d.table.set_index("path")
    assert rows["status"].to_dict() == {"emu.png": "added", "dog.png": "deleted",
                                        "owl.png": "modified", "vixen.png": "renamed"}  # fmt: skip
    assert rows.loc["vixen.png", "old_path"] == "fox.png"
    assert (rows.loc["owl.png", "size_a"], rows.loc["owl.png", "size_b"]) == (3, 12)
    assert rows.loc["emu.png", "size_b"] == 4 and pd.isna(rows.loc["emu.png", "size_a"])
    assert d.summary() == "images@v1 -> images@v2: files 1 added, 1 deleted, 1 modified, 1 renamed"
    assert datasets.diff("images").summary() == d.summary()  # the last change
    with pytest.raises(MlopsError, match="images@v1 holds no tables; diff its files without"):
        datasets.diff("images@v1", "images@v2", rows=True)
    unchanged = datasets.diff("images@v2", "images@v2")
    assert unchanged.table.empty and unchanged.counts()["added"] == 0

    # a folder of files that are not tables loads as a read-only path to that version's files,
    # from DVC's cache, the workspace untouched; show counts its files by type
    old = datasets.load("images@v1")
    assert sorted(p.name for p in old.iterdir()) == ["cat.png", "dog.png", "fox.png", "owl.png"]
    assert (old / "owl.png").read_bytes() == b"owl" and not (images / "dog.png").exists()
    assert not (old / "owl.png").stat().st_mode & 0o222  # read-only, as DVC keeps its cache
    assert datasets.load("images@v1") == old  # made once
    # files whose objects left the local cache come from the remote (one transfer)
    datasets.push()
    cache = project / ".dvc" / "cache" / "files" / "md5"
    for obj in [o for o in cache.rglob("*") if o.is_file() and not o.name.endswith(".dir")]:
        obj.unlink()
    new = datasets.load("images@v2")
    assert (new / "emu.png").read_bytes() == b"emu!" and (new / "vixen.png").read_bytes() == b"fox"
    shown = datasets.show("images@v2")
    assert shown.loc[".png", "files"] == 4 and shown.loc[".png", "bytes"] == 3 + 3 + 4 + 12


def test_a_row_diff_names_rows_added_removed_and_changed_cell_by_cell(project):
    path = project / "sensors.csv"
    frame = pd.DataFrame({"id": range(1000), "site": [f"s{i % 7}" for i in range(1000)],
                          "x": [i * 0.5 for i in range(1000)]})  # fmt: skip
    frame.to_csv(path, index=False)
    datasets.add(path, name="sensors")
    edited = frame.drop(index=[10, 20])
    edited.loc[500, "x"] = 1001.0
    edited = pd.concat([edited, pd.DataFrame({"id": [1000], "site": ["s9"], "x": [7.5]})])
    edited.to_csv(path, index=False)
    datasets.add(path, name="sensors")

    d = datasets.diff("sensors@v1", "sensors@v2", rows=True)

    assert d.key == ["id"] and d.key_from == "unique in both versions"
    assert d.summary() == ("sensors@v1 -> sensors@v2: +1 row, -2 rows, 1 row changed in x "
                           "(key: id, unique in both versions)")  # fmt: skip
    changed = d.rows[d.rows["diff_type"] == "changed"].iloc[0]
    assert (changed["id"], changed["from_x"], changed["to_x"]) == (500, 250.0, 1001.0)
    assert changed["from_site"] == changed["to_site"] == "s3"
    assert d.rows[d.rows["diff_type"] == "removed"]["id"].tolist() == [10, 20]
    assert d.rows[d.rows["diff_type"] == "added"][["id", "to_site"]].values.tolist() == [
        [1000, "s9"]]  # fmt: skip

    # the whole row as the key: a changed row is one removed and one added
    whole = datasets.diff("sensors@v1", "sensors@v2", rows=True, key=["id", "site", "x"])
    assert (whole.count("added"), whole.count("removed"), whole.count("changed")) == (2, 3, 0)
    counts = project / "counts.csv"  # no unique column, rows that repeat: the whole row
    for text in ("n\n1\n1\n2\n", "n\n1\n1\n3\n"):
        counts.write_text(text)
        datasets.add(counts, name="counts")
    assert datasets.diff("counts@v1", "counts@v2", rows=True).summary() == (
        "counts@v1 -> counts@v2: +1 row, -1 row, 0 rows changed (key: the whole row)")  # fmt: skip
    # a renamed and a retyped column are named as such
    edited.rename(columns={"site": "station"}).assign(x=edited["x"].astype(str) + "!").to_csv(
        path, index=False
    )
    datasets.add(path, name="sensors")
    renamed = datasets.diff("sensors@v2", "sensors@v3", rows=True, key="id")
    assert renamed.columns["renamed"] == ["site -> station"] and renamed.columns["retyped"] == ["x"]
    assert renamed.count("changed") == len(edited) and renamed.cells == {"site": 0, "x": 999}
    with pytest.raises(MlopsError, match="key site is not unique in sensors@v1 .*--key"):
        datasets.diff("sensors@v1", "sensors@v2", rows=True, key="site")
    with pytest.raises(MlopsError, match="key nope is not a column of both versions"):
        datasets.diff("sensors@v1", "sensors@v2", rows=True, key="nope")
    edited.assign(id=0).to_csv(path, index=False)
    datasets.add(path, name="sensors")
    with pytest.raises(MlopsError, match=r"key id is not unique in sensors@v4 \(998 rows repeat"):
        datasets.diff("sensors@v1", "sensors@v4", rows=True, key="id")


def test_parquet_and_json_lines_are_tables(project):
    frame = pd.DataFrame({"city": ["Seoul", "Busan", None], "n": [1, 2, 3]})
    frame.to_parquet(project / "cities.parquet", index=False)
    frame.to_json(project / "cities.jsonl", orient="records", lines=True)

    pq = datasets.add(project / "cities.parquet", name="cities_pq")
    js = datasets.add(project / "cities.jsonl", name="cities_js")

    assert (pq.rows, js.rows) == (3, 3)
    stats = datasets.show("cities_js")
    assert (stats.loc["city", "nulls"], stats.loc["n", "max"]) == (1, 3)
    pd.testing.assert_frame_equal(datasets.load("cities_pq"), datasets.load("cities_js"))


def test_a_column_whose_type_changes_late_in_a_large_file(project):
    # Arrow infers types from the first block; the file is read whole when a later block disagrees.
    path = project / "readings.csv"
    rows = [f"{i},{i % 7}" for i in range(300_000)] + ["300000,unknown"]
    path.write_text("id,code\n" + "\n".join(rows) + "\n")

    version = datasets.add(path)

    assert version.rows == 300_001
    stats = datasets.show("readings")
    assert stats.loc["code", "dtype"] in ("str", "object")
    assert datasets.load("readings")["code"].iloc[-1] == "unknown"


@st.composite
def two_versions(draw):
    """A table keyed by ascending ids (with empty cells), and an edit of it: rows removed,
    rows added between and after, cells changed, emptied or filled."""
    n = draw(st.integers(0, 40))
    ids = sorted(draw(st.sets(st.integers(-50, 500), min_size=n, max_size=n)))
    cell = st.one_of(st.none(), st.integers(0, 3))
    site = st.one_of(st.none(), st.sampled_from(["a", "b", "é"]))
    a = {i: (draw(cell), draw(site)) for i in ids}
    b = {i: row for i, row in a.items() if not draw(st.booleans()) or draw(st.booleans())}
    for i in list(b):
        if draw(st.integers(0, 4)) == 0:
            b[i] = (draw(cell), draw(site))
    for i in draw(st.sets(st.integers(-60, 520), max_size=8)):
        b.setdefault(i, (draw(cell), draw(site)))
    return a, dict(sorted(b.items()))


@settings(max_examples=80, deadline=None)
@given(versions=two_versions(), chunk=st.integers(1, 9), group=st.integers(1, 7))
def test_a_streamed_row_diff_finds_what_comparing_every_row_finds(tmp_path_factory, versions,
                                                                   chunk, group):  # fmt: skip
    import pyarrow as pa
    import pyarrow.parquet as parquet

    from mlops_jupyter.datasets import rowdiff
    from mlops_jupyter.datasets.catalog import Version

    folder = tmp_path_factory.mktemp("rowdiff")
    paths = []
    for number, rows in enumerate(versions, 1):
        table = pa.table({"id": pa.array(list(rows), pa.int64()),
                          "x": pa.array([r[0] for r in rows.values()], pa.int64()),
                          "site": pa.array([r[1] for r in rows.values()], pa.string())})  # fmt: skip
        paths.append(folder / f"v{number}.parquet")
        parquet.write_table(table, paths[-1], row_group_size=group)
    a, b = versions
    va, vb = (Version("t", n, "", "", "t.parquet", "") for n in (1, 2))

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(rowdiff, "CHUNK_ROWS", chunk)  # chunks across row groups
        d = rowdiff.compute(va, vb, *paths, ["id"], ({}, {}))

    kinds = d.rows.groupby("diff_type")["id"].apply(list).to_dict()
    assert kinds.get("removed", []) == [i for i in a if i not in b]
    assert kinds.get("added", []) == [i for i in b if i not in a]
    assert kinds.get("changed", []) == [i for i in b if i in a and a[i] != b[i]]
    for _, row in d.rows[d.rows["diff_type"] == "changed"].iterrows():
        shown = [None if pd.isna(v) else v for v in
                 (row["from_x"], row["from_site"], row["to_x"], row["to_site"])]  # fmt: skip
        assert shown == [*a[row["id"]], *b[row["id"]]]
    assert d.cells == {"x": sum(a[i][0] != b[i][0] for i in b if i in a),
                       "site": sum(a[i][1] != b[i][1] for i in b if i in a)}  # fmt: skip
