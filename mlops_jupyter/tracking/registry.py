"""The model registry: register a run's model, move aliases, list versions with what made them."""

from __future__ import annotations

from typing import Any

from ..errors import MlopsError, NotFoundError
from . import lineage, names


def logged_models(client: Any, run: Any) -> list[Any]:
    """The models ``run`` logged (MLflow 3 ``LoggedModel``), oldest first."""
    found = client.search_logged_models(
        experiment_ids=[run.info.experiment_id],
        filter_string=f"source_run_id = '{run.info.run_id}'",
    )
    return sorted(found, key=lambda m: m.creation_timestamp)


def register(client: Any, run_ref: str, name: str, alias: str | None = None) -> Any:
    """Register the model that run ``run_ref`` logged as the next version of ``name``."""
    import mlflow

    run = names.find_run(client, run_ref)
    models = logged_models(client, run)
    if not models:
        raise MlopsError(
            f"run {run.info.run_name} ({run.info.run_id[:8]}) logged no model; log one in the "
            "run (`tracking.log_model(model, input_example=X)` or `mlflow.<flavor>.log_model`)"
        )
    model = models[-1]
    if len(models) > 1:
        print(f"run logged {len(models)} models; registering the last one, {model.name!r}")
    version = mlflow.register_model(model.model_uri, name, tags={"mlops.run": run.info.run_id})
    if alias:
        client.set_registered_model_alias(name, alias, version.version)
    return client.get_model_version(name, version.version)


def promote(client: Any, ref: str, alias: str) -> Any:
    """Point ``alias`` at the version ``ref`` names (``M@challenger``, ``M/3``); that version."""
    version = names.model_version(client, ref)
    if not alias or "@" in alias or "/" in alias:
        raise MlopsError(f"alias {alias!r} should be a plain word, as in champion")
    if alias.lower().startswith("v") and alias[1:].isdigit():
        raise MlopsError(f"alias {alias!r} looks like a version number; MLflow reserves those")
    client.set_registered_model_alias(version.name, alias, version.version)
    return client.get_model_version(version.name, version.version)


def promote_if_held(client: Any, ref: str, alias: str, held_by: str | None) -> Any:
    """:func:`promote`, only if ``alias`` still points at ``held_by`` (``M/3``; None: no
    version), where a gate measured it. MLflow has no compare-and-set on aliases: callers
    hold the project's lock around this, so two promotions of this project never interleave."""
    version = names.model_version(client, ref)
    aliases = client.get_registered_model(version.name).aliases or {}
    now = f"{version.name}/{aliases[alias]}" if alias in aliases else None
    if now != held_by:
        raise MlopsError(
            f"{version.name}@{alias} moved to {now or 'no version'} since the gate measured "
            f"{ref} against {held_by or 'no version'}; nothing promoted: run the gate again"
        )
    return promote(client, ref, alias)


def holder(client: Any, ref: str, alias: str) -> str | None:
    """``M@alias`` when some version of ``ref``'s model holds ``alias`` now, else None."""
    version = names.model_version(client, ref)
    aliases = client.get_registered_model(version.name).aliases or {}
    return f"{version.name}@{alias}" if alias in aliases else None


def models_table(client: Any, name: str | None = None) -> Any:
    """A DataFrame with a row per model version: aliases, run, its metrics and data versions."""
    import pandas as pd

    if name:
        names.model_version(client, name)  # a clear error for an unknown model
        models = [client.get_registered_model(name.split("@")[0].split("/")[0])]
    else:
        models = list(client.search_registered_models(max_results=1000))
    rows = []
    for model in models:
        by_version: dict[str, list[str]] = {}
        for alias, version in (model.aliases or {}).items():
            by_version.setdefault(str(version), []).append(alias)
        for version in names.versions(client, model.name):
            row: dict[str, Any] = {
                "model": model.name,
                "version": int(version.version),
                "aliases": ", ".join(sorted(by_version.get(str(version.version), []))),
                "run": (version.run_id or "")[:8],
                "created": pd.Timestamp(version.creation_timestamp, unit="ms"),
            }
            try:
                run = client.get_run(version.run_id) if version.run_id else None
            except Exception:  # noqa: BLE001 - a deleted run still leaves its version
                run = None
            if run is not None:
                row["run_name"] = run.info.run_name
                read = lineage.read_by_run(run.data.tags)
                row["data"] = lineage.shown(read)
                row.update({f"metric.{k}": v for k, v in run.data.metrics.items()})
            rows.append(row)
    if not rows:
        raise NotFoundError("no registered models yet; register a run with `%track register`")
    return pd.DataFrame(rows)
