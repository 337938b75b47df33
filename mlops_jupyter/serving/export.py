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
    folder must be uploaded to ``storage_uri`` (a bucket or volume the cluster reads).
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
    if to == "kserve":
        service: dict[str, Any] = {
            "apiVersion": "serving.kserve.io/v1beta1",
            "kind": "InferenceService",
            "metadata": {
                "name": k8s_name,
                "labels": {"mlops-jupyter/model": k8s_name, "mlops-jupyter/version": version},
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
        (out / "inference-service.yaml").write_text(yaml.safe_dump(service, sort_keys=False))
    (out / "README.md").write_text(
        f"# {name} version {version}\n\n"
        f"1. Upload `model/` to {storage} (the cluster reads it from there).\n"
        + (
            "2. `kubectl apply -f inference-service.yaml`\n"
            f"3. Clients call `POST /v2/models/{k8s_name}/infer` (Open Inference Protocol v2),\n"
            "   as they did on the local endpoint.\n"
            if to == "kserve"
            else "2. `mlserver start .` (MLServer with mlserver-mlflow installed) serves it.\n"
        )
    )
    return out
