"""A Dapr Workflow app (dapr-ext-workflow) run against the emulator's Dapr port by tests/test_dapr.py.

Run as ``python tests/dapr/app.py HOST:PORT INSTANCE_ID``: a process of its own, since the Dapr SDK
cannot share one with the emulator's protocol messages. It registers the Dapr suite's workflows
(tests/sdk/dapr_python/workflows.py), runs a few and prints one JSON line with their outcomes.
"""

import json
import logging
import sys
import warnings
from pathlib import Path

warnings.filterwarnings("ignore")
logging.basicConfig(level=logging.WARNING)
sys.path.insert(0, str(Path(__file__).parents[1] / "sdk" / "dapr_python"))

import dapr.ext.workflow as wf  # noqa: E402
import workflows as w  # noqa: E402

host, port = sys.argv[1].rsplit(":", 1)
runtime = wf.WorkflowRuntime(host, port)
for fn in w.WORKFLOWS:
    runtime.register_workflow(fn)
for fn in w.ACTIVITIES:
    runtime.register_activity(fn)
runtime.start()
client = wf.DaprWorkflowClient(host, port)
runs = {
    "parent": (w.parent, 7),
    "ids": (w.with_execution_ids, None),
    "patched": (w.patched, None),
    "event": (w.wait_event, None),
}
for key, (workflow, arg) in runs.items():
    client.schedule_new_workflow(workflow=workflow, input=arg, instance_id=f"{sys.argv[2]}-{key}")
client.wait_for_workflow_start(f"{sys.argv[2]}-event", timeout_in_seconds=20)
client.raise_workflow_event(f"{sys.argv[2]}-event", "approval", data={"ok": True})
report = {}
for key in runs:
    state = client.wait_for_workflow_completion(f"{sys.argv[2]}-{key}", timeout_in_seconds=30)
    report[key] = {
        "status": state.runtime_status.name,
        "output": json.loads(state.serialized_output) if state.serialized_output else None,
        "failure": state.failure_details.message if state.failure_details else None,
    }
print(json.dumps(report))
runtime.shutdown()
