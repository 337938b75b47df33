"""Run ends kept through an outage are written later, and a bad one never blocks the rest."""

from __future__ import annotations

import json
import subprocess
import sys

from mlops_jupyter import tracking
from mlops_jupyter.tracking import pending, store
from mlops_jupyter.workspace import Workspace


def test_a_record_the_store_refuses_is_set_aside_and_the_others_are_written(project, capsys):
    ws = Workspace.find(project)
    client = tracking.client()
    uri = store.tracking_uri(ws)
    experiment = client.get_experiment_by_name("Default").experiment_id
    kept = client.create_run(experiment, run_name="kept").info.run_id
    left = client.create_run(experiment, run_name="claim-of-a-dead-process").info.run_id
    pending.keep(ws, uri, kept, "FINISHED", None, [])
    pending.keep(ws, uri, "0" * 32, "FAILED", "boom", [])  # its run is gone (deleted, purged)
    folder = pending.folder(ws)
    record = json.dumps({"uri": uri, "run_id": left, "status": "KILLED", "metrics": []})
    (folder / f".{left}.999999999.claimed").write_text(record)  # its process was killed
    (folder / "broken.json").write_text("{not json")

    written = store.settle_pending(ws, client, uri)

    assert sorted(written) == sorted([kept, left])
    assert client.get_run(kept).info.status == "FINISHED"
    assert client.get_run(left).info.status == "KILLED"
    assert sorted(p.name for p in (folder / "failed").iterdir()) == ["0" * 32 + ".json", "broken.json"]  # fmt: skip
    said = capsys.readouterr().err.strip().splitlines()
    assert len(said) == 2 and all("set aside in" in line for line in said)
    assert pending.waiting(ws, uri) == [] and store.settle_pending(ws, client, uri) == []


def test_a_stop_that_hangs_ends_its_runs_killed_as_a_last_resort(project):
    # what `mlops-jupyter run` does when a SIGTERM'd stop has not finished after STOP_GRACE
    code = ("import sys\nfrom mlops_jupyter import cli, tracking\n"
            "with tracking.run(name='hung', project=sys.argv[1]):\n    cli._give_up()\n")  # fmt: skip
    done = subprocess.run([sys.executable, "-c", code, str(project)], cwd=project,
                          capture_output=True, text=True, timeout=120)  # fmt: skip
    assert done.returncode == 130, done.stderr
    assert tracking.get_run("hung").info.status == "KILLED"
