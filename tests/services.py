"""The team's services, real and on 127.0.0.1: PostgreSQL (Debian's), an S3-compatible server
(moto in server mode) and ``mlflow server`` on them. The tests start and stop them."""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from mlops_jupyter.netutil import kill_child, pick_port, wait_http, wait_port

S3_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
}


def _bin(name: str) -> str:
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    if not found:
        raise RuntimeError(f"PostgreSQL's {name} is missing: `make env` installs postgresql")
    return found[-1]


class Postgres:
    """A private cluster in a folder of its own on a free port of 127.0.0.1 (trust
    authentication); run as the ``postgres`` user when the tests run as root."""

    def __init__(self) -> None:
        # a folder of its own: pytest's are private to the user running the tests
        self.base = Path(tempfile.mkdtemp(prefix="mlops-postgres-"))
        self.data = self.base / "data"
        self.port = pick_port(None, 15432)
        self.user = "postgres" if os.geteuid() == 0 else None  # PostgreSQL refuses root

    def _run(
        self, *argv: str, check: bool = True, input: str | None = None
    ) -> subprocess.CompletedProcess[str]:
        prefix = ["runuser", "-u", self.user, "--"] if self.user else []
        return subprocess.run(
            [*prefix, *argv], check=check, capture_output=True, text=True, cwd="/", input=input
        )

    def start(self) -> Postgres:
        if not self.data.exists():
            if self.user:
                shutil.chown(self.base, self.user, self.user)
            self._run(
                _bin("initdb"), "-D", str(self.data), "-U", "postgres", "--auth=trust",
                "-E", "UTF8", "--locale=C", "--no-sync",
            )  # fmt: skip
        options = f"-c listen_addresses=127.0.0.1 -p {self.port} -k {self.base} -c fsync=off"
        self._run(
            _bin("pg_ctl"), "-D", str(self.data), "-o", options, "-l", str(self.base / "log"),
            "-w", "-t", "60", "start",
        )  # fmt: skip
        return self

    def stop(self) -> None:
        self._run(_bin("pg_ctl"), "-D", str(self.data), "-m", "fast", "-w", "stop", check=False)

    def remove(self) -> None:
        self.stop()
        shutil.rmtree(self.base, ignore_errors=True)

    def url(self, db: str) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{db}"

    def sql(self, statement: str, db: str = "postgres") -> str:
        """Run SQL statements (given on standard input) with psql; what they print."""
        return self._run(
            _bin("psql"), "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", "-d", db,
            "-v", "ON_ERROR_STOP=1", "-q", "-At", "-f", "-", input=statement,
        ).stdout.strip()  # fmt: skip

    def dump(self, db: str) -> str:
        """The rows of ``db`` as SQL (no schema)."""
        return self._run(
            _bin("pg_dump"), "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres",
            "--data-only", db,
        ).stdout  # fmt: skip


# MLflow 3's server runs three job consumers (huey) beside itself, polling all the time; the
# tests use no server-side jobs.
NO_JOBS = {"MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"}


def _unmeasured(environ) -> dict[str, str]:
    """The environment without coverage's subprocess measurement: services run no code of
    ours, and tracing MLflow's server costs minutes of CPU over a suite."""
    return {
        k: v
        for k, v in environ.items()
        if k not in ("COVERAGE_PROCESS_CONFIG", "COVERAGE_PROCESS_START", "MLOPS_TEST_COVERAGE")
    }


class Process:
    """A server process of the tests, in its own process group, logging to a file."""

    def __init__(self, argv: list[str], log: Path, env: dict[str, str] | None = None):
        self.log = log
        with open(log, "ab") as out:
            self.proc = subprocess.Popen(
                argv,
                stdout=out,
                stderr=subprocess.STDOUT,
                env={**_unmeasured(os.environ), **NO_JOBS, **(env or {})},
                start_new_session=True,
            )

    def alive(self) -> bool:
        return self.proc.poll() is None

    def stop(self) -> None:
        kill_child(self.proc)

    def __getstate__(self) -> dict:
        """Pickled for pytest-xdist's workers: what they use (URLs, ports), not the process
        handle, which stays with the controller that started and stops it."""
        return {k: v for k, v in self.__dict__.items() if k != "proc"}


class S3Server(Process):
    """moto's S3 in server mode."""

    def __init__(self, base: Path):
        base.mkdir(parents=True, exist_ok=True)
        self.port = pick_port(None, 19000)
        self.url = f"http://127.0.0.1:{self.port}"
        super().__init__(
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(self.port)],
            base / "moto.log",
        )
        wait_port("127.0.0.1", self.port, 60, self.alive)

    def client(self):  # type: ignore[no-untyped-def]
        import boto3

        return boto3.client("s3", endpoint_url=self.url, **_boto_args())

    def make_bucket(self, name: str) -> None:
        self.client().create_bucket(Bucket=name)


def _boto_args() -> dict[str, str]:
    return {
        "aws_access_key_id": S3_ENV["AWS_ACCESS_KEY_ID"],
        "aws_secret_access_key": S3_ENV["AWS_SECRET_ACCESS_KEY"],
        "region_name": S3_ENV["AWS_DEFAULT_REGION"],
    }


class MlflowServer(Process):
    """``mlflow server`` with its runs in a PostgreSQL database and its artifacts in S3."""

    def __init__(self, backend: str, artifacts: str, s3_url: str, log: Path, port: int = 0):
        self.port = port or pick_port(None, 15500)
        self.backend = backend
        self.url = f"http://127.0.0.1:{self.port}"
        super().__init__(
            [
                sys.executable,
                "-m",
                "mlflow",
                "server",
                "--backend-store-uri",
                backend,
                "--artifacts-destination",
                artifacts,
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--workers",
                "1",
            ],  # fmt: skip
            log,
            env={**S3_ENV, "MLFLOW_S3_ENDPOINT_URL": s3_url},
        )
        try:
            wait_http(f"{self.url}/health", 120, self.alive)
        except Exception:
            self.stop()
            raise RuntimeError(f"mlflow server did not start:\n{log.read_text()[-3000:]}") from None


class Team:
    """PostgreSQL, S3 and one ``mlflow server`` for the session; each test starts from the
    freshly migrated database (rows restored in a blink, rather than a server started per test)
    and keeps its DVC data under a prefix of its own."""

    DB = "mlflow"
    SPARE = "mlflow_spare"

    def __init__(self, base: Path):
        self.base = base
        self.postgres = Postgres()
        self.s3: S3Server | None = None
        self.server: MlflowServer | None = None
        try:
            self._start()
        except BaseException:
            self.close()  # nothing half-started outlives a failed start
            raise

    def _start(self) -> None:
        self.postgres.start()
        self.s3 = S3Server(self.base)
        for bucket in ("mlflow", "dvc"):
            self.s3.make_bucket(bucket)
        self.postgres.sql(f"CREATE DATABASE {self.DB}")
        subprocess.run(  # MLflow's migrations, once
            [sys.executable, "-c", MIGRATE, self.postgres.url(self.DB)],
            check=True,
            capture_output=True,
        )
        self.fresh = self.postgres.dump(self.DB)
        # a second migrated database, for a test's own server (no migrations to wait for)
        self.postgres.sql(f"CREATE DATABASE {self.SPARE} TEMPLATE {self.DB}")
        tables = self.postgres.sql(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public'", self.DB
        )
        self.truncate = f"TRUNCATE {', '.join(tables.split())} RESTART IDENTITY CASCADE;"
        self.server = MlflowServer(
            self.postgres.url(self.DB),
            "s3://mlflow/artifacts",
            self.s3.url,
            self.base / "mlflow.log",
        )

    def reset(self) -> MlflowServer:
        """The server, on a database as fresh as after its migrations."""
        assert self.server is not None
        self.postgres.sql(self.truncate + "\n" + self.fresh, self.DB)
        return self.server

    def close(self) -> None:
        for service in (self.server, self.s3):
            if service is not None:
                service.stop()
        self.postgres.remove()


class Starting:
    """The team's services starting in a background thread (while other tests run)."""

    def __init__(self) -> None:
        import threading

        self.base = Path(tempfile.mkdtemp(prefix="mlops-team-"))
        self.team: Team | None = None
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._start, daemon=True)
        self.thread.start()

    def _start(self) -> None:
        try:
            self.team = Team(self.base)
        except BaseException as exc:  # noqa: BLE001 - raised in the test that needs them
            self.error = exc

    def get(self) -> Team:
        self.thread.join()
        if self.error is not None:
            raise self.error
        assert self.team is not None
        return self.team

    def close(self) -> None:
        self.thread.join()
        if self.team is not None:
            self.team.close()
        shutil.rmtree(self.base, ignore_errors=True)


MIGRATE = """import sys
from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore
from mlflow.store.model_registry.sqlalchemy_store import SqlAlchemyStore as Registry
store = SqlAlchemyStore(sys.argv[1], "s3://mlflow/template")
Registry(sys.argv[1])
store.engine.dispose()
"""
