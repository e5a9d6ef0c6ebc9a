"""A real llama.cpp server in a subprocess: start it, wait until it serves, stop it for sure.

The server is llama.cpp's own HTTP server (``xllamacpp``, run by ``serve_process``) in a new
process group on 127.0.0.1 and a port the operating system picks, so it is a real cold/warm
backend: it can crash, be killed, sleep when idle and reload on the next request. It speaks the
OpenAI API under ``.base_url`` plus llama.cpp's ``/health``, ``/slots``, ``/metrics`` and
``/props`` under ``.url``.

Example::

    from openai import OpenAI
    from hermes_agents.local import LlamaServer, local_model_path

    with LlamaServer(local_model_path(), slots=2, sleep_idle_s=30) as server:
        client = OpenAI(base_url=server.base_url, api_key="local")
        reply = client.chat.completions.create(
            model=server.model_name, messages=[{"role": "user", "content": "Hi"}], max_tokens=16
        )

POSIX only (process groups).
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import weakref
from pathlib import Path
from types import TracebackType
from typing import Any

from hermes_agents.errors import HermesError
from hermes_agents.local.options import Pooling, ServerOptions

__all__ = ["LlamaServer"]

_POLL_S = 0.05
_TAIL_LINES = 25


def _kill_group(pid: int, sig: int) -> None:
    """Send ``sig`` to the process group led by ``pid``; a group already gone is fine."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, sig)


def _tail(path: Path, lines: int = _TAIL_LINES) -> str:
    """The last ``lines`` lines of a log file ("" when there is none)."""
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""
    return "\n".join(text.splitlines()[-lines:])


def _get_json(url: str, timeout_s: float) -> Any:
    """GET ``url`` and decode its JSON body; HTTP errors raise ``urllib.error.HTTPError``."""
    with urllib.request.urlopen(url, timeout=timeout_s) as response:
        return json.load(response)


class LlamaServer:
    """llama.cpp's server for one GGUF model, in a subprocess (a context manager).

    ``start()`` (or ``with``) launches it and returns once ``/health`` answers; ``stop()`` kills
    its whole process group and is safe to call any number of times. Keyword arguments are the
    fields of ``ServerOptions`` (``slots``, ``ctx_tokens``, ``sleep_idle_s``, ``embeddings``,
    ...). ``log_path`` keeps the server's stderr there; by default it goes to a temporary file
    that ``stop()`` deletes. A failed start raises ``HermesError`` with the log's last lines.
    """

    def __init__(
        self,
        model_path: Path | str,
        *,
        slots: int = 2,
        ctx_tokens: int = 2048,
        sleep_idle_s: int | None = None,
        embeddings: bool = False,
        pooling: Pooling = "mean",
        threads: int | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        alias: str | None = None,
        start_timeout_s: float = 120.0,
        log_path: Path | str | None = None,
    ) -> None:
        self.model_path = Path(model_path)
        """The GGUF file served."""
        self.options = ServerOptions(
            slots=slots,
            ctx_tokens=ctx_tokens,
            sleep_idle_s=sleep_idle_s,
            embeddings=embeddings,
            pooling=pooling,
            threads=threads,
            host=host,
            port=port,
            alias=alias,
        )
        """The validated server settings."""
        self.start_timeout_s = start_timeout_s
        """How long ``start()`` waits for the model to load and ``/health`` to answer."""
        self._log_path = Path(log_path) if log_path is not None else None
        self._process: subprocess.Popen[bytes] | None = None
        self._workdir: tempfile.TemporaryDirectory[str] | None = None
        self._finalizer: weakref.finalize[[int, int], LlamaServer] | None = None
        self._url: str | None = None

    # --- addresses ----------------------------------------------------------------------------

    @property
    def url(self) -> str:
        """Root URL (``http://127.0.0.1:PORT``) for ``/health``, ``/slots``, ``/metrics``,
        ``/props``; raises ``HermesError`` before ``start()``."""
        if self._url is None:
            raise HermesError("the llama.cpp server is not running; call start() or use `with`")
        return self._url

    @property
    def base_url(self) -> str:
        """OpenAI-compatible base URL (``.url + "/v1"``), for ``OpenAI(base_url=...)``."""
        return f"{self.url}/v1"

    @property
    def model_name(self) -> str:
        """The model id the server reports in ``/v1/models`` (any id is accepted in requests)."""
        return self.options.alias or self.model_path.stem

    @property
    def pid(self) -> int | None:
        """Process id of the server (also its process group id), or None when not started."""
        return None if self._process is None else self._process.pid

    @property
    def log_path(self) -> Path | None:
        """File receiving the server's stderr (llama.cpp's log), or None when not started."""
        if self._log_path is not None:
            return self._log_path
        return None if self._workdir is None else Path(self._workdir.name, "server.log")

    # --- lifecycle ----------------------------------------------------------------------------

    def is_running(self) -> bool:
        """True while the server process is alive (it may still be loading or asleep)."""
        return self._process is not None and self._process.poll() is None

    def start(self) -> LlamaServer:
        """Launch the server and wait until ``/health`` answers 200; returns ``self``.

        Raises ``HermesError`` (with the server's last log lines) when ``xllamacpp`` is missing,
        the model file is absent, the process exits early, or it is not ready within
        ``start_timeout_s``. The process is stopped before the error propagates.
        """
        if self._process is not None:
            raise HermesError("this LlamaServer is already started; stop() it first")
        self._check_can_start()
        self._workdir = tempfile.TemporaryDirectory(prefix="hermes-llama-")
        try:
            self._launch(Path(self._workdir.name))
            self._wait_ready(Path(self._workdir.name, "ready.json"))
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self, timeout_s: float = 5.0) -> None:
        """Kill the server's process group (SIGTERM, then SIGKILL after ``timeout_s``) and reap
        it; deletes the temporary log. Idempotent."""
        process, self._process, self._url = self._process, None, None
        if process is not None:
            _kill_group(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout_s)
            except subprocess.TimeoutExpired:
                _kill_group(process.pid, signal.SIGKILL)
                process.wait()
            if process.stdin is not None:
                process.stdin.close()
        if self._finalizer is not None:
            self._finalizer.detach()
            self._finalizer = None
        if self._workdir is not None:
            self._workdir.cleanup()
            self._workdir = None

    def __enter__(self) -> LlamaServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        where = self._url if self._url is not None else "not running"
        return f"LlamaServer({self.model_path.name!r}, {where}, slots={self.options.slots})"

    # --- llama.cpp status ---------------------------------------------------------------------

    def props(self, timeout_s: float = 10.0) -> dict[str, Any]:
        """``GET /props``: server properties, ``total_slots`` and ``is_sleeping`` among them.

        ``/props`` and ``/health`` answer while the model sleeps and do not wake it (``/slots``
        and ``/metrics`` do).
        """
        props: dict[str, Any] = _get_json(f"{self.url}/props", timeout_s)
        return props

    def is_sleeping(self) -> bool:
        """True when the idle model is unloaded (needs ``sleep_idle_s``); does not wake it."""
        return bool(self.props().get("is_sleeping", False))

    # --- internals ----------------------------------------------------------------------------

    def _check_can_start(self) -> None:
        if importlib.util.find_spec("xllamacpp") is None:
            raise HermesError(
                "the local llama.cpp server needs the xllamacpp package; install it with "
                "pip install 'hermes-agents[local]'"
            )
        if not self.model_path.is_file():
            raise HermesError(
                f"model file {self.model_path} does not exist; "
                "hermes_agents.local.local_model_path() fetches the default model"
            )

    def _command(self, workdir: Path) -> list[str]:
        command = [sys.executable, "-m", "hermes_agents.local.serve_process"]
        command += ["--model", str(self.model_path), *self.options.to_args()]
        return [*command, "--ready-file", str(workdir / "ready.json"), "--exit-on-stdin-eof"]

    def _launch(self, workdir: Path) -> None:
        log_path = self.log_path
        assert log_path is not None  # the work directory exists by now
        with log_path.open("ab") as log:
            # stdin stays an open pipe we never write: the child exits when it closes, which
            # happens when we stop it or when this process dies however it dies.
            self._process = subprocess.Popen(
                self._command(workdir),
                stdin=subprocess.PIPE,
                stdout=subprocess.DEVNULL,
                stderr=log,
                start_new_session=True,
            )
        self._finalizer = weakref.finalize(self, _kill_group, self._process.pid, signal.SIGKILL)

    def _wait_ready(self, ready_file: Path) -> None:
        deadline = time.monotonic() + self.start_timeout_s
        while time.monotonic() < deadline:
            self._raise_if_exited()
            if self._url is None and ready_file.is_file():
                self._url = json.loads(ready_file.read_text(encoding="utf-8"))["url"]
            if self._url is not None and self._healthy():
                return
            time.sleep(_POLL_S)
        raise HermesError(
            f"llama.cpp server for {self.model_path.name} was not ready after "
            f"{self.start_timeout_s:.0f} s (raise start_timeout_s?); its log ends with:\n"
            + self._log_tail()
        )

    def _healthy(self) -> bool:
        try:
            return bool(_get_json(f"{self._url}/health", 2.0).get("status") == "ok")
        except (OSError, ValueError):  # refused, 503 while loading, half-written body
            return False

    def _raise_if_exited(self) -> None:
        assert self._process is not None
        code = self._process.poll()
        if code is not None:
            raise HermesError(
                f"llama.cpp server for {self.model_path} exited with status {code} before it "
                "was ready; its log ends with:\n" + self._log_tail()
            )

    def _log_tail(self) -> str:
        path = self.log_path
        return (_tail(path) if path is not None else "") or "(empty log)"
