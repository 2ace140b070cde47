from google.protobuf import duration_pb2 as _duration_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from typing import ClassVar as _ClassVar, Iterable as _Iterable, Mapping as _Mapping, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ListTaskHubsRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class TaskHubInfo(_message.Message):
    __slots__ = ("name", "instance_counts", "entity_count", "worker_count", "now", "time_skipping")
    class InstanceCountsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: int
        def __init__(self, key: _Optional[str] = ..., value: _Optional[int] = ...) -> None: ...
    NAME_FIELD_NUMBER: _ClassVar[int]
    INSTANCE_COUNTS_FIELD_NUMBER: _ClassVar[int]
    ENTITY_COUNT_FIELD_NUMBER: _ClassVar[int]
    WORKER_COUNT_FIELD_NUMBER: _ClassVar[int]
    NOW_FIELD_NUMBER: _ClassVar[int]
    TIME_SKIPPING_FIELD_NUMBER: _ClassVar[int]
    name: str
    instance_counts: _containers.ScalarMap[str, int]
    entity_count: int
    worker_count: int
    now: _timestamp_pb2.Timestamp
    time_skipping: bool
    def __init__(self, name: _Optional[str] = ..., instance_counts: _Optional[_Mapping[str, int]] = ..., entity_count: _Optional[int] = ..., worker_count: _Optional[int] = ..., now: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ..., time_skipping: bool = ...) -> None: ...

class ListTaskHubsResponse(_message.Message):
    __slots__ = ("task_hubs",)
    TASK_HUBS_FIELD_NUMBER: _ClassVar[int]
    task_hubs: _containers.RepeatedCompositeFieldContainer[TaskHubInfo]
    def __init__(self, task_hubs: _Optional[_Iterable[_Union[TaskHubInfo, _Mapping]]] = ...) -> None: ...

class ListWorkersRequest(_message.Message):
    __slots__ = ("task_hub",)
    TASK_HUB_FIELD_NUMBER: _ClassVar[int]
    task_hub: str
    def __init__(self, task_hub: _Optional[str] = ...) -> None: ...

class WorkerInfo(_message.Message):
    __slots__ = ("task_hub", "session_id", "worker_id", "user_agent", "peer", "connected_at", "in_flight", "delivered")
    TASK_HUB_FIELD_NUMBER: _ClassVar[int]
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    WORKER_ID_FIELD_NUMBER: _ClassVar[int]
    USER_AGENT_FIELD_NUMBER: _ClassVar[int]
    PEER_FIELD_NUMBER: _ClassVar[int]
    CONNECTED_AT_FIELD_NUMBER: _ClassVar[int]
    IN_FLIGHT_FIELD_NUMBER: _ClassVar[int]
    DELIVERED_FIELD_NUMBER: _ClassVar[int]
    task_hub: str
    session_id: int
    worker_id: str
    user_agent: str
    peer: str
    connected_at: _timestamp_pb2.Timestamp
    in_flight: int
    delivered: int
    def __init__(self, task_hub: _Optional[str] = ..., session_id: _Optional[int] = ..., worker_id: _Optional[str] = ..., user_agent: _Optional[str] = ..., peer: _Optional[str] = ..., connected_at: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ..., in_flight: _Optional[int] = ..., delivered: _Optional[int] = ...) -> None: ...

class ListWorkersResponse(_message.Message):
    __slots__ = ("workers",)
    WORKERS_FIELD_NUMBER: _ClassVar[int]
    workers: _containers.RepeatedCompositeFieldContainer[WorkerInfo]
    def __init__(self, workers: _Optional[_Iterable[_Union[WorkerInfo, _Mapping]]] = ...) -> None: ...

class ResetTaskHubRequest(_message.Message):
    __slots__ = ("task_hub", "all")
    TASK_HUB_FIELD_NUMBER: _ClassVar[int]
    ALL_FIELD_NUMBER: _ClassVar[int]
    task_hub: str
    all: bool
    def __init__(self, task_hub: _Optional[str] = ..., all: bool = ...) -> None: ...

class ResetTaskHubResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class GetTimeRequest(_message.Message):
    __slots__ = ("task_hub",)
    TASK_HUB_FIELD_NUMBER: _ClassVar[int]
    task_hub: str
    def __init__(self, task_hub: _Optional[str] = ...) -> None: ...

class AdvanceTimeRequest(_message.Message):
    __slots__ = ("task_hub", "duration")
    TASK_HUB_FIELD_NUMBER: _ClassVar[int]
    DURATION_FIELD_NUMBER: _ClassVar[int]
    task_hub: str
    duration: _duration_pb2.Duration
    def __init__(self, task_hub: _Optional[str] = ..., duration: _Optional[_Union[_duration_pb2.Duration, _Mapping]] = ...) -> None: ...

class SetTimeSkippingRequest(_message.Message):
    __slots__ = ("task_hub", "enabled")
    TASK_HUB_FIELD_NUMBER: _ClassVar[int]
    ENABLED_FIELD_NUMBER: _ClassVar[int]
    task_hub: str
    enabled: bool
    def __init__(self, task_hub: _Optional[str] = ..., enabled: bool = ...) -> None: ...

class TimeResponse(_message.Message):
    __slots__ = ("task_hub", "now", "offset", "time_skipping")
    TASK_HUB_FIELD_NUMBER: _ClassVar[int]
    NOW_FIELD_NUMBER: _ClassVar[int]
    OFFSET_FIELD_NUMBER: _ClassVar[int]
    TIME_SKIPPING_FIELD_NUMBER: _ClassVar[int]
    task_hub: str
    now: _timestamp_pb2.Timestamp
    offset: _duration_pb2.Duration
    time_skipping: bool
    def __init__(self, task_hub: _Optional[str] = ..., now: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ..., offset: _Optional[_Union[_duration_pb2.Duration, _Mapping]] = ..., time_skipping: bool = ...) -> None: ...
