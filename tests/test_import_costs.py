"""Imports made cheap: skops's trusted-type lists kept per environment (the same lists, and no
type trusted more), rfc3987-syntax's grammars built on first use (and still checking)."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys

import pytest

from mlops_jupyter import import_costs

LISTS = """import json, skops.io._trusted_types as t
print(json.dumps({k: v for k, v in vars(t).items() if k.endswith("_TYPE_NAMES")}))"""


@pytest.fixture(scope="module")
def skops_own_lists():
    """The lists as skops makes them, in a process that never imports mlops_jupyter."""
    out = subprocess.run([sys.executable, "-c", LISTS], capture_output=True, text=True, check=True)
    return json.loads(out.stdout)


def imported(finder):
    """Import skops's trusted types through ``finder`` (as ``import`` does: in its package's
    path): the lists, and the loader they came from."""
    import skops.io

    spec = finder.find_spec(import_costs.SKOPS_TYPES, skops.io.__path__)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    lists = {k: v for k, v in vars(module).items() if k.endswith("_TYPE_NAMES")}
    return lists, type(spec.loader).__name__


def test_the_kept_lists_are_skops_own(skops_own_lists, tmp_path, monkeypatch):
    import skops.io  # noqa: F401 - this process's own first import: before the cache moves

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    finder = import_costs._Finder()
    cache = import_costs.cache_file()
    assert cache.parent == tmp_path / "mlops-jupyter" and "scikit-learn" in cache.name

    lists, how = imported(finder)  # the first process: skops's own import, then kept
    assert how == "_Storing" and lists == skops_own_lists
    assert json.loads(cache.read_text()) == skops_own_lists
    assert len(skops_own_lists["SKLEARN_ESTIMATOR_TYPE_NAMES"]) > 100

    lists, how = imported(finder)  # the next ones: read back
    assert how == "_Stored" and lists == skops_own_lists

    for broken in ("{not json", json.dumps({"NUMPY_UFUNC_TYPE_NAMES": []}), '{"A": [1]}'):
        cache.write_text(broken)  # damaged or partial: skops's own import again, kept again
        lists, how = imported(finder)
        assert how == "_Storing" and lists == skops_own_lists
        assert json.loads(cache.read_text()) == skops_own_lists


def test_skops_still_refuses_what_it_does_not_trust():
    import skops.io
    from sklearn.linear_model import LogisticRegression

    model = LogisticRegression().fit([[0.0], [1.0]], [0, 1])
    assert skops.io.get_untrusted_types(data=skops.io.dumps(model)) == []
    assert skops.io.loads(skops.io.dumps(model)).predict([[1.0]]).tolist() == [1]
    untrusted = skops.io.get_untrusted_types(data=skops.io.dumps(subprocess.CompletedProcess))
    assert untrusted == ["subprocess.CompletedProcess"]


CHECKS = """import json, sys, time
t = time.perf_counter()
import mlops_jupyter, jsonschema
took = time.perf_counter() - t
built = "rfc3987_syntax.syntax_helpers" in sys.modules
checker = jsonschema.Draft7Validator.FORMAT_CHECKER
checks = [checker.conforms(v, "iri") for v in ("https://example.org/ä?q=1", "http://[bad", 5)]
print(json.dumps([took, built, checks, "rfc3987_syntax.syntax_helpers" in sys.modules]))"""


def test_the_iri_grammars_are_built_when_first_used():
    out = subprocess.run([sys.executable, "-c", CHECKS], capture_output=True, text=True, check=True)
    took, built_at_import, checks, built_when_used = json.loads(out.stdout)
    assert took < 2.0 and not built_at_import  # building them took 3 s here
    assert checks == [True, False, True] and built_when_used  # an int is no string to check


def test_an_unwritable_cache_costs_only_speed(skops_own_lists, tmp_path, monkeypatch):
    import skops.io  # noqa: F401 - this process's own first import: before the cache moves

    blocked = tmp_path / "a-file"
    blocked.write_text("not a folder")
    monkeypatch.setenv("XDG_CACHE_HOME", str(blocked))  # mkdir under it fails
    for _ in range(2):  # skops's own import each time, nothing kept, nothing raised
        lists, how = imported(import_costs._Finder())
        assert how == "_Storing" and lists == skops_own_lists
    assert blocked.read_text() == "not a folder"
