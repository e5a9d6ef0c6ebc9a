"""The wire format: every field checked, bounded sizes, nothing but JSON objects."""

from __future__ import annotations

import json
from typing import Any

import pytest

from hermes_agents.bounds import MAX_NAME_CHARS
from hermes_agents.scheduling.daemon.protocol import (
    MAX_MESSAGE_BYTES,
    SCHEMAS,
    ProtocolError,
    decode,
    encode,
)

VALID: list[dict[str, Any]] = [
    {"op": "hello", "version": 1, "client": "pid 1", "unscheduled": 0},
    {"op": "run", "run": "r1", "app": "qa", "deadline_s": 2.5},
    {"op": "run", "run": "r1", "app": "qa", "deadline_s": None},
    {"op": "stage", "run": "r1", "stage": "answer"},
    {"op": "submit", "task": 1, "run": None, "backend": "llm"},
    {
        "op": "submit",
        "task": 2,
        "run": "r1",
        "backend": "llm",
        "stage": "s",
        "estimate_s": 1,
        "tokens": 30,
    },
    {"op": "release", "task": 1},
    {"op": "release", "task": 1, "usage": {"prompt_tokens": 3, "seconds": 0.5}},
    {"op": "end", "run": "r1"},
    {"op": "suspend", "run": "r1"},
    {"op": "resume", "run": "r1", "app": "qa"},
    {"op": "throttle", "backend": "api", "status": 429, "retry_after_s": 7.5},
    {"op": "throttle", "backend": "api", "status": 503, "retry_after_s": None},
    {"op": "ping", "unscheduled": 4},
    {"op": "status"},
    {"op": "prior", "app": "qa", "graph": {"name": "qa", "entry": "a", "stages": {"a": {}}}},
    {"op": "graph", "app": "qa"},
]


@pytest.mark.parametrize("message", VALID)
def test_valid_messages_round_trip(message: dict[str, Any]) -> None:
    line = encode(message)
    assert line.endswith(b"\n")
    assert line.count(b"\n") == 1
    assert decode(line[:-1]) == message


def test_every_op_has_a_valid_example() -> None:
    assert {m["op"] for m in VALID} == set(SCHEMAS)


@pytest.mark.parametrize(
    ("line", "problem"),
    [
        (b"{", "not a JSON object"),
        (b"\xff", "not a JSON object"),
        (b"3", "expected a JSON object"),
        (b'{"op": 3}', "unknown op"),
        (b'{"version": 1}', "unknown op"),
        (b'{"op": "hello"}', "'version' is required"),
        (b'{"op": "hello", "version": 1, "x": 1}', "unknown field(s) 'x'"),
        (b'{"op": "submit", "task": 1.5, "run": null, "backend": "b"}', "must be int"),
        (b'{"op": "submit", "task": false, "run": null, "backend": "b"}', "got bool"),
        (b'{"op": "submit", "task": 1, "backend": "b"}', "'run' is required"),
        (b'{"op": "submit", "task": 1, "run": null, "backend": null}', "must not be null"),
        (b'{"op": "submit", "task": 1, "run": null, "backend": ""}', "1 to 256 characters"),
        (b'{"op": "submit", "task": 1, "run": null, "backend": "b", "tokens": -1}', ">= 0"),
        (b'{"op": "submit", "task": 9007199254740992, "run": null, "backend": "b"}', "at most"),
        (b'{"op": "run", "run": "r", "app": "a", "deadline_s": Infinity}', "finite"),
        (b'{"op": "release", "task": 1, "usage": {"seconds": -1}}', "usage.seconds"),
        (b'{"op": "release", "task": 1, "usage": {"tokens": 1}}', "unknown field"),
        (b'{"op": "release", "task": 1, "usage": 5}', "must be dict"),
    ],
)
def test_bad_messages_are_refused_with_the_field_named(line: bytes, problem: str) -> None:
    with pytest.raises(ProtocolError, match=None) as caught:
        decode(line)
    assert problem in str(caught.value)
    assert not caught.value.fatal


def test_long_names_and_long_lines_are_refused() -> None:
    name = "x" * (MAX_NAME_CHARS + 1)
    with pytest.raises(ProtocolError, match="characters"):
        decode(json.dumps({"op": "end", "run": name}).encode())
    with pytest.raises(ProtocolError, match="longer than") as caught:
        decode(b" " * (MAX_MESSAGE_BYTES + 1))
    assert caught.value.fatal


def test_the_daemon_never_sends_nan() -> None:
    with pytest.raises(ValueError, match="JSON compliant"):
        encode({"op": "status", "x": float("nan")})
