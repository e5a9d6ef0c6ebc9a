"""A warm-up hook for tool backends: receive Hermes' hints over HTTP, run a command.

Hermes' ``tools`` adapter POSTs each hint as JSON to a URL; this tiny server (standard library
only) runs a command for it, such as starting a stopped sandbox container, and answers 204 when
the command succeeded (500 with its stderr otherwise). Within ``--min-interval-s`` of a
success it answers 204 at once, so a burst of hints costs one start::

    python integrations/tools/warm_hook.py --port 9000 -- docker start code-sandbox
    # hermes.toml: adapter = "tools", base_url = "http://127.0.0.1:9000/warm"

The hint's fields are passed to the command as environment variables ``HERMES_BACKEND``,
``HERMES_APP``, ``HERMES_RUN_ID``, ``HERMES_ACTION`` and ``HERMES_KEEP_S``. With ``--port 0`` the
first line printed is the URL to use.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

_FIELDS = ("backend", "app", "run_id", "action", "keep_s")


class Hook:
    """Runs the command for a hint, at most once per ``min_interval_s`` after a success."""

    def __init__(self, command: list[str], min_interval_s: float, timeout_s: float) -> None:
        self.command, self.min_interval_s, self.timeout_s = command, min_interval_s, timeout_s
        self.lock = threading.Lock()
        self.last_ok = float("-inf")
        self.runs = 0

    def warm(self, hint: dict[str, Any]) -> tuple[int, str]:
        """(HTTP status, body) for one hint."""
        with self.lock:  # one start at a time; later hints find it fresh
            if time.monotonic() - self.last_ok < self.min_interval_s:
                return 204, ""
            env = dict(os.environ)
            env.update({f"HERMES_{k.upper()}": str(hint.get(k, "")) for k in _FIELDS})
            done = subprocess.run(self.command, env=env, capture_output=True, text=True,
                                  timeout=self.timeout_s, check=False)  # fmt: skip
            self.runs += 1
            if done.returncode != 0:
                return 500, done.stderr[-2000:] or f"exit status {done.returncode}"
            self.last_ok = time.monotonic()
            return 204, ""


def handler_for(hook: Hook) -> type[BaseHTTPRequestHandler]:
    """A request handler class that feeds POSTed hints to ``hook``."""

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            try:
                hint = json.loads(self.rfile.read(length) or b"{}")
                status, body = hook.warm(hint if isinstance(hint, dict) else {})
            except (ValueError, subprocess.TimeoutExpired) as error:
                status, body = 500, f"{type(error).__name__}: {error}"
            self.send_response(status)
            self.send_header("Content-Length", str(len(body.encode())))
            self.end_headers()
            self.wfile.write(body.encode())

        def log_message(self, format: str, *args: Any) -> None:  # quiet: one line per hint
            pass

    return Handler


def main() -> None:
    """Parse the flags, print the URL, serve until interrupted."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=9000)
    parser.add_argument("--min-interval-s", type=float, default=30.0)
    parser.add_argument("--timeout-s", type=float, default=120.0)
    parser.add_argument("command", nargs="+", help="command to run per hint (after --)")
    args = parser.parse_args()
    hook = Hook(args.command, args.min_interval_s, args.timeout_s)
    server = ThreadingHTTPServer((args.host, args.port), handler_for(hook))
    print(f"http://{args.host}:{server.server_address[1]}/warm", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


if __name__ == "__main__":
    main()
