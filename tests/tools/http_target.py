#!/usr/bin/env python3
"""http_target.py: a test HTTP target for lienthong-agent's HTTP delivery.

Usage:
    http_target.py --port PORT --dir DIR --mode-file FILE

Listens on 127.0.0.1:PORT (ThreadingHTTPServer, HTTP/1.1 keep-alive, as the
agent's libcurl reuses connections) and answers every POST according to the
word in FILE, read again for each request (a missing or empty file means ok):

    ok     parse the multipart/form-data body: a `metadata` JSON field whose
           sender and document_id are those of the Idempotency-Key header
           ("<sender>/<document id>") and whose `parts` list (name, size,
           sha256) matches the `part` file fields; save each part as
           DIR/<document id>/<filename> (temporary name, then os.replace)
           and answer 200. A malformed request answers 400 with
           a message saying what is wrong.
    503    answer 503 (the agent must retry, with backoff).
    400    answer 400 (the agent must give up: a permanent refusal) with a
           long Vietnamese message (UTF-8), as real services do.
    hang   sleep 60 s, then answer 503 (the agent's target_timeout_ms must
           cut the attempt short).

A POST with Content-Type application/json is a control record (a recall,
update or replacement and the agent's answer): its Idempotency-Key is
"<sender>/<document id>/<name>"; in mode ok its JSON must name that sender
and document id, and it is saved as DIR/<document id>/<name>.

A POST with Content-Type application/xml is a document as one edXML
message (target_format = edxml): in mode ok it must start with "<?xml" and
is saved as DIR/<document id>/message.edxml.

The body is always read in full first (Content-Length required, at most
64 MiB; otherwise 411 or 413), so a kept-alive connection stays in sync.

Each POST appends one line "<document id> <outcome>" to DIR/requests.log
(flushed before the answer is sent), outcome being the HTTP status answered
(200, 400, 411, 413, 503, 500) or `hang` (logged when the wait begins; the
late 503 is not logged again). A missing document id is logged as `-`. The server
writes its pid to DIR/server.pid once it listens (so the file's presence
means "ready"), logs one line per request to standard error
("http_target: <unix time> POST <path> <key> -> <outcome>", so tests can
measure retry intervals), and stops on SIGTERM or SIGINT.

Python 3 standard library only.
"""

import argparse
import email.parser
import email.policy
import hashlib
import json
import os
import re
import signal
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

MAX_BODY = 64 << 20
HANG_SECONDS = 60
# A long non-ASCII answer: an agent that quotes the first 200 bytes of it
# cuts a character in two unless it cuts on a character boundary.
REFUSAL = "document refused (test mode 400): " + "thiếu chữ ký số hợp lệ; " * 12
KEY_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")


def note(text):
    """One line to standard error: "http_target: <unix time> <text>"."""
    sys.stderr.write(f"http_target: {time.time():.3f} {text}\n")
    sys.stderr.flush()


class Refusal(Exception):
    """A malformed request: answered 400 with this message."""


def safe_name(name):
    """A part file name that cannot leave DIR/<key>/."""
    return (
        isinstance(name, str)
        and name != ""
        and len(name.encode("utf-8", "surrogateescape")) <= 255
        and "/" not in name
        and "\\" not in name
        and "\0" not in name
        and not name.startswith(".")
    )


class Target:
    def __init__(self, directory, mode_file):
        self.dir = directory
        self.mode_file = mode_file
        self.log_lock = threading.Lock()
        self.log_path = os.path.join(directory, "requests.log")
        self.counter = 0

    def mode(self):
        try:
            with open(self.mode_file, encoding="utf-8") as f:
                word = f.read().strip().lower()
        except FileNotFoundError:
            return "ok"
        return word or "ok"

    def log(self, key, outcome):
        with self.log_lock:
            with open(self.log_path, "a", encoding="utf-8") as f:
                f.write(f"{key} {outcome}\n")
                f.flush()

    def unique(self):
        with self.log_lock:
            self.counter += 1
            return self.counter

    def accept(self, sender, key, content_type, body):
        """Checks and saves one delivery; raises Refusal when malformed."""
        if not content_type.lower().startswith("multipart/form-data"):
            raise Refusal(f"Content-Type is {content_type!r}, not multipart/form-data")
        raw = b"Content-Type: " + content_type.encode("latin-1") + b"\r\n\r\n" + body
        msg = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(raw)
        if not msg.is_multipart() or msg.defects:
            raise Refusal(f"body is not a well-formed multipart message {msg.defects!r}")
        metadata = None
        files = []
        for part in msg.iter_parts():
            if part.get_content_disposition() != "form-data":
                raise Refusal("a part has no Content-Disposition: form-data")
            name = part.get_param("name", header="content-disposition")
            payload = part.get_payload(decode=True)
            if payload is None:
                raise Refusal(f"field {name!r} has no body")
            if name == "metadata":
                if metadata is not None:
                    raise Refusal("more than one metadata field")
                if part.get_content_type() != "application/json":
                    raise Refusal(f"metadata is {part.get_content_type()}, not application/json")
                try:
                    metadata = json.loads(payload.decode("utf-8"))
                except (UnicodeDecodeError, ValueError) as e:
                    raise Refusal(f"metadata is not JSON: {e}") from None
            elif name == "part":
                filename = part.get_filename()
                if not safe_name(filename):
                    raise Refusal(f"part file name {filename!r} is missing or unsafe")
                ctype = part.get_content_type() if "content-type" in part else None
                files.append((filename, ctype, payload))
            else:
                raise Refusal(f"unexpected field {name!r}")
        if not isinstance(metadata, dict):
            raise Refusal("no metadata JSON object")
        if metadata.get("document_id") != key or metadata.get("sender") != sender:
            raise Refusal(
                f"metadata sender {metadata.get('sender')!r} and document_id "
                f"{metadata.get('document_id')!r} are not the Idempotency-Key's "
                f"{sender!r} and {key!r}"
            )
        described = metadata.get("parts")
        if not isinstance(described, list) or len(described) != len(files) or not files:
            n = len(described) if isinstance(described, list) else "no"
            raise Refusal(f"metadata lists {n} parts, the body has {len(files)}")
        for d, (filename, ctype, data) in zip(described, files):
            if not isinstance(d, dict):
                raise Refusal("metadata part is not an object")
            if d.get("name") != filename:
                raise Refusal(f"metadata part {d.get('name')!r} but file field {filename!r}")
            if d.get("size") != len(data):
                raise Refusal(f"{filename}: metadata size {d.get('size')} but {len(data)} bytes")
            if d.get("sha256") != hashlib.sha256(data).hexdigest():
                raise Refusal(f"{filename}: sha256 differs from the metadata")
            if ctype is not None and d.get("media_type") != ctype:
                raise Refusal(f"{filename}: media type {ctype} but metadata {d.get('media_type')}")
        if len({f[0] for f in files}) != len(files):
            raise Refusal("two parts have the same file name")
        folder = os.path.join(self.dir, key)
        os.makedirs(folder, exist_ok=True)
        for filename, _, data in files:
            tmp = os.path.join(folder, f".tmp-{os.getpid()}-{self.unique()}")
            with open(tmp, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, os.path.join(folder, filename))


    def save(self, key, name, body):
        folder = os.path.join(self.dir, key)
        os.makedirs(folder, exist_ok=True)
        tmp = os.path.join(folder, f".tmp-{os.getpid()}-{self.unique()}")
        with open(tmp, "wb") as f:
            f.write(body)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, os.path.join(folder, name))

    def control(self, idem, body):
        """Checks and saves one control record; raises Refusal when malformed."""
        sender, _, rest = idem.partition("/")
        key, _, name = rest.partition("/")
        if not KEY_RE.match(sender) or not KEY_RE.match(key):
            raise Refusal(f"unusable Idempotency-Key {idem!r}")
        if not re.match(r"^\.[a-z]+\.json$", name):
            raise Refusal(f"unusable control record name {name!r}")
        try:
            record = json.loads(body.decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as e:
            raise Refusal(f"control record is not JSON: {e}") from None
        if not isinstance(record, dict) or record.get("sender") != sender or record.get(
            "document_id"
        ) != key:
            raise Refusal("control record does not name the Idempotency-Key's document")
        folder = os.path.join(self.dir, key)
        os.makedirs(folder, exist_ok=True)
        tmp = os.path.join(folder, f".tmp-{os.getpid()}-{self.unique()}")
        with open(tmp, "wb") as f:
            f.write(body)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, os.path.join(folder, name))


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "lienthong-test-target"
    target = None  # set in main

    def log_message(self, fmt, *args):  # one short line per request, see do_POST
        pass

    def answer(self, status, text):
        data = (text + "\n").encode("utf-8")
        try:
            self.send_response(status)
            self.send_header("Content-Type", "text/plain; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
            self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    def do_GET(self):
        self.answer(405, "POST documents here")

    def do_POST(self):
        t = self.target
        idem = self.headers.get("Idempotency-Key", "").strip()
        sender, _, key = idem.rpartition("/")
        key = key or "-"
        if self.headers.get("Content-Type", "").lower().startswith("application/json"):
            key = idem.partition("/")[2] or "-"  # "<document id>/<name>"
        status, text = self.handle_post(t, sender, key)
        if status is not None:
            t.log(key, status)
            note(f"POST {self.path} {key} -> {status}")
            self.answer(status, text)

    def handle_post(self, t, sender, key):
        length = self.headers.get("Content-Length")
        if self.headers.get("Transfer-Encoding") or length is None:
            self.close_connection = True
            return 411, "Content-Length required"
        try:
            n = int(length)
        except ValueError:
            self.close_connection = True
            return 400, "bad Content-Length"
        if n < 0 or n > MAX_BODY:
            self.close_connection = True
            return 413, f"body of {n} bytes is over the {MAX_BODY} byte limit"
        body = self.rfile.read(n)
        if len(body) != n:
            self.close_connection = True
            return 400, f"body ended after {len(body)} of {n} bytes"
        mode = t.mode()
        if mode == "503":
            return 503, "target unavailable (test mode 503)"
        if mode == "400":
            return 400, REFUSAL
        if mode == "hang":
            t.log(key, "hang")
            note(f"POST {self.path} {key} -> hang")
            time.sleep(HANG_SECONDS)
            self.answer(503, "target unavailable (after hanging)")
            return None, None
        if mode != "ok":
            return 500, f"unknown test mode {mode!r}"
        if self.headers.get("Content-Type", "").lower().startswith("application/json"):
            try:
                t.control(self.headers.get("Idempotency-Key", "").strip(), body)
            except Refusal as e:
                return 400, str(e)
            except OSError as e:
                return 500, f"cannot save: {e}"
            return 200, "control record saved"
        if not KEY_RE.match(key) or not KEY_RE.match(sender):
            return 400, f"missing or unusable Idempotency-Key {sender!r}/{key!r}"
        if self.headers.get("Content-Type", "").lower().startswith("application/xml"):
            if not body.startswith(b"<?xml"):
                return 400, "the edXML body does not start with <?xml"
            try:
                t.save(key, "message.edxml", body)
            except OSError as e:
                return 500, f"cannot save: {e}"
            return 200, "edXML message saved"
        try:
            t.accept(sender, key, self.headers.get("Content-Type", ""), body)
        except Refusal as e:
            return 400, str(e)
        except OSError as e:
            return 500, f"cannot save: {e}"
        return 200, "delivered"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--dir", required=True)
    ap.add_argument("--mode-file", required=True)
    args = ap.parse_args()
    os.makedirs(args.dir, exist_ok=True)
    Handler.target = Target(args.dir, args.mode_file)
    server = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    server.daemon_threads = True

    def stop(signum, frame):
        raise SystemExit(0)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    pid_file = os.path.join(args.dir, "server.pid")
    with open(pid_file + ".tmp", "w", encoding="utf-8") as f:
        f.write(f"{os.getpid()}\n")
    os.replace(pid_file + ".tmp", pid_file)
    note(f"listening on 127.0.0.1:{args.port}, dir {args.dir}")
    try:
        server.serve_forever(poll_interval=0.2)
    finally:
        server.server_close()


if __name__ == "__main__":
    main()
