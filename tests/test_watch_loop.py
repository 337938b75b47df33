"""The watch loop's edges: webhooks that misbehave, and a cycle that fails for any reason."""

from __future__ import annotations

import socket
import threading
import time

import pytest

from mlops_jupyter import monitoring
from mlops_jupyter.errors import MlopsError
from mlops_jupyter.monitoring import watch


def webhook(answer: bytes, trickle: float = 0.0):
    """A webhook server on 127.0.0.1 that reads the request and answers ``answer`` (sent a
    byte every ``trickle`` seconds, if given); its port."""
    server = socket.create_server(("127.0.0.1", 0))

    def serve() -> None:
        while True:
            try:
                conn, _ = server.accept()
            except OSError:
                return
            with conn:
                conn.recv(65536)
                try:
                    for byte in answer if trickle else [answer]:
                        conn.sendall(bytes([byte]) if trickle else byte)
                        time.sleep(trickle)
                except OSError:
                    pass

    threading.Thread(target=serve, daemon=True).start()
    return server


STEP = watch.Step("m", 0.0, "fail", "pass", failed=["2 data invariants"])
CARD = monitoring.Scorecard("m", [])


@pytest.mark.parametrize(
    "answer, trickle",
    [
        (b"HTTP/1.1 2OO OK\r\n\r\n", 0.0),  # a malformed status line
        (b"garbage, not HTTP at all\r\n\r\n", 0.0),
        (b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n" + b"x" * 100, 0.5),  # too slow
    ],
)
def test_a_webhook_that_misbehaves_is_one_masked_line_within_its_deadline(answer, trickle, capsys):
    server = webhook(answer, trickle)
    port = server.getsockname()[1]
    url = f"http://user:s3cret@127.0.0.1:{port}/services/T0/B0/XYZSECRET?token=abc123"
    began = time.monotonic()
    watch.post(url, STEP, CARD, deadline=2)
    took = time.monotonic() - began
    server.close()
    err = capsys.readouterr().err
    assert took < 8, took  # a trickle of 60 s of bytes is cut at the deadline
    assert (
        err.startswith(f"the webhook http://127.0.0.1:{port}/… failed (") and err.count("\n") == 1
    )
    for secret in ("s3cret", "XYZSECRET", "abc123", "user"):
        assert secret not in err


def test_one_bad_cycle_is_a_line_and_the_next_cycle_runs(tmp_path, monkeypatch, capsys):
    from mlops_jupyter import datasets

    datasets.init(tmp_path)
    monkeypatch.chdir(tmp_path)
    cycles = []

    def step(endpoint, **options):
        cycles.append(endpoint)
        if len(cycles) == 1:
            raise KeyError("a column")  # not an MlopsError: a bug, or a library's surprise
        if len(cycles) == 2:
            return STEP
        raise KeyboardInterrupt  # the user's Ctrl-C ends the loop, as it should

    monkeypatch.setattr(watch, "step", step)
    with pytest.raises(KeyboardInterrupt):
        watch.watch("m", every=0.01)
    assert len(cycles) == 3  # the failed cycle did not end the loop
    captured = capsys.readouterr()
    assert "m: the check failed: KeyError: 'a column' (traceback in " in captured.err
    assert "m FAIL" in captured.out
    kept = tmp_path / ".mlops" / "monitoring" / "m" / "watch-errors.log"
    assert "KeyError: 'a column'" in kept.read_text()

    cycles.clear()
    with pytest.raises(MlopsError, match=r"^the check of m failed: KeyError: 'a column' \("):
        watch.watch("m", every=0.01, once=True)  # cron's --once: one line, a non-zero exit
