"""A real HTTP receiver on 127.0.0.1 for every webhook test (http.server in a thread): the
scoring service's decision callbacks, alert webhooks and the retraining pipeline."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Receiver:
    """Records every POST and answers with the statuses in ``answers`` in turn, repeating the
    last one: ``[200]`` always succeeds, ``[503, 200]`` fails once and then recovers.

    ``on_request``, when set, is called with each recorded request before the answer goes
    out: a test can look at the database while the sender is still waiting for its response.
    """

    def __init__(self):
        self.requests: list[dict] = []
        self.answers: list[int] = [200]
        self.on_request: Callable[[dict], None] | None = None
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - http.server's naming
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                request = {"headers": dict(self.headers), "body": body}
                receiver.requests.append(request)
                if receiver.on_request is not None:
                    receiver.on_request(request)
                status = receiver.next_status()
                self.send_response(status)
                self.send_header("Content-Type", "text/plain")
                self.end_headers()
                if status < 300:
                    self.wfile.write(b"ok")

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hooks/countersign"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def next_status(self) -> int:
        return self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]

    def json(self, index: int = -1) -> dict:
        """The body of one recorded request (the last by default), parsed."""
        return json.loads(self.requests[index]["body"])

    def __enter__(self) -> Receiver:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()
