"""A Dapr Workflow app (dapr-ext-workflow) run against the emulator's Dapr port by tests/test_dapr.py.

Run as ``python tests/dapr/app.py HOST:PORT INSTANCE_ID``: the Dapr SDK reads its address from
DAPR_GRPC_ENDPOINT when it is imported, so every run is a process of its own. Prints one JSON line
with the workflow's status, output and failure message.
"""

import json
import logging
import os
import sys
import warnings
from datetime import timedelta

warnings.filterwarnings("ignore")
os.environ["DAPR_GRPC_ENDPOINT"] = sys.argv[1]
logging.basicConfig(level=logging.WARNING)

import dapr.ext.workflow as wf  # noqa: E402  (after DAPR_GRPC_ENDPOINT is set)

runtime = wf.WorkflowRuntime()


@runtime.activity(name="hello")
def hello(ctx, name):
    return {"greeting": f"hi {name}", "taskExecutionId": ctx.get_inner_context().task_execution_id}


@runtime.workflow(name="child")
def child(ctx, x):
    reply = yield ctx.call_activity(hello, input=f"child {x}")
    return reply["greeting"]


@runtime.workflow(name="parent")
def parent(ctx, x):
    first = yield ctx.call_activity(hello, input="bob")
    from_child = yield ctx.call_child_workflow(child, input=x)
    yield ctx.create_timer(timedelta(milliseconds=200))
    both = yield wf.when_all([ctx.call_activity(hello, input="x"), ctx.call_activity(hello, input="y")])
    event = yield ctx.wait_for_external_event("go")
    return {"first": first, "child": from_child, "both": [r["greeting"] for r in both], "event": event}


@runtime.workflow(name="patched")
def patched(ctx, _):
    seen = [ctx.is_patched("v2")]
    yield ctx.call_activity(hello, input="between")  # a second turn: the first is replayed
    seen.append(ctx.is_patched("v2"))
    yield ctx.create_timer(timedelta(milliseconds=50))
    seen.append(ctx.is_patched("v2"))
    return seen


runtime.start()
client = wf.DaprWorkflowClient()
instance_id = client.schedule_new_workflow(workflow=parent, input=7, instance_id=sys.argv[2])
client.wait_for_workflow_start(instance_id, timeout_in_seconds=20)
client.raise_workflow_event(instance_id, "go", data={"ok": True})
state = client.wait_for_workflow_completion(instance_id, timeout_in_seconds=30)
patched_id = client.schedule_new_workflow(workflow=patched, instance_id=sys.argv[2] + "-patched")
patched_state = client.wait_for_workflow_completion(patched_id, timeout_in_seconds=30)
print(
    json.dumps(
        {
            "status": state.runtime_status.name,
            "output": json.loads(state.serialized_output) if state.serialized_output else None,
            "failure": state.failure_details.message if state.failure_details else None,
            "patched": {
                "status": patched_state.runtime_status.name,
                "output": json.loads(patched_state.serialized_output) if patched_state.serialized_output else None,
                "failure": patched_state.failure_details.message if patched_state.failure_details else None,
            },
        }
    )
)
runtime.shutdown()
