"""Hostile lines for the daemon's decoder and service: deep nesting, bad Unicode, huge numbers,
and fuzzed input. Each is a protocol error like any other: an answer, no traceback, and the
session keeps working (issue 13, items 2 and 10)."""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hermes_agents.scheduling import BackendLimits, SchedulerCore
from hermes_agents.scheduling.daemon.protocol import MAX_MESSAGE_BYTES, ProtocolError, decode
from hermes_agents.scheduling.daemon.service import DaemonService
from hermes_agents.scheduling.policies import policy_named
from hermes_agents.scheduling.state import UNLIMITED

HOSTILE = [
    b"[" * 30_000,
    b'{"a":' * 10_000 + b"1" + b"}" * 10_000,
    b'{"op":"run","run":"r","app":"\\ud800"}',
    b'{"op":"run","run":"r","app":"\\u001b[2J"}',
    b'{"op":"submit","task":1,"run":null,"backend":"llm","estimate_s":1e308}',
    b'{"op":"submit","task":1,"run":null,"backend":"llm","tokens":100000000000}',
    b'{"op":"release","task":1,"usage":{"seconds":1e308}}',
    b'{"op":"run","run":"r","app":"qa","deadline_s":1e308}',
    b'{"op":"submit","task":1,"run":null,"backend":"llm","estimate_s":NaN}',
    b"\xff\xfe",
]


@pytest.mark.parametrize("line", HOSTILE, ids=range(len(HOSTILE)))
def test_hostile_lines_are_protocol_errors(line: bytes) -> None:
    assert len(line) <= MAX_MESSAGE_BYTES
    with pytest.raises(ProtocolError):
        decode(line)


def _service() -> tuple[DaemonService, list[bytes]]:
    core = SchedulerCore(
        {"llm": BackendLimits(1)}, policy_named("gittins"), lambda: 0.0, default_limits=UNLIMITED
    )
    service = DaemonService(core)
    return service, []


def _hello(service: DaemonService, sent: list[bytes]) -> Any:
    session = service.open(sent.append, lambda: None, needs_token=False)
    service.receive(session, b'{"op":"hello","version":1}')
    service.flush()
    return session


def test_hostile_lines_get_answers_and_no_traceback(caplog: pytest.LogCaptureFixture) -> None:
    service, sent = _service()
    session = _hello(service, sent)
    with caplog.at_level(logging.DEBUG):
        for line in HOSTILE:
            service.receive(session, line)
            service.flush()
    assert "Traceback" not in caplog.text
    answers = [json.loads(part) for data in sent[1:] for part in data.splitlines()]
    assert [answer["op"] for answer in answers] == ["error"] * len(HOSTILE)
    assert not session.closed
    assert service.counters.protocol_errors == len(HOSTILE)
    service.receive(session, b'{"op":"submit","task":5,"run":null,"backend":"llm"}')
    service.flush()
    assert b'"grant"' in sent[-1]  # the session still works


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=20,
)
OPS = st.sampled_from(["hello", "run", "stage", "submit", "release", "end", "ping", "status"])
MESSAGES = st.fixed_dictionaries(
    {"op": OPS},
    optional={
        "task": st.integers(-3, 2**60) | JSON,
        "run": st.text(max_size=8) | JSON,
        "app": st.text(max_size=8) | JSON,
        "backend": st.sampled_from(["llm", "other"]) | JSON,
        "usage": JSON,
        "estimate_s": st.floats(allow_nan=False) | JSON,
        "version": st.integers(0, 2),
    },
)


@settings(
    max_examples=300,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(st.lists(MESSAGES | JSON | st.binary(max_size=64), min_size=1, max_size=12))
def test_fuzzed_sessions_never_break_the_service(lines: list[Any]) -> None:
    service, sent = _service()
    session = _hello(service, sent)
    for item in lines:
        line = item if isinstance(item, bytes) else json.dumps(item).encode()
        if b"\n" in line:
            continue
        service.receive(session, line)  # never raises
        service.flush()
    service.end_session(session)
    service.flush()
    assert service.core.tasks == {}
    assert service.core.runs == {}
