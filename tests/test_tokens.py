"""Continuation tokens are opaque and checked: a string the emulator did not issue for that listing
and task hub is INVALID_ARGUMENT with a message saying so; a real token keeps working, also after a
restart with --db."""

from __future__ import annotations

import grpc
import pytest
from durabletask.internal import orchestrator_service_pb2 as pb
from google.protobuf import wrappers_pb2

from emulator import InMemoryOrchestrationBackend
from tests.helpers import raw_stub


def _start_many(stub, count: int, metadata=()):
    for i in range(count):
        stub.StartInstance(pb.CreateInstanceRequest(instanceId=f"i{i:02}", name="nobody-runs-me"), metadata=metadata)


def _page(stub, token=None, metadata=()):
    query = pb.InstanceQuery(maxInstanceCount=2, continuationToken=token)
    return stub.QueryInstances(pb.QueryInstancesRequest(query=query), metadata=metadata)


def _refused(call, *args, **kwargs) -> str:
    with pytest.raises(grpc.RpcError) as err:
        call(*args, **kwargs)
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT, err.value.details()
    return err.value.details()


def _tampered(token: str) -> str:
    i = len(token) // 2
    return token[:i] + ("A" if token[i] != "A" else "B") + token[i + 1 :]


def test_every_listing_refuses_a_string_it_did_not_issue(backend):
    stub = raw_stub(backend)
    _start_many(stub, 3)
    bogus = wrappers_pb2.StringValue(value="i00")  # an instance ID is not a token
    detail = _refused(_page, stub, bogus)
    assert "QueryInstances: 'i00' is not a continuation token this emulator issued" in detail
    assert "pass back the continuation token of the previous page" in detail
    ids = pb.ListInstanceIdsRequest(pageSize=1, lastInstanceKey=bogus)
    assert "ListInstanceIds: 'i00' is not a continuation token" in _refused(stub.ListInstanceIds, ids)
    entities = pb.QueryEntitiesRequest(query=pb.EntityQuery(continuationToken=bogus))
    assert "QueryEntities: 'i00' is not a continuation token" in _refused(stub.QueryEntities, entities)
    clean = pb.CleanEntityStorageRequest(continuationToken=bogus, removeEmptyEntities=True)
    assert "CleanEntityStorage: 'i00' is not a continuation token" in _refused(stub.CleanEntityStorage, clean)
    # the server is unharmed: a first page still answers
    assert [s.instanceId for s in _page(stub).orchestrationState] == ["i00", "i01"]


def test_a_damaged_or_misplaced_token_is_refused_and_a_real_one_continues(backend):
    stub = raw_stub(backend)
    _start_many(stub, 5)
    first = _page(stub)
    token = first.continuationToken
    assert token.value.startswith("dtemu1.")
    assert "is damaged (checksum mismatch)" in _refused(
        _page, stub, wrappers_pb2.StringValue(value=_tampered(token.value))
    )
    assert "is damaged" in _refused(_page, stub, wrappers_pb2.StringValue(value=token.value[:-3]))
    # a QueryInstances token is not a ListInstanceIds key
    ids = pb.ListInstanceIdsRequest(pageSize=2, lastInstanceKey=token)
    assert "issued by QueryInstances, not by ListInstanceIds" in _refused(stub.ListInstanceIds, ids)
    # nor a token of another task hub
    _start_many(stub, 1, metadata=[("taskhub", "other")])
    detail = _refused(_page, stub, token, metadata=[("taskhub", "other")])
    assert "issued for task hub 'default', not for 'other'" in detail
    # the real token still gives the next pages, every instance once
    seen = [s.instanceId for s in first.orchestrationState]
    while token.value:
        reply = _page(stub, token)
        seen += [s.instanceId for s in reply.orchestrationState]
        token = reply.continuationToken
    assert seen == [f"i{i:02}" for i in range(5)]


def test_list_instance_ids_and_entities_page_with_their_own_tokens(backend):
    stub = raw_stub(backend)
    for i in range(3):
        stub.SignalEntity(pb.SignalEntityRequest(instanceId=f"@counter@c{i}", name="add", requestId=f"r{i}"))
    query = pb.EntityQuery(pageSize=wrappers_pb2.Int32Value(value=2), includeTransient=True)
    first = stub.QueryEntities(pb.QueryEntitiesRequest(query=query))
    assert first.continuationToken.value.startswith("dtemu1.")
    query.continuationToken.CopyFrom(first.continuationToken)
    second = stub.QueryEntities(pb.QueryEntitiesRequest(query=query))
    names = [e.instanceId for e in first.entities] + [e.instanceId for e in second.entities]
    assert names == ["@counter@c0", "@counter@c1", "@counter@c2"] and not second.HasField("continuationToken")
    # an entities token is refused by QueryInstances
    assert "issued by QueryEntities, not by QueryInstances" in _refused(_page, stub, first.continuationToken)


def test_a_token_survives_a_restart_with_db(tmp_path):
    db = str(tmp_path / "tokens.db")
    with InMemoryOrchestrationBackend(port=0, db_path=db) as backend:
        stub = raw_stub(backend)
        _start_many(stub, 3)
        token = _page(stub).continuationToken
    with InMemoryOrchestrationBackend(port=0, db_path=db) as backend:
        rest = _page(raw_stub(backend), token)
        assert [s.instanceId for s in rest.orchestrationState] == ["i02"]
