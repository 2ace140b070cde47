"""The workflows and activities of the Dapr Python suite, written as a Dapr Workflow app writes them."""

from __future__ import annotations

from datetime import timedelta

import dapr.ext.workflow as wf

ATTEMPTS: dict[str, int] = {}  # retried activities: attempts so far, by key


def hello(ctx: wf.WorkflowActivityContext, name):
    return f"hello {name}"


def execution_id(ctx: wf.WorkflowActivityContext, _):
    return ctx.get_inner_context().task_execution_id


def fail(ctx: wf.WorkflowActivityContext, message):
    raise ValueError(message)


def flaky(ctx: wf.WorkflowActivityContext, key):
    """Fails on its first two attempts for ``key``."""
    ATTEMPTS[key] = ATTEMPTS.get(key, 0) + 1
    if ATTEMPTS[key] < 3:
        raise RuntimeError(f"attempt {ATTEMPTS[key]} failed")
    return ATTEMPTS[key]


def one_activity(ctx: wf.DaprWorkflowContext, name):
    return (yield ctx.call_activity(hello, input=name))


def with_execution_ids(ctx: wf.DaprWorkflowContext, _):
    first = yield ctx.call_activity(execution_id)
    second = yield ctx.call_activity(execution_id)
    return [first, second]


def chain(ctx: wf.DaprWorkflowContext, names):
    out = []
    for name in names:
        out.append((yield ctx.call_activity(hello, input=name)))
    return out


def fan_out(ctx: wf.DaprWorkflowContext, n):
    return (yield wf.when_all([ctx.call_activity(hello, input=i) for i in range(n)]))


def first_of(ctx: wf.DaprWorkflowContext, _):
    event = ctx.wait_for_external_event("never")
    work = ctx.call_activity(hello, input="fast")
    winner = yield wf.when_any([event, work])
    return "activity" if winner == work else "event"


def child(ctx: wf.DaprWorkflowContext, x):
    return (yield ctx.call_activity(hello, input=f"child {x}"))


def parent(ctx: wf.DaprWorkflowContext, x):
    return (yield ctx.call_child_workflow(child, input=x))


def failing_child(ctx: wf.DaprWorkflowContext, message):
    yield ctx.call_activity(fail, input=message)


def parent_of_failing_child(ctx: wf.DaprWorkflowContext, message):
    try:
        yield ctx.call_child_workflow(failing_child, input=message)
    except wf.TaskFailedError as e:
        return f"caught: {e.details.message}"
    return "no failure"


def wait_event(ctx: wf.DaprWorkflowContext, _):
    return (yield ctx.wait_for_external_event("approval"))


def event_or_timeout(ctx: wf.DaprWorkflowContext, seconds):
    event = ctx.wait_for_external_event("approval")
    timeout = ctx.create_timer(timedelta(seconds=seconds))
    winner = yield wf.when_any([event, timeout])
    return "timed out" if winner == timeout else event.get_result()


def timer(ctx: wf.DaprWorkflowContext, seconds):
    started = ctx.current_utc_datetime
    yield ctx.create_timer(timedelta(seconds=seconds))
    return (ctx.current_utc_datetime - started).total_seconds()


def counter(ctx: wf.DaprWorkflowContext, n):
    if n < 3:
        ctx.continue_as_new(n + 1)
        return None
    return n


def caught_failure(ctx: wf.DaprWorkflowContext, message):
    try:
        yield ctx.call_activity(fail, input=message)
    except wf.TaskFailedError as e:
        return {"type": e.details.error_type, "message": e.details.message}
    return None


def uncaught_failure(ctx: wf.DaprWorkflowContext, message):
    yield ctx.call_activity(fail, input=message)


def retried(ctx: wf.DaprWorkflowContext, key):
    policy = wf.RetryPolicy(first_retry_interval=timedelta(milliseconds=100), max_number_of_attempts=3)
    return (yield ctx.call_activity(flaky, input=key, retry_policy=policy))


def status_then_wait(ctx: wf.DaprWorkflowContext, status):
    ctx.set_custom_status(status)
    return (yield ctx.wait_for_external_event("go"))


def patched(ctx: wf.DaprWorkflowContext, _):
    seen = [ctx.is_patched("v2")]
    yield ctx.call_activity(hello, input="between")  # a second turn: the first one is replayed
    seen.append(ctx.is_patched("v2"))
    yield ctx.create_timer(timedelta(milliseconds=50))
    seen.append(ctx.is_patched("v2"))
    return seen


def other_app(ctx: wf.DaprWorkflowContext, what):
    try:
        if what == "activity":
            yield ctx.call_activity("hello", input="x", app_id="billing")
        else:
            yield ctx.call_child_workflow("child", input="x", app_id="billing")
    except wf.TaskFailedError as e:
        return {"type": e.details.error_type, "message": e.details.message}
    return None


WORKFLOWS = [
    one_activity,
    with_execution_ids,
    chain,
    fan_out,
    first_of,
    child,
    parent,
    failing_child,
    parent_of_failing_child,
    wait_event,
    event_or_timeout,
    timer,
    counter,
    caught_failure,
    uncaught_failure,
    retried,
    status_then_wait,
    patched,
    other_app,
]
ACTIVITIES = [hello, execution_id, fail, flaky]
