"""skops's trusted-type lists, kept per environment: the same lists, and no type trusted more."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys

import pytest

from mlops_jupyter import skops_types

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

    spec = finder.find_spec(skops_types.MODULE, skops.io.__path__)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    lists = {k: v for k, v in vars(module).items() if k.endswith("_TYPE_NAMES")}
    return lists, type(spec.loader).__name__


def test_the_kept_lists_are_skops_own(skops_own_lists, tmp_path, monkeypatch):
    import skops.io  # noqa: F401 - this process's own first import: before the cache moves

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    finder = skops_types._Finder()
    cache = skops_types.cache_file()
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
