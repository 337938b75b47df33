"""Runs named the way people refer to them: a short id, a run name, ``M@alias``, ``M/3``."""

from __future__ import annotations

import re
from typing import Any

from ..errors import MlopsError, NotFoundError, close_matches

_HEX = re.compile(r"^[0-9a-f]{4,32}$")
_MODEL_VERSION = re.compile(r"^(?P<model>[^@/]+)/(?P<version>\d+)$")


def experiment_ids(client: Any) -> list[str]:
    return [str(e.experiment_id) for e in client.search_experiments(max_results=1000)]


def find_run(client: Any, ref: str) -> Any:
    """The MLflow ``Run`` that ``ref`` names; :class:`NotFoundError` with close matches if none.

    ``ref`` is a run id or a unique prefix of one (``3f2a9c1e``), a run name (the newest run of
    that name), ``runs:/<id>[/path]``, ``MODEL@alias`` or ``MODEL/VERSION``.
    """
    ref = ref.strip()
    if ref.startswith("runs:/"):
        ref = ref.removeprefix("runs:/").split("/", 1)[0]
    if "@" in ref or _MODEL_VERSION.match(ref):
        return client.get_run(model_version(client, ref).run_id)
    ids = experiment_ids(client)
    if _HEX.match(ref):
        found = client.search_runs(ids, f"attributes.run_id LIKE '{ref}%'", max_results=3)
        if len(found) == 1:
            return found[0]
        if len(found) > 1:
            raise MlopsError(f"run id prefix {ref!r} is ambiguous; give more characters")
    quoted = ref.replace("'", "\\'")
    found = client.search_runs(
        ids, f"attributes.run_name = '{quoted}'", max_results=1, order_by=["start_time DESC"]
    )
    if found:
        return found[0]
    recent = client.search_runs(ids, max_results=200, order_by=["start_time DESC"])
    names = list(dict.fromkeys(r.info.run_name for r in recent))
    raise NotFoundError(f"no run {ref!r}; {close_matches(ref, names)}")


def find_runs(client: Any, refs: list[str]) -> list[Any]:
    """The runs ``refs`` name, in their order: whole run ids in one search per hundred (a compare
    of hundreds of runs is a few queries), anything else as :func:`find_run` does."""
    whole = sorted({r.strip() for r in refs if re.match(r"^[0-9a-f]{32}$", r.strip())})
    found: dict[str, Any] = {}
    ids = experiment_ids(client) if whole else []
    for start in range(0, len(whole), 100):
        listed = ", ".join(f"'{r}'" for r in whole[start : start + 100])
        page = client.search_runs(ids, f"attributes.run_id IN ({listed})", max_results=100)
        found.update({run.info.run_id: run for run in page})
    return [found.get(r.strip()) or find_run(client, r) for r in refs]


def model_version(client: Any, ref: str) -> Any:
    """The ``ModelVersion`` that ``MODEL@alias``, ``MODEL/3`` or ``MODEL`` (latest) names."""
    from mlflow.exceptions import MlflowException

    model, alias, version = _split_model(ref)
    try:
        client.get_registered_model(model)
    except MlflowException:
        names = [m.name for m in client.search_registered_models(max_results=1000)]
        raise NotFoundError(
            f"no registered model {model!r}; {close_matches(model, names)}"
        ) from None
    if alias is not None:
        try:
            return client.get_model_version_by_alias(model, alias)
        except MlflowException:
            aliases = sorted(client.get_registered_model(model).aliases)
            raise NotFoundError(
                f"model {model!r} has no alias {alias!r}; {close_matches(alias, aliases)}"
            ) from None
    if version is not None:
        try:
            return client.get_model_version(model, version)
        except MlflowException:
            known = [f"{model}/{v.version}" for v in versions(client, model)]
            raise NotFoundError(
                f"model {model!r} has no version {version}; {close_matches(ref, known)}"
            ) from None
    found = versions(client, model)
    if not found:
        raise NotFoundError(f"model {model!r} has no versions yet; register a run first")
    return found[-1]


def versions(client: Any, model: str) -> list[Any]:
    """Every version of ``model``, oldest first."""
    found = client.search_model_versions(f"name = '{model}'", max_results=10000)
    return sorted(found, key=lambda v: int(v.version))


def _split_model(ref: str) -> tuple[str, str | None, str | None]:
    ref = ref.removeprefix("models:/")
    match = _MODEL_VERSION.match(ref)
    if match:
        return match["model"], None, match["version"]
    model, sep, alias = ref.partition("@")
    if sep and not alias:
        raise MlopsError(f"{ref!r}: give an alias after @, as in {model}@champion")
    return model, (alias if sep else None), None
