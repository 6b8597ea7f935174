"""A webhook endpoint for toko's tests: records every POST it receives and checks its signature
with the `standardwebhooks` package (the reference Python verifier of the Standard Webhooks
spec), so deliveries are judged by code that toko did not write.

    python webhook_receiver.py PORT

Tests steer it over HTTP, on paths under /_control/ (any other path is a webhook endpoint):

    POST /_control/secrets    {"secrets": ["whsec_..."]}   the secrets a delivery may be signed with
    POST /_control/behaviour  {"status": 500, "delay_ms": 0, "times": 1}
                              answer the next `times` deliveries (all when null) with `status`
                              after `delay_ms` (and `body_bytes` bytes of body when given; 3xx
                              answers point `Location` at /redirected); then back to 204 at once
    GET  /_control/requests   every delivery so far, oldest first
    POST /_control/reset      forget the deliveries and the behaviour (the secrets stay)

The verifier's own timestamp tolerance (5 minutes) applies. Prints "READY" once listening.
"""
import json
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from standardwebhooks.webhooks import Webhook

DEFAULT_BEHAVIOUR = {"status": 204, "delay_ms": 0, "times": None, "body_bytes": 0}


class State:
    def __init__(self):
        self.lock = threading.Lock()
        self.secrets = []  # (secret text, Webhook)
        self.requests = []
        self.behaviour = dict(DEFAULT_BEHAVIOUR)

    def next_answer(self):
        """The (status, delay in seconds, body size) for the delivery arriving now; uses up one
        of `times`."""
        with self.lock:
            behaviour = self.behaviour
            if behaviour["times"] is not None:
                behaviour["times"] -= 1
                if behaviour["times"] <= 0:
                    self.behaviour = dict(DEFAULT_BEHAVIOUR)
            return behaviour["status"], behaviour["delay_ms"] / 1000, behaviour["body_bytes"]


STATE = State()


def verify(body: bytes, headers: dict):
    """(verified, error text, index of the secret that verified) against every secret set."""
    with STATE.lock:
        secrets = list(STATE.secrets)
    if not secrets:
        return False, "no secrets configured", None
    errors = []
    for index, (_, webhook) in enumerate(secrets):
        try:
            webhook.verify(body, headers)
            return True, None, index
        except Exception as e:  # the verifier's error, or a body that is not JSON
            errors.append(f"secret {index}: {type(e).__name__}: {e}")
    return False, "; ".join(errors), None


def parse_body(body: bytes):
    try:
        return json.loads(body)
    except ValueError:
        return body.decode("utf-8", errors="replace")


class Handler(BaseHTTPRequestHandler):
    # Keep-alive, as a real endpoint would: every response carries a Content-Length.
    protocol_version = "HTTP/1.1"

    def log_message(self, format, *args):
        pass

    def read_body(self) -> bytes:
        if "chunked" not in self.headers.get("Transfer-Encoding", "").lower():
            return self.rfile.read(int(self.headers.get("Content-Length") or 0))
        # A streamed body: http.server does not decode chunks itself.
        body = b""
        while True:
            size = int(self.rfile.readline().split(b";")[0], 16)
            if size == 0:
                while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                    pass  # trailers
                return body
            body += self.rfile.read(size)
            self.rfile.readline()

    def answer(self, status: int, payload=None, body_bytes: int = 0):
        data = b"" if payload is None or status == 204 else json.dumps(payload).encode()
        if body_bytes and status != 204:
            data = b"x" * body_bytes
        try:
            self.send_response(status)
            if 300 <= status < 400:
                # Somewhere a sender that follows redirects would go next.
                self.send_header("Location", "/redirected")
            if data:
                self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the sender gave up waiting (a timeout test)

    def do_GET(self):
        self.read_body()
        if self.path == "/_control/requests":
            with STATE.lock:
                self.answer(200, list(STATE.requests))
        else:
            self.answer(404, {"error": f"no GET {self.path}"})

    def do_POST(self):
        body = self.read_body()
        if self.path.startswith("/_control/"):
            self.control(self.path, body)
            return
        arrived = time.time()
        verified, error, secret_index = verify(body, dict(self.headers.items()))
        status, delay, body_bytes = STATE.next_answer()
        with STATE.lock:
            STATE.requests.append(
                {
                    "path": self.path,
                    "id": self.headers.get("webhook-id"),
                    "timestamp": self.headers.get("webhook-timestamp"),
                    "signature": self.headers.get("webhook-signature"),
                    "body": parse_body(body),
                    "verified": verified,
                    "error": error,
                    "secret_index": secret_index,
                    "received_at": arrived,
                    "status": status,
                }
            )
        if delay:
            time.sleep(delay)
        self.answer(
            status, None if 200 <= status < 300 else {"error": "as told by the test"}, body_bytes
        )

    def control(self, path: str, body: bytes):
        try:
            command = json.loads(body or b"{}")
            if path == "/_control/secrets":
                secrets = [(s, Webhook(s)) for s in command["secrets"]]
                with STATE.lock:
                    STATE.secrets = secrets
            elif path == "/_control/behaviour":
                times = command.get("times")
                behaviour = {
                    "status": int(command.get("status", 204)),
                    "delay_ms": int(command.get("delay_ms", 0)),
                    "times": None if times is None else int(times),
                    "body_bytes": int(command.get("body_bytes", 0)),
                }
                if behaviour["times"] is not None and behaviour["times"] <= 0:
                    behaviour = dict(DEFAULT_BEHAVIOUR)
                with STATE.lock:
                    STATE.behaviour = behaviour
            elif path == "/_control/reset":
                with STATE.lock:
                    STATE.requests = []
                    STATE.behaviour = dict(DEFAULT_BEHAVIOUR)
            else:
                self.answer(404, {"error": f"no POST {path}"})
                return
        except Exception as e:  # a malformed command, or a secret the verifier refuses
            self.answer(400, {"error": f"{type(e).__name__}: {e}"})
            return
        self.answer(204)


def main() -> None:
    port = int(sys.argv[1])
    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    server.daemon_threads = True
    print("READY", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
