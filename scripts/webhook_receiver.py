"""A local webhook receiver for trying monitor alerts: standard library only, listening on 127.0.0.1 only.

    python scripts/webhook_receiver.py --out hooks.jsonl --port-file hook.port --pid-file hook.pid

returns as soon as it listens, and goes on receiving in the background: each POSTed JSON body becomes one line of
--out. It stops when killed (`kill $(cat hook.pid)`) or after --timeout seconds, whichever comes first.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True, help="JSONL file; one received body a line (appended).")
    parser.add_argument("--port", type=int, default=0, help="Port to listen on; 0 (the default) picks a free one.")
    parser.add_argument("--port-file", type=Path, help="Write the port here once listening.")
    parser.add_argument("--pid-file", type=Path, help="Write the background process's id here.")
    parser.add_argument("--timeout", type=float, default=900.0, help="Stop after this many seconds.")
    args = parser.parse_args()
    server = HTTPServer(("127.0.0.1", args.port), _handler(args.out))  # bind now, so a busy port fails here
    port = server.server_address[1]
    child = os.fork()
    if child:  # the caller's process: say where, then return while the child serves
        if args.pid_file:
            args.pid_file.write_text(f"{child}\n")
        if args.port_file:
            args.port_file.write_text(f"{port}\n")
        print(f"webhook receiver listening on http://127.0.0.1:{port}/hook (pid {child}), writing {args.out}")
        return
    os.setsid()  # out of the caller's process group: make's Ctrl-C handling is not ours
    devnull = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(devnull, fd)
    deadline = time.monotonic() + args.timeout
    server.timeout = 1.0
    while time.monotonic() < deadline:
        server.handle_request()
    server.server_close()


def _handler(out: Path) -> type[BaseHTTPRequestHandler]:
    class Receiver(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 (the http.server naming)
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            try:
                message = json.loads(body)
            except ValueError:
                self.send_response(400)
                self.end_headers()
                return
            with out.open("a", encoding="utf-8") as f:
                f.write(json.dumps(message) + "\n")
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002 (the base class's name)
            pass

    return Receiver


if __name__ == "__main__":
    main()
