"""REST handlers of the sidebar: thin, authenticated layers over the Python API.

Every route is under ``/mlops-jupyter/api/v1``. Reads are GETs, actions POSTs; every handler
requires Jupyter's authentication (and so its origin and XSRF checks); errors are an HTTP status
with a JSON ``{"message": ...}``. The blocking API runs in a worker thread, never on the server's
event loop. A ``path`` parameter (the folder the user is in) may select a project below the
server's root, never outside it.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import tornado.web
from jupyter_server.base.handlers import APIHandler
from jupyter_server.utils import url_path_join
from tornado.ioloop import IOLoop

from ..errors import MlopsError, NotFoundError
from ..tracking.remote import StoreUnavailable
from ..workspace import find_root

PREFIX = "mlops-jupyter/api/v1"


def _plain(value: Any) -> Any:
    """JSON-ready: NaN and missing values null, timestamps ISO text, numpy scalars numbers."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, float):
        return None if math.isnan(value) or math.isinf(value) else value
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if hasattr(value, "item"):  # numpy and pandas scalars
        return _plain(value.item())
    if value is not None and type(value).__name__ in ("NAType", "NaTType"):
        return None
    return value


def records(frame: Any) -> list[dict[str, Any]]:
    """A DataFrame's rows as JSON-ready dicts."""
    return [_plain(row) for row in frame.astype(object).to_dict(orient="records")]


class Handler(APIHandler):
    """Runs a blocking call in a thread and answers JSON; package errors become 4xx."""

    @property
    def root(self) -> Path:
        return Path(self.settings["server_root_dir"]).expanduser().resolve()

    def project(self) -> Path:
        """The folder the request names (``?path=``), inside the server's root (else 403)."""
        relative = self.get_query_argument("path", "")
        folder = (self.root / relative.lstrip("/")).resolve()
        if folder != self.root and self.root not in folder.parents:
            raise tornado.web.HTTPError(403, "the path is outside the server's root")
        if not folder.is_dir():
            raise tornado.web.HTTPError(404, f"no folder {relative!r} in the server's root")
        top = find_root(folder)
        if top is not None and top in self.root.parents:  # the project would be above the root
            raise tornado.web.HTTPError(
                403,
                f"this folder belongs to the git repository at {top}, above the server's root; "
                "start JupyterLab at the repository's top to use it as a project",
            )
        return folder

    def body(self) -> dict[str, Any]:
        if not self.request.body:
            return {}
        try:
            data = json.loads(self.request.body)
        except json.JSONDecodeError as exc:
            raise tornado.web.HTTPError(400, f"the request body is not JSON: {exc}") from None
        if not isinstance(data, dict):
            raise tornado.web.HTTPError(400, "the request body must be a JSON object")
        return data

    async def answer(self, call: Any, *args: Any) -> None:
        try:
            result = await IOLoop.current().run_in_executor(None, call, *args)
        except NotFoundError as exc:
            raise tornado.web.HTTPError(404, str(exc)) from None
        except StoreUnavailable as exc:  # the tracking server (or its database) is down
            raise tornado.web.HTTPError(503, str(exc)) from None
        except MlopsError as exc:
            raise tornado.web.HTTPError(400, str(exc)) from None
        self.finish(json.dumps(_plain(result), default=str))

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        """Every error is JSON with one readable message (no traceback)."""
        self.set_header("Content-Type", "application/json")
        message = self._reason
        exc_info = kwargs.get("exc_info")
        if exc_info and isinstance(exc_info[1], tornado.web.HTTPError):
            message = exc_info[1].log_message or message
        elif exc_info:
            message = f"{type(exc_info[1]).__name__}: {exc_info[1]}"
        self.finish(json.dumps({"message": message, "status": status_code}))


class Status(Handler):
    @tornado.web.authenticated
    async def get(self) -> None:
        from . import payloads

        await self.answer(payloads.status, self.project())


class Datasets(Handler):
    @tornado.web.authenticated
    async def get(self) -> None:
        from . import payloads

        await self.answer(payloads.datasets, self.project())


class DatasetDiff(Handler):
    @tornado.web.authenticated
    async def get(self, ref: str) -> None:
        from . import payloads

        before = self.get_query_argument("from", None) or None
        await self.answer(payloads.dataset_diff, self.project(), ref, before)


class Runs(Handler):
    @tornado.web.authenticated
    async def get(self) -> None:
        from . import payloads

        args = {
            "experiment": self.get_query_argument("experiment", None),
            "filter": self.get_query_argument("filter", ""),
            "order": self.get_query_argument("order", "start_time DESC"),
            "page_token": self.get_query_argument("page_token", None),
            "max_results": self.get_query_argument("max_results", "500"),
        }
        await self.answer(payloads.runs, self.project(), args)


class Run(Handler):
    @tornado.web.authenticated
    async def get(self, run: str) -> None:
        from . import payloads

        await self.answer(payloads.run, self.project(), run, self.root)


class Models(Handler):
    @tornado.web.authenticated
    async def get(self) -> None:
        from . import payloads

        await self.answer(payloads.models, self.project())


class Promote(Handler):
    @tornado.web.authenticated
    async def post(self, name: str) -> None:
        from . import payloads

        await self.answer(payloads.promote, self.project(), name, self.body())


class Endpoints(Handler):
    @tornado.web.authenticated
    async def get(self) -> None:
        from . import payloads

        await self.answer(payloads.endpoints, self.project())

    @tornado.web.authenticated
    async def post(self) -> None:
        from . import payloads

        await self.answer(payloads.start, self.project(), self.body())


class EndpointAction(Handler):
    @tornado.web.authenticated
    async def post(self, name: str, action: str) -> None:
        from . import payloads

        await self.answer(payloads.endpoint_action, self.project(), name, action)


class Monitors(Handler):
    @tornado.web.authenticated
    async def get(self) -> None:
        from . import payloads

        await self.answer(payloads.monitors, self.project())


class MonitorAction(Handler):
    @tornado.web.authenticated
    async def post(self, name: str, action: str) -> None:
        from . import payloads

        await self.answer(payloads.monitor_action, self.project(), name, action)


class Lineage(Handler):
    @tornado.web.authenticated
    async def get(self) -> None:
        from . import payloads

        ref = self.get_query_argument("ref", None)
        direction = self.get_query_argument("direction", "both")
        await self.answer(payloads.lineage, self.project(), ref, direction)


class Endpoint(Handler):
    @tornado.web.authenticated
    async def get(self, name: str) -> None:
        from . import payloads

        scorecard = self.get_query_argument("scorecard", "") in ("1", "true")
        await self.answer(payloads.endpoint, self.project(), name, scorecard)


class Compare(Handler):
    @tornado.web.authenticated
    async def get(self) -> None:
        from . import payloads

        refs = self.get_query_argument("runs", "").split(",")
        histories = self.get_query_argument("histories", "") in ("1", "true")
        await self.answer(payloads.compare, self.project(), refs, histories)


NAME = r"([A-Za-z0-9][A-Za-z0-9._-]*)"


def routes(base_url: str) -> list[tuple[str, type[Handler]]]:
    def url(path: str) -> str:
        return url_path_join(base_url, PREFIX, path)

    return [
        (url("status"), Status),
        (url("datasets"), Datasets),
        (url("datasets/([^/]+)/diff"), DatasetDiff),  # NAME@vN (its @ escaped or not)
        (url("runs"), Runs),
        (url("compare"), Compare),
        (url(r"runs/([0-9a-zA-Z._-]+)"), Run),
        (url("models"), Models),
        (url(f"models/{NAME}/aliases"), Promote),
        (url("endpoints"), Endpoints),
        (url(f"endpoints/{NAME}"), Endpoint),
        (url(f"endpoints/{NAME}/(stop|reload)"), EndpointAction),
        (url("monitors"), Monitors),
        (url(f"monitors/{NAME}/(publish|unpublish)"), MonitorAction),
        (url("lineage"), Lineage),
    ]
