"""A worker's start-up reports (engine/worker/startup.py): JSON the engine reads, without importing
json in a worker whose start-up goes well (~1.5 ms of each worker's boot, issue 10)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from procviz.engine.worker.startup import json_object


@pytest.mark.parametrize("fields", [
    {"stage": "import", "module": "procviz.engine.worker.workloads", "pid": 123},
    {"stage": "ready-to-connect", "module": "my_tasks", "pid": 1},
    {"stage": "import", "failed": "SystemExit", "exit_code": 3, "message": "sys.exit('a \"quoted\" word')"},
    {"flag": True, "none": None, "ratio": 1.5, "accent": "é", "path": "C:\\temp", "tab": "a\tb", "pid": -1},
])
def test_a_report_reads_back_as_json_would_have_written_it(fields: dict) -> None:
    assert json.loads(json_object(fields)) == json.loads(json.dumps(fields, default=str))


def test_a_start_up_that_goes_well_imports_no_json() -> None:
    code = ("import sys\nfrom procviz.engine.worker.startup import report\n"
            "report('/nonexistent/events.sock', stage='import', module='procviz.engine.worker.workloads')\n"
            "print('json' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert out.stdout.strip() == "False"
