"""Real local servers for notification tests: a webhook (stdlib http.server) and an SMTP sink (sockets)."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@contextmanager
def webhook_server(status: int = 200) -> Iterator[tuple[str, list[dict], dict]]:
    """A Slack-compatible webhook on 127.0.0.1; yields (url, received JSON bodies, {"status": code})."""
    received: list[dict] = []
    control = {"status": status}

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 (http.server API)
            body = self.rfile.read(int(self.headers["Content-Length"]))
            if control["status"] < 300:
                received.append(json.loads(body))
            self.send_response(control["status"])
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/hook", received, control
    finally:
        server.shutdown()
        server.server_close()


@contextmanager
def smtp_sink() -> Iterator[tuple[int, list[str]]]:
    """A minimal SMTP server on 127.0.0.1 that keeps each message's DATA; yields (port, messages)."""
    messages: list[str] = []
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", 0))
    listener.listen(5)
    listener.settimeout(0.2)
    stop = threading.Event()

    def session(conn: socket.socket) -> None:
        reader = conn.makefile("rb")

        def reply(line: str) -> None:
            conn.sendall((line + "\r\n").encode())

        reply("220 sink ready")
        while True:
            line = reader.readline()
            if not line:
                return
            command = line.decode(errors="replace").strip().upper()
            if command.startswith(("EHLO", "HELO")):
                reply("250 sink")
            elif command.startswith(("MAIL", "RCPT", "RSET", "NOOP")):
                reply("250 ok")
            elif command == "DATA":
                reply("354 end with .")
                lines = []
                while (data := reader.readline()) not in (b".\r\n", b".\n", b""):
                    lines.append(data.decode(errors="replace"))
                messages.append("".join(lines))
                reply("250 queued")
            elif command == "QUIT":
                reply("221 bye")
                return
            else:
                reply("502 not implemented")

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            with conn:
                session(conn)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield listener.getsockname()[1], messages
    finally:
        stop.set()
        thread.join(timeout=2)
        listener.close()
