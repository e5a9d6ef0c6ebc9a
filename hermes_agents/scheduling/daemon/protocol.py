"""The daemon's wire protocol, version 1: one JSON object per line, both ways.

Every message is a UTF-8 JSON object on one line (``\\n``-terminated), at most
``MAX_MESSAGE_BYTES`` bytes; its ``op`` says what it is. No pickle, nothing executable: the
daemon only ever sees metadata (app, stage, backend, demand estimate), never a prompt.

Client -> daemon (every field is checked; unknown fields are refused)::

    hello    version:int  client:str?  token:str?  unscheduled:int?   first, exactly once
    run      run:str  app:str  deadline_s:float|null?  tier:str|null?  partial:bool?
                                                            an app run starts (deadline: s from
                                                            now, 0.001 to a year; tier: critical,
                                                            standard or sheddable, null: the
                                                            daemon's config; partial: registered
                                                            again after a daemon restart, not
                                                            learned)
    stage    run:str  stage:str  visit:str?                 the run visits a stage
    submit   task:int  run:str|null  backend:str  stage:str|null?  visit:str|null?
             estimate_s:float?  tokens:int?
    release  task:int  usage:{prompt_tokens, output_tokens, cached_tokens, seconds}|null?
    end      run:str  partial:bool?                         the run finished (partial: it raised,
                                                            or some calls ran unscheduled)
    suspend  run:str                                        the run waits for a human (no slot,
                                                            no rank, no warm-up) until resumed
    resume   run:str  app:str                               a suspended run continues (one the
                                                            daemon lost restarts, unlearned)
    throttle backend:str  status:int  retry_after_s:float|null?
                                                            a call on backend was refused for
                                                            load: status 429 or 503, Retry-After
                                                            0 to 3600 s (null: none given); an
                                                            auto window halves (no answer)
    ping     unscheduled:int?                               heartbeat (keeps the lease)
    status                                                  ask for a snapshot
    prior    app:str  graph:object                          the app's structural PDGraph (JSON)
    graph    app:str                                        ask for the app's learned PDGraph

Daemon -> client::

    welcome  version  server  policy  lease_s               answer to hello
    grant    task  rank:float?                              the task may run now (rank: its run's)
    withdrawn  task  reason:str                             the task left its queue ungranted
                                                            (its run ended while it waited)
    pong                                                    answer to ping
    graph    app  graph:object|null  version:int?           answer to graph (PDGraph JSON)
    status   ...snapshot (see ``service.DaemonService.snapshot``)
    error    error:str  fatal:bool  task:int?  op_failed:str?  fatal: the daemon then hangs up

Task ids are the client's own (unique per connection); a ``submit`` whose ``run`` is null is a
one-call app that ends with its ``release``. A ``release`` of a waiting task withdraws it.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from hermes_agents.bounds import (
    MAX_CALL_S,
    MAX_DEADLINE_S,
    MAX_RETRY_AFTER_S,
    MAX_TOKENS,
    THROTTLE_STATUSES,
    name_problem,
    remembered_name_problem,
)
from hermes_agents.scheduling.tiers import MIN_DEADLINE_S

PROTOCOL_VERSION: Final = 1
MAX_MESSAGE_BYTES: Final = 64 * 1024
"""Longest line accepted, newline excluded; a longer one is a fatal error."""
MAX_ID: Final = 2**53 - 1
"""Largest task id (JSON numbers are exact up to here)."""

USAGE_FIELDS: Final = ("prompt_tokens", "output_tokens", "cached_tokens", "seconds")


class ProtocolError(ValueError):
    """A message broke the protocol; ``fatal`` ones end the connection."""

    def __init__(
        self, problem: str, *, op: str | None = None, fatal: bool = False, task: int | None = None
    ) -> None:
        super().__init__(problem)
        self.op = op
        self.fatal = fatal
        self.task = task


@dataclass(frozen=True)
class Field:
    """One field of a message: its JSON types, whether required, and its bounds."""

    kinds: tuple[type, ...]
    required: bool = True
    nullable: bool = False
    minimum: float | None = None
    maximum: float | None = None


_STR = Field((str,))
_FLAG = Field((bool,), required=False)
_INT = Field((int,), minimum=0)
_COUNT = Field((int,), required=False, minimum=0)
_TOKENS = Field((int,), required=False, minimum=0, maximum=MAX_TOKENS)
_SECONDS = Field((int, float), required=False, minimum=0.0, maximum=MAX_CALL_S)

SCHEMAS: Final[Mapping[str, Mapping[str, Field]]] = {
    "hello": {
        "version": Field((int,)),
        "client": Field((str,), required=False),
        "token": Field((str,), required=False),
        "unscheduled": _COUNT,
    },
    "run": {
        "run": _STR,
        "app": _STR,
        "partial": _FLAG,
        "deadline_s": Field(
            (int, float),
            required=False,
            nullable=True,
            minimum=MIN_DEADLINE_S,
            maximum=MAX_DEADLINE_S,
        ),
        "tier": Field((str,), required=False, nullable=True),
    },
    "stage": {"run": _STR, "stage": _STR, "visit": Field((str,), required=False)},
    "submit": {
        "task": _INT,
        "run": Field((str,), nullable=True),
        "backend": _STR,
        "stage": Field((str,), required=False, nullable=True),
        "visit": Field((str,), required=False, nullable=True),
        "estimate_s": _SECONDS,
        "tokens": _TOKENS,
    },
    "release": {"task": _INT, "usage": Field((dict,), required=False, nullable=True)},
    "end": {"run": _STR, "partial": _FLAG},
    "suspend": {"run": _STR},
    "resume": {"run": _STR, "app": _STR},
    "throttle": {
        "backend": _STR,
        "status": Field((int,), minimum=429, maximum=503),
        "retry_after_s": Field(
            (int, float), required=False, nullable=True, minimum=0.0, maximum=MAX_RETRY_AFTER_S
        ),
    },
    "ping": {"unscheduled": _COUNT},
    "status": {},
    "prior": {"app": _STR, "graph": Field((dict,))},
    "graph": {"app": _STR},
}
"""Client messages: op -> field -> rules."""


def encode(message: Mapping[str, Any]) -> bytes:
    """One message as a protocol line (compact JSON, no NaN or infinity, newline-terminated)."""
    return json.dumps(message, separators=(",", ":"), allow_nan=False).encode() + b"\n"


_DECODER: Final = json.JSONDecoder()


def decode(line: bytes) -> dict[str, Any]:
    """Parse and check one client line (without its newline); raises ``ProtocolError``."""
    if len(line) > MAX_MESSAGE_BYTES:
        raise ProtocolError(f"message longer than {MAX_MESSAGE_BYTES} bytes", fatal=True)
    try:
        message = _DECODER.decode(line.decode())  # strict UTF-8: a bad byte is a bad message
    except (UnicodeDecodeError, ValueError) as error:
        raise ProtocolError(f"not a JSON object: {error}") from error
    except RecursionError:  # JSON nested deeper than the parser's stack (under the size cap)
        raise ProtocolError("not a JSON object: nested too deeply") from None
    if not isinstance(message, dict):
        raise ProtocolError(f"expected a JSON object, got {type(message).__name__}")
    op = message.get("op")
    try:
        if not isinstance(op, str) or op not in SCHEMAS:
            raise ProtocolError(f"unknown op {op!r}; expected one of {', '.join(SCHEMAS)}")
        _check_fields(message, SCHEMAS[op], op)
        if op == "release" and message.get("usage") is not None:
            _check_usage(message["usage"])
        elif op == "throttle" and message["status"] not in THROTTLE_STATUSES:
            problem = f"field 'status': must be 429 or 503, got {message['status']}"
            raise ProtocolError(problem, op=op)
    except ProtocolError as error:
        task = message.get("task")  # name the task, so its caller can go ahead unscheduled
        if isinstance(task, int) and not isinstance(task, bool):
            error.task = task
        raise
    return message


_KNOWN_FIELDS: Final = {op: frozenset(schema) | {"op"} for op, schema in SCHEMAS.items()}


def _check_fields(message: Mapping[str, Any], schema: Mapping[str, Field], op: str) -> None:
    if not message.keys() <= _KNOWN_FIELDS[op]:
        unknown = sorted(set(message) - _KNOWN_FIELDS[op])
        raise ProtocolError(f"unknown field(s) {', '.join(map(repr, unknown))}", op=op)
    for name, rule in schema.items():
        if name not in message:
            if rule.required:
                raise ProtocolError(f"field {name!r} is required", op=op)
            continue
        problem = _check_value(message[name], rule)
        if problem is not None:
            raise ProtocolError(f"field {name!r}: {problem}", op=op)


def _check_value(value: object, rule: Field) -> str | None:
    """What is wrong with ``value`` under ``rule``, or None."""
    if type(value) is str and str in rule.kinds:  # the common cases first (every message)
        return remembered_name_problem(value)
    if type(value) is int and int in rule.kinds:
        low, high = rule.minimum, rule.maximum
        if (low is None or value >= low) and value <= MAX_ID and (high is None or value <= high):
            return None
    elif type(value) is float and float in rule.kinds:  # NaN fails both tests: checked below
        low, high = rule.minimum, rule.maximum
        finite = -math.inf < value < math.inf
        if finite and (low is None or value >= low) and (high is None or value <= high):
            return None
    if value is None:
        return None if rule.nullable else "must not be null"
    if (isinstance(value, bool) and bool not in rule.kinds) or not isinstance(value, rule.kinds):
        wanted = " or ".join(kind.__name__ for kind in rule.kinds)
        return f"must be {wanted}, got {type(value).__name__}"
    if isinstance(value, str):
        return name_problem(value)
    if isinstance(value, float) and not math.isfinite(value):
        return "must be finite"
    if isinstance(value, int) and value > MAX_ID:
        return f"must be at most {MAX_ID}"
    if rule.minimum is not None and isinstance(value, int | float) and value < rule.minimum:
        return f"must be >= {rule.minimum}, got {value}"
    if rule.maximum is not None and isinstance(value, int | float) and value > rule.maximum:
        return f"must be <= {rule.maximum:g}, got {value}"
    return None


def _check_usage(usage: Mapping[str, Any]) -> None:
    unknown = sorted(set(usage) - set(USAGE_FIELDS))
    if unknown:
        raise ProtocolError(f"field 'usage': unknown field(s) {unknown}", op="release")
    for name in USAGE_FIELDS:
        rule = _SECONDS if name == "seconds" else _TOKENS
        problem = _check_value(usage.get(name, 0), rule)
        if problem is not None:
            raise ProtocolError(f"field 'usage.{name}': {problem}", op="release")


def error_message(
    problem: str, *, fatal: bool = False, task: int | None = None, op: str | None = None
) -> dict[str, Any]:
    """An ``error`` message from the daemon."""
    message: dict[str, Any] = {"op": "error", "error": problem, "fatal": fatal}
    if task is not None:
        message["task"] = task
    if op is not None:
        message["op_failed"] = op
    return message
