"""The endpoint's process: ``python -m mlops_jupyter.serving.server RECORD`` runs uvicorn.

Everything the process and its workers print goes through one pipe to a thread that appends it
to the server log and rotates that log at a size (workers share the pipe, so one writer
decides when to rotate).
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import sys
import threading
import uuid
from pathlib import Path
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from ..netutil import listen, process_started
from ..workspace import write_private

MAX_LOG_BYTES = 10 * 1024 * 1024
LOG_BACKUPS = 2


def main(record_path: str) -> None:
    record = json.loads(Path(record_path).read_text())
    metrics = Path(record["metrics_dir"])
    shutil.rmtree(metrics, ignore_errors=True)
    metrics.mkdir(parents=True)
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(metrics)  # before any worker imports the client
    os.environ["MLOPS_JUPYTER_ENDPOINT"] = str(Path(record_path).resolve())
    # The cores shared out between the workers: OpenMP and BLAS pools (HistGradientBoosting,
    # numpy) otherwise start one thread per core in every worker. A user's own setting wins.
    threads = str(max(1, (os.cpu_count() or 1) // max(1, int(record["workers"]))))
    for pool in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(pool, threads)
    if record.get("server_log"):
        capture_output(Path(record["server_log"]))
    sock = bind(record)
    announce(Path(record_path), record, sock.getsockname()[1])
    import uvicorn
    from uvicorn.supervisors import Multiprocess

    from .resources import Sampler

    Sampler(Path(record["log_dir"])).start()  # CPU, memory and I/O of this process and workers
    config = uvicorn.Config(
        "mlops_jupyter.serving.app:create_app",
        factory=True,
        host=record["host"],
        port=int(record["port"]),
        workers=int(record["workers"]),
        log_level="warning",
        access_log=False,
        timeout_graceful_shutdown=5,
        http="mlops_jupyter.serving.server:HttpProtocol",
    )
    # As uvicorn.run does, on the socket bound above.
    if config.workers > 1:
        Multiprocess(config, sockets=[sock]).run()
        return
    config.load_app()
    server = uvicorn.Server(config)
    server.run(sockets=[sock])
    if not server.started:
        sys.exit(3)


def bind(record: dict[str, Any]) -> socket.socket:
    """The endpoint's socket: its ``port``, or (unless the user asked for that one) the next
    free port of 100 from it. Bound here, before anything is said to be started, so that two
    endpoints started at once never collide on a port both were told is free."""
    host, port = record["host"], int(record["port"])
    tries = 1 if record.get("port_fixed") else 100
    try:
        return listen(host, port, tries)
    except OSError as e:
        where = f"port {port}" if tries == 1 else f"ports {port}-{port + tries - 1}"
        print(f"{where} on {host}: {e.strerror or e}; pick another with --port", flush=True)
        sys.exit(1)


def announce(path: Path, record: dict[str, Any], port: int) -> None:
    """Write the port bound, this process's pid and its start time into the record: the
    parent waits for them, and the pid and time prove later that a process is this one."""
    record.update(port=port, pid=os.getpid(), pid_started=process_started(os.getpid()))
    write_private(path, json.dumps(record, indent=1))


class HttpProtocol(HttpToolsProtocol):  # type: ignore[misc]
    """uvicorn's protocol, except that bytes that are not valid HTTP get a JSON 400 too."""

    def send_400_response(self, msg: str) -> None:
        body = json.dumps(
            {
                "error_code": "BAD_REQUEST",
                "message": f"{msg} (not valid HTTP: check the request line and headers)",
                "request_id": uuid.uuid4().hex,
            }
        ).encode()
        head = (
            b"HTTP/1.1 400 Bad Request\r\ncontent-type: application/json\r\n"
            b"content-length: %d\r\nconnection: close\r\n\r\n" % len(body)
        )
        self.transport.write(head + body)
        self.transport.close()


def capture_output(path: Path, max_bytes: int = MAX_LOG_BYTES) -> threading.Thread:
    """Send this process's stdout and stderr (and its children's) to ``path``, rotated."""
    read_fd, write_fd = os.pipe()
    sys.stdout.flush()
    sys.stderr.flush()
    os.dup2(write_fd, 1)
    os.dup2(write_fd, 2)
    os.close(write_fd)
    thread = threading.Thread(
        target=pump, args=(read_fd, path, max_bytes), name="server-log", daemon=True
    )
    thread.start()
    return thread


def pump(read_fd: int, path: Path, max_bytes: int, backups: int = LOG_BACKUPS) -> None:
    """Copy what arrives on ``read_fd`` to ``path``; past ``max_bytes``, ``path`` becomes
    ``path.1`` (``path.1`` becomes ``path.2``, ...) and a new file starts."""
    out = open(path, "ab", buffering=0)  # noqa: SIM115 - reopened at each rotation
    with os.fdopen(read_fd, "rb", buffering=0) as pipe:
        while chunk := pipe.read(65536):
            out.write(chunk)
            if out.tell() >= max_bytes:
                out.close()
                for n in range(backups, 0, -1):
                    older = path.with_name(f"{path.name}.{n - 1}" if n > 1 else path.name)
                    if older.exists():
                        os.replace(older, path.with_name(f"{path.name}.{n}"))
                out = open(path, "ab", buffering=0)  # noqa: SIM115
    out.close()


if __name__ == "__main__":
    main(sys.argv[1])
