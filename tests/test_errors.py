"""One exception tree: what the package raises to a user is a `SnowloadError`, bad arguments
stay ValueError/TypeError, and `raise_for_status()` turns a failed load into `LoadFailed`."""

from __future__ import annotations

import inspect
import threading

import pandas as pd
import pytest
from conftest import Interceptor

import snowload_nb as sl
from snowload_nb import errors
from snowload_nb.demo import write_csv

PUBLIC_ERRORS = [
    sl.SnowloadError,
    sl.LoadError,
    sl.ConnectionInUse,
    sl.FrameError,
    sl.EmbeddedServerError,
    sl.FolderInUse,
    sl.LoadFailed,
]


@pytest.fixture
def good(tmp_path):
    return write_csv(tmp_path / "good.csv", 0, 1, 200)


def test_raise_for_status_on_a_failed_file_raises_load_failed_listing_it(conn, table, tmp_path, good):
    missing = tmp_path / "missing.csv"
    result = sl.Loader(conn, table, progress="none").load([str(good.path), str(missing)])

    with pytest.raises(sl.LoadFailed) as failed:
        result.raise_for_status()

    assert failed.value.result is result
    assert [(f.path, f.status) for f in failed.value.failed] == [(str(missing), "failed")]
    assert str(missing) in str(failed.value) and "no such file" in str(failed.value)
    assert isinstance(failed.value, sl.SnowloadError)


def test_raise_for_status_returns_the_result_when_all_loaded_or_already_loaded(conn, table, good):
    loader = sl.Loader(conn, table, progress="none")
    loaded = loader.load([str(good.path)])
    assert loaded.raise_for_status() is loaded

    again = loader.load([str(good.path)])
    assert again.files[0].status is sl.FileStatus.ALREADY_LOADED
    assert again.raise_for_status() is again


def test_file_status_is_a_str_enum_worded_one_way(conn, table, good):
    result = sl.Loader(conn, table, progress="none").load([str(good.path)])
    again = sl.Loader(conn, table, progress="none").load([str(good.path)])

    assert result.files[0].status == "loaded" and isinstance(result.files[0].status, str)
    assert again.files[0].status == "skipped" and again.files[0].status.word == "already loaded"
    assert "already loaded" in again.summary() and "skipped" not in again.summary()
    assert "already loaded" in again._repr_html_() and "skipped" not in again._repr_html_()
    assert again.to_dict()["files"][0]["status"] == "skipped"  # JSON keeps the stable name
    assert result.files[0].source_bytes == result.files[0].bytes == good.path.stat().st_size


def test_the_exported_errors_share_one_base_and_the_internal_ones_are_not_exported():
    for cls in PUBLIC_ERRORS:
        assert issubclass(cls, sl.SnowloadError), cls
        assert cls.__name__ in sl.__all__
    assert issubclass(sl.FrameError, ValueError)  # as before the tree existed
    internal = [c for _, c in inspect.getmembers(errors, inspect.isclass) if issubclass(c, BaseException) and c.__doc__]
    for cls in internal:
        if cls.__doc__.startswith("Internal:"):
            assert cls.__name__ not in sl.__all__, cls
            assert not issubclass(cls, sl.SnowloadError), cls
        else:
            assert issubclass(cls, sl.SnowloadError), cls


def test_every_documented_error_of_the_public_api_is_a_snowload_error(conn, table, tmp_path, good):
    """Walk what a user meets: a missing table, a busy connection, a bad frame, a server that
    cannot start, a failed load. Each is caught by `except sl.SnowloadError`."""
    raised: list[BaseException] = []

    def catch(call) -> None:
        try:
            call()
        except sl.SnowloadError as exc:
            raised.append(exc)
        else:
            pytest.fail(f"{call} raised nothing")

    catch(lambda: sl.Loader(conn, "NO_SUCH_TABLE", progress="none").load([str(good.path)]))
    catch(lambda: sl.Loader(conn, "NO_SUCH_TABLE", progress="none").start([str(good.path)]))
    catch(lambda: sl.Loader(conn, table, progress="none").load_dataframe(pd.DataFrame()))
    catch(lambda: sl.Loader(conn, table, progress="none").start_dataframe(pd.DataFrame({"A": [1], "a": [2]})))
    a_file = tmp_path / "not-a-folder"
    a_file.write_text("")
    catch(lambda: sl.connect_local(db_path=a_file))
    catch(lambda: sl.Loader(conn, table, progress="none").load([str(tmp_path / "gone.csv")]).raise_for_status())

    reached, release = threading.Event(), threading.Event()

    def hold(statement: str) -> None:
        if statement.split()[0].upper() == "PUT":
            reached.set()
            release.wait(120)

    job = sl.Loader(conn, table, progress="none", connect=Interceptor(hold)).start([str(good.path)])
    try:
        assert reached.wait(120)
        catch(lambda: sl.Loader(conn, table, progress="none").load([str(good.path)]))
    finally:
        release.set()
    assert job.result(timeout=120).ok

    kinds = [type(e) for e in raised]
    assert kinds == [
        sl.LoadError,
        sl.LoadError,
        sl.FrameError,
        sl.FrameError,
        sl.EmbeddedServerError,
        sl.LoadFailed,
        sl.ConnectionInUse,
    ]


def test_bad_arguments_stay_value_and_type_errors(conn, table):
    with pytest.raises(ValueError) as bad_value:
        sl.Loader(conn, table, workers=0)
    with pytest.raises(TypeError) as bad_type:
        sl.Loader(conn, table, progress="none").load(42)
    with pytest.raises(ValueError) as bad_chunks:
        sl.Loader(conn, table, progress="none").start_dataframe(pd.DataFrame({"A": [1]}), chunk_rows=0)
    for exc in (bad_value.value, bad_type.value, bad_chunks.value):
        assert not isinstance(exc, sl.SnowloadError)
