"""Secrets taken out of the code a run keeps (its cell and the kernel's earlier cells).

A run's code goes to the tracking store, which may be a team's server: a password typed into a
cell must not travel with it. Redaction is by pattern, so it catches the usual shapes (string
values of names that say token, password, secret or key; well-known token formats; private
key blocks), not every secret; the ``track_history`` setting turns history capture off.
"""

from __future__ import annotations

import re

REDACTED = "<redacted>"
_NAMES = r"\w*(?:token|passw(?:or)?d|pwd|secret|api_?key|access_?key|private_?key|credential)\w*"
_PATTERNS = [
    # password = "...", "api_key": '...', token="...", os.environ["DB_PASSWORD"] = "..."
    re.compile(
        rf"(?P<keep>\b{_NAMES}[\"']?\]?\s*[:=]\s*[rbfu]?)(?P<q>[\"'])(?P<secret>[^\"'\n]+)(?P=q)",
        re.IGNORECASE,
    ),
    # %env API_TOKEN=... and shell exports in ! lines
    re.compile(rf"(?P<keep>(?:%env|export)\s+{_NAMES}\s*[= ]\s*)(?P<secret>\S+)", re.IGNORECASE),
    # Authorization: Bearer ..., and URLs with a password: scheme://user:password@host
    re.compile(r"(?P<keep>\bBearer\s+)(?P<secret>[A-Za-z0-9._~+/=-]{8,})"),
    re.compile(r"(?P<keep>\b[a-z][a-z0-9+.-]*://[^\s:/@\"']+:)(?P<secret>[^\s@/\"']+)(?=@)"),
]
_TOKENS = re.compile(
    r"\bAKIA[0-9A-Z]{16}\b"  # AWS access key id
    r"|\bgh[pousr]_[A-Za-z0-9]{30,}\b"  # GitHub
    r"|\bxox[abprs]-[A-Za-z0-9-]{10,}\b"  # Slack
    r"|\bsk-[A-Za-z0-9_-]{20,}\b"  # OpenAI-style keys
    r"|\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}"  # JWT
    r"|-----BEGIN [A-Z ]*PRIVATE KEY-----.*?-----END [A-Z ]*PRIVATE KEY-----",
    re.DOTALL,
)


def redact(source: str) -> str:
    """``source`` with the secrets it seems to hold replaced by ``<redacted>``."""
    source = _TOKENS.sub(REDACTED, source)
    for pattern in _PATTERNS:
        source = pattern.sub(_keep_name, source)
    return source


def _keep_name(match: re.Match[str]) -> str:
    quote = match.groupdict().get("q") or ""
    return f"{match['keep']}{quote}{REDACTED}{quote}"
