"""``make test`` only: coverage measures the processes the tests start that run this project.

conftest.py puts this folder on PYTHONPATH and coverage's configuration in MEASURED_ENV. An
endpoint server (and the workers it spawns), the CLI and the sweep runs it starts are measured;
kernels, MLflow, Voila and Jupyter servers are not. They run the libraries' own code, and
measuring them doubled the suite's CPU time for a few lines of ours.
"""

import os
import sys

MEASURED_ENV = "MLOPS_TEST_COVERAGE"
OURS = ("mlops_jupyter", "mlops-jupyter", "--multiprocessing-fork")

_config = os.environ.get(MEASURED_ENV)
if _config:
    if any(mark in arg for arg in sys.orig_argv[1:] for mark in OURS):
        import coverage

        os.environ["COVERAGE_PROCESS_CONFIG"] = _config
        coverage.process_startup()
        del os.environ["COVERAGE_PROCESS_CONFIG"]  # children decide for themselves, here
    else:
        del os.environ[MEASURED_ENV]  # nor anything this process starts
