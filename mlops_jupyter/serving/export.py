"""What a cluster needs to serve the same model: KServe InferenceService and Seldon MLServer files.

Both run MLflow models with MLServer's MLflow runtime and speak the Open Inference Protocol v2,
which the local endpoint speaks too: clients move with the model.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

from ..errors import MlopsError
from ..workspace import Workspace

TARGETS = ("kserve", "mlserver")


def dns_name(text: str) -> str:
    """A Kubernetes object name (DNS-1123 label) made from ``text``."""
    name = re.sub(r"[^a-z0-9-]+", "-", text.lower()).strip("-")[:63].strip("-")
    if not name:
        raise MlopsError(f"{text!r} gives no usable Kubernetes name; pass --name")
    return name


def export(
    target: str,
    to: str,
    folder: str | os.PathLike[str],
    storage_uri: str | None = None,
    project: str | os.PathLike[str] | None = None,
) -> Path:
    """Write the model (MLflow format) and the manifests for ``to`` into ``folder``.

    ``target`` is an endpoint's name or a model reference (``M@alias``, ``M/3``). The model
    folder must be uploaded to ``storage_uri`` (a bucket or volume the cluster reads). An
    endpoint's split trial goes to KServe as a canary rollout of its challenger
    (``canaryTrafficPercent``), in ``inference-service-canary.yaml``.
    """
    import mlflow
    import yaml

    from . import endpoints

    if to not in TARGETS:
        raise MlopsError(f"cannot export to {to!r}; choose one of {', '.join(TARGETS)}")
    ws = Workspace.find(project)
    running = {e.name: e for e in endpoints.endpoints(ws.root)}
    if target in running:
        record = endpoints.record_of(running[target])
        name, found = target, record
    else:
        found = endpoints.resolve_model(ws, target)
        name = found["model"]
    out = Path(folder).resolve()
    model_dir = out / "model"
    if model_dir.exists() and any(model_dir.iterdir()):
        raise MlopsError(f"{model_dir} is not empty; export into a new folder")
    out.mkdir(parents=True, exist_ok=True)
    mlflow.artifacts.download_artifacts(artifact_uri=found["uri"], dst_path=str(model_dir))
    k8s_name = dns_name(name)
    version = str(found["version"])
    storage = storage_uri or f"s3://CHANGE-ME/models/{k8s_name}/{version}"
    settings = {
        "name": k8s_name,
        "implementation": "mlserver_mlflow.MLflowRuntime",
        "parameters": {"uri": "./model", "version": version},
    }
    (out / "model-settings.json").write_text(json.dumps(settings, indent=2) + "\n")
    canary = _canary(found, to, out, storage)
    if to == "kserve":
        service = _inference_service(k8s_name, version, storage)
        (out / "inference-service.yaml").write_text(yaml.safe_dump(service, sort_keys=False))
        if canary:
            split, challenger = canary
            rollout = _inference_service(
                k8s_name, str(challenger["version"]), _next(storage, challenger)
            )
            rollout["spec"]["predictor"]["canaryTrafficPercent"] = round(split)
            (out / "inference-service-canary.yaml").write_text(
                yaml.safe_dump(rollout, sort_keys=False)
            )
    steps = (
        "2. `kubectl apply -f inference-service.yaml`\n"
        f"3. Clients call `POST /v2/models/{k8s_name}/infer` (Open Inference Protocol v2),\n"
        "   as they did on the local endpoint.\n"
        if to == "kserve"
        else "2. `mlserver start .` (MLServer with mlserver-mlflow installed) serves it.\n"
    )
    if canary and to == "kserve":
        split, challenger = canary
        steps += (
            f"4. The trial: upload `challenger/` to {_next(storage, challenger)}, then\n"
            "   `kubectl apply -f inference-service-canary.yaml`: KServe sends it "
            f"{round(split)}% of requests\n   (`canaryTrafficPercent`) and the rest to version "
            f"{version}. Promote it by setting\n   canaryTrafficPercent to 100.\n"
        )
    elif found.get("shadow") and found.get("challenger"):
        steps += (
            "\nThe local trial's shadow challenger is not exported: KServe has no shadow traffic.\n"
        )
    (out / "README.md").write_text(
        f"# {name} version {version}\n\n"
        f"1. Upload `model/` to {storage} (the cluster reads it from there).\n" + steps
    )
    return out


def _inference_service(name: str, version: str, storage: str) -> dict[str, Any]:
    return {
        "apiVersion": "serving.kserve.io/v1beta1",
        "kind": "InferenceService",
        "metadata": {
            "name": name,
            "labels": {"mlops-jupyter/model": name, "mlops-jupyter/version": version},
        },
        "spec": {
            "predictor": {
                "model": {
                    "modelFormat": {"name": "mlflow"},
                    "protocolVersion": "v2",
                    "storageUri": storage,
                }
            }
        },
    }


def _canary(
    found: dict[str, Any], to: str, out: Path, storage: str
) -> tuple[float, dict[str, Any]] | None:
    """An endpoint's split trial as a KServe canary: its share, and its challenger (downloaded)."""
    import mlflow

    challenger = found.get("challenger")
    if to != "kserve" or not challenger or found.get("shadow") or not found.get("split"):
        return None
    mlflow.artifacts.download_artifacts(
        artifact_uri=challenger["uri"], dst_path=str(out / "challenger")
    )
    return float(found["split"]), challenger


def _next(storage: str, challenger: dict[str, Any]) -> str:
    """Where the challenger goes: beside the champion, under its own version."""
    head, _, last = storage.rstrip("/").rpartition("/")
    version = str(challenger["version"])
    return f"{head}/{version}" if head and last.isdigit() else f"{storage.rstrip('/')}-{version}"
