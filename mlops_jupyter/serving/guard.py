"""What keeps web pages away from a local endpoint: the ``Host`` and ``Origin`` checks.

A page open in the user's browser can send requests to ``127.0.0.1``: a form POST needs no
preflight, and DNS rebinding lets a page's own name resolve to this machine. So, as Jupyter
Server guards its API: an endpoint bound to a local address answers only requests whose
``Host`` is a local name, and a browser request from another origin (its ``Origin`` header) is
refused unless the ``serve_allow_origins`` setting names that origin (or ``*``). Content types
are checked by the protocols (JSON or CSV only: what a page cannot send without asking).
"""

from __future__ import annotations

import ipaddress
from typing import Any

from .protocols import BadRequest


def hostname(host: str) -> str:
    """``127.0.0.1`` of ``127.0.0.1:5100``, ``[::1]`` of ``[::1]:5100``, lowercased."""
    host = host.strip().lower()
    if host.startswith("["):
        return host[: host.find("]") + 1] if "]" in host else host
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


def is_local(host: str) -> bool:
    """Whether ``host`` names this machine: ``localhost`` or a loopback address, parsed as one
    (``127.evil.example`` is a name a page's DNS can point anywhere, not an address)."""
    name = hostname(host).removeprefix("[").removesuffix("]")
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


class Guard:
    """The checks for one endpoint, made from its record (``host``, ``allow_origins``)."""

    def __init__(self, record: dict[str, Any]):
        self.local = is_local(str(record.get("host", "127.0.0.1")))
        self.origins = {o.rstrip("/") for o in record.get("allow_origins") or []}

    def check(self, scope: dict[str, Any]) -> list[tuple[bytes, bytes]]:
        """Raise 403 for a request a web page may have forged; the CORS headers to answer with."""
        headers = {k: bytes(v).decode("latin-1") for k, v in scope["headers"]}
        host = headers.get(b"host", "")
        if self.local and host and not is_local(host):
            raise BadRequest(
                f"Host {hostname(host)!r} is not an address of this endpoint (it serves "
                "this machine only); start it with --host 0.0.0.0 to serve other names",
                403,
            )
        origin = headers.get(b"origin")
        if origin is None or origin in (f"http://{host}", f"https://{host}"):
            return []  # not a browser, or a page this endpoint served itself
        if origin.rstrip("/") in self.origins or "*" in self.origins:
            return [
                (b"access-control-allow-origin", origin.encode("latin-1")),
                (b"access-control-allow-methods", b"GET, POST, OPTIONS"),
                (b"access-control-allow-headers", b"Content-Type, Authorization, X-Request-Id"),
                (b"access-control-expose-headers", b"X-Request-Id"),
                (b"vary", b"Origin"),
            ]
        raise BadRequest(
            f"a request from the web page {origin[:100]!r} is refused; allow that origin "
            "with the serve_allow_origins setting",
            403,
        )
