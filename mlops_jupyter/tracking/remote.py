"""A shared MLflow tracking server: reaching it, and saying in one line why it cannot be reached.

MLflow's client retries a failing request for minutes and then raises a page of urllib3 text.
Here a server is probed once per process before first use (a short timeout, the same
credentials MLflow uses: ``MLFLOW_TRACKING_USERNAME``/``PASSWORD`` or ``MLFLOW_TRACKING_TOKEN``),
retries are kept short, and failures read as what to do.
"""

from __future__ import annotations

import os
import re
from typing import Any

from ..errors import MlopsError

SEARCH = "/api/2.0/mlflow/experiments/search"
ARTIFACTS = "/api/2.0/mlflow-artifacts/artifacts"
# A notebook should hear about an outage in seconds, not after MLflow's default 7 retries.
RETRY_DEFAULTS = {
    "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "2",
    "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": "1",
    "MLFLOW_HTTP_REQUEST_TIMEOUT": "30",
}
DOCTOR = "`mlops-jupyter doctor` checks the whole set-up"


class StoreUnavailable(MlopsError):
    """The tracking server (or the database behind it) could not do what was asked."""


def is_server(uri: str) -> bool:
    return uri.startswith(("http://", "https://"))


def short_retries() -> None:
    """Keep MLflow's retries short in this process, unless the user chose otherwise."""
    for key, value in RETRY_DEFAULTS.items():
        os.environ.setdefault(key, value)


def auth() -> dict[str, Any]:
    """``requests`` arguments carrying the credentials MLflow's client would send."""
    user, password = (
        os.environ.get("MLFLOW_TRACKING_USERNAME"),
        os.environ.get("MLFLOW_TRACKING_PASSWORD"),
    )
    token = os.environ.get("MLFLOW_TRACKING_TOKEN")
    kwargs: dict[str, Any] = {}
    if user and password:
        kwargs["auth"] = (user, password)
    elif token:
        kwargs["headers"] = {"Authorization": f"Bearer {token}"}
    if os.environ.get("MLFLOW_TRACKING_SERVER_CERT_PATH"):
        kwargs["verify"] = os.environ["MLFLOW_TRACKING_SERVER_CERT_PATH"]
    if os.environ.get("MLFLOW_TRACKING_INSECURE_TLS", "").lower() == "true":
        kwargs["verify"] = False
    return kwargs


def probe(uri: str, connect: float = 5.0, answer: float = 30.0) -> None:
    """One authenticated request that reads the store (so its database too);
    :class:`StoreUnavailable` saying why when it fails.

    A host that does not accept the connection fails in ``connect`` seconds; a server's first
    answer may take a few seconds (it opens its database), so it gets ``answer`` seconds."""
    import requests

    url = uri.rstrip("/") + SEARCH
    try:
        response = requests.post(url, json={"max_results": 1}, timeout=(connect, answer), **auth())
    except requests.exceptions.SSLError as exc:
        raise StoreUnavailable(
            f"the MLflow tracking server at {uri} failed the TLS check ({_reason(exc)}); "
            "fix its certificate or set MLFLOW_TRACKING_SERVER_CERT_PATH"
        ) from None
    except requests.exceptions.RequestException as exc:
        raise unreachable(uri, _reason(exc)) from None
    if response.status_code >= 400:
        raise from_status(uri, response.status_code, message(response))


def unreachable(uri: str, reason: str) -> StoreUnavailable:
    return StoreUnavailable(
        f"the MLflow tracking server at {uri} is not reachable ({reason}); start it, or check "
        f"mlflow_tracking_uri in mlops.toml (or MLFLOW_TRACKING_URI); {DOCTOR}"
    )


def from_status(uri: str, status: int, message: str) -> StoreUnavailable:
    if status in (401, 403):
        return StoreUnavailable(
            f"the MLflow tracking server at {uri} refused the credentials (HTTP {status}); set "
            "MLFLOW_TRACKING_USERNAME and MLFLOW_TRACKING_PASSWORD (or MLFLOW_TRACKING_TOKEN)"
        )
    if status == 404:
        return StoreUnavailable(
            f"{uri} answered 404: it is not an MLflow tracking server (check the URL and port)"
        )
    if status >= 500:
        said = f"HTTP {status}: {message}" if message else f"HTTP {status}"
        return StoreUnavailable(
            f"the MLflow tracking server at {uri} failed ({said}); its database or artifact "
            "store may be down: check the server's log"
        )
    return StoreUnavailable(f"the MLflow tracking server at {uri} said HTTP {status}: {message}")


def explain(exc: BaseException, uri: str) -> StoreUnavailable | None:
    """The one line for an MLflow client error that comes from the server being unusable."""
    if isinstance(exc, StoreUnavailable):
        return exc
    text = str(exc)
    if not is_server(uri) or not re.search(r"API request to|INTERNAL_ERROR|Max retries", text):
        return None
    if re.search(r"Connection refused|NewConnectionError|Name or service|timed out", text):
        return unreachable(uri, _connection_reason(text))
    status = re.search(r"too many (\d{3}) error responses|status code (\d{3})", text)
    code = int(status[1] or status[2]) if status else (500 if "INTERNAL_ERROR" in text else 0)
    if code >= 500 or code in (401, 403):
        detail = "" if "Max retries" in text else _server_message(text)
        return from_status(uri, code, detail)
    return None


def _reason(exc: BaseException) -> str:
    return _connection_reason(str(exc)) or type(exc).__name__


def _connection_reason(text: str) -> str:
    for pattern, reason in (
        (r"Connection refused", "connection refused"),
        (r"Name or service not known|nodename nor servname|getaddrinfo", "unknown host"),
        (r"timed out|Timeout", "timed out"),
    ):
        if re.search(pattern, text):
            return reason
    return text.splitlines()[0][:120] if text else "no answer"


def message(response: Any) -> str:
    """What a server's error response says, in one short line."""
    try:
        body = response.json()
    except ValueError:
        text = (response.text or response.reason or "").strip()
        return text.splitlines()[0][:160] if text else ""
    return _server_message(str(body.get("message", body) if isinstance(body, dict) else body))


def _server_message(text: str) -> str:
    """The useful part of a server error: the database's complaint, without the SQL."""
    # SQLAlchemy's "(psycopg.errors.OperationalError) ..." (psycopg 3 or 2), "(sqlite3.X) ..."
    for pattern in (r"\(psycopg2?\.(?:\w+\.)?(\w+)\) ([^\n\[]+)", r"\(sqlite3\.(\w+)\) ([^\n\[]+)"):
        found = re.search(pattern, text)
        if found:
            return f"{found[1]}: {found[2].strip()}"[:200]
    text = re.sub(r"\s+", " ", text).strip()
    return text[:200]
