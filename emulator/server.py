"""The HTTP front: binds 127.0.0.1, reads the request, verifies SigV4,
applies injected faults, dispatches by the service in the credential scope,
and writes the answer in that service's wire format."""
import collections
import datetime
import hashlib
import json
import os
import secrets
import socket
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from . import auth, control, protocol
from .faults import Faults
from .meter import Meter
from .protocol import ServiceError
from .services import SERVICES
from .store import Store
from .throttle import Throttle, Unlimited

DEFAULT_ACCESS_KEY = "AKIAVMIEEMULATOR0001"
DEFAULT_SECRET_KEY = "vmie/emulator/secret/key/not/for/aws/0001"
MAX_BUFFERED_BODY = 16 << 20
BLOCK = 1 << 20
# Never in the request log: signatures, session and bearer tokens.
SECRET_HEADERS = ("authorization", "x-amz-security-token", "x-amz-sso_bearer_token")


class Emulator:
    """Everything the services share: account, credentials, state, clock."""

    def __init__(self, state_dir, account="123456789012", speed=1.0, sink=False,
                 bandwidth=None):
        self.account = account
        self.speed = speed
        # Benchmarks: the bytes/s of bodies, both ways (throttle.py).
        self.link = Throttle(bandwidth) if bandwidth else Unlimited()
        # Benchmarks: S3 keeps sizes and checksums of what it receives but
        # not the bytes (objects read back as zeros), so the emulator's disk
        # and CPU are not what a benchmark measures.
        self.sink = sink
        self.store = Store(state_dir)
        self.faults = Faults()
        self.lock = threading.RLock()
        self.forced = collections.defaultdict(list)  # kind -> [outcome spec]
        self.requests = collections.deque(maxlen=2000)  # recent requests, for tests
        self.meter = Meter()  # body bytes in and out, for rate tests
        self.web_identity_tokens = {"vmie-test-web-identity-token"}
        creds = self.store.table("credentials")
        if DEFAULT_ACCESS_KEY not in creds:
            creds[DEFAULT_ACCESS_KEY] = {"secret": DEFAULT_SECRET_KEY, "token": None,
                                         "expires": None, "user": "vmie-emulator"}
            self.store.save("credentials")

    # -- credentials ------------------------------------------------------
    def credentials(self):
        out = {}
        for akid, c in self.store.table("credentials").items():
            exp = c.get("expires")
            out[akid] = {"secret": c["secret"], "token": c.get("token"),
                         "expires": datetime.datetime.fromisoformat(exp) if exp else None}
        return out

    def add_credentials(self, akid, secret, token=None, expires=None, arn=None, **extra):
        with self.store.lock:
            self.store.table("credentials")[akid] = {
                "secret": secret, "token": token, "expires": expires, "arn": arn, **extra}
            self.store.save("credentials")

    def issue_session_credentials(self, role_arn, session, seconds=3600, role_id=None,
                                  arn=None, **extra):
        """Temporary credentials for a role session.  `seconds` is the
        session's length in AWS time: on the emulated clock it lasts
        seconds / speed real seconds, so a test can see a one-hour session
        expire mid-run."""
        akid = "ASIA" + secrets.token_hex(8).upper()
        exp = (datetime.datetime.now(datetime.timezone.utc) +
               datetime.timedelta(seconds=seconds / self.speed))
        role = role_arn.split("/")[-1]
        arn = arn or f"arn:aws:sts::{self.account}:assumed-role/{role}/{session}"
        token = secrets.token_urlsafe(48)
        secret = secrets.token_urlsafe(30)
        user_id = f"{role_id or 'AROAVMIEEMULATOR'}:{session}"
        self.add_credentials(akid, secret, token, exp.isoformat(), arn, user_id=user_id,
                             role_arn=role_arn, **extra)
        return {"akid": akid, "secret": secret, "token": token, "arn": arn, "user_id": user_id,
                "expires": exp, "expiration": exp.strftime("%Y-%m-%dT%H:%M:%SZ")}

    def identity_of(self, akid):
        c = self.store.table("credentials").get(akid, {})
        if c.get("arn"):
            return {"arn": c["arn"], "user_id": c.get("user_id") or
                    f"AROAVMIEEMULATOR:{c['arn'].rsplit('/', 1)[-1]}",
                    "session": c}
        user = c.get("user", "vmie-emulator")
        return {"arn": f"arn:aws:iam::{self.account}:user/{user}", "user_id": "AIDAVMIEEMULATOR",
                "session": None}

    # -- clock ------------------------------------------------------------
    def now(self):
        return time.time()

    def emulated_elapsed(self, since):
        """Seconds of AWS time since the real timestamp `since` (--speed)."""
        return (time.time() - since) * self.speed

    def take_forced(self, kind):
        with self.lock:
            return self.forced[kind].pop(0) if self.forced[kind] else None


class Request:
    """What a service handler sees."""

    def __init__(self, handler, raw_path, raw_query):
        self.handler = handler
        self.method = handler.command
        self.raw_path = raw_path
        self.raw_query = raw_query
        self.path = urllib.parse.unquote(raw_path)
        self.query = dict(urllib.parse.parse_qsl(raw_query, keep_blank_values=True))
        self.headers = handler.headers
        self.body = b""
        self.params = {}
        self.json = None
        self.scope = None
        self.akid = None
        self.region = "us-east-1"
        self.service = None
        self.operation = None
        self.fault = None
        self.log_entry = None  # this request in emu.requests
        self._remaining = None
        self._chunked = False
        self._eof = False
        self.body_bytes_read = 0
        te = (self.headers.get("Transfer-Encoding") or "").lower()
        if "chunked" in te:
            self._chunked = True
            self._chunk_left = 0
        else:
            self._remaining = int(self.headers.get("Content-Length") or 0)

    def read(self, n=BLOCK):
        """Read up to n bytes of the body (HTTP chunked framing undone);
        b"" at the end.  A fault may cut the connection mid-body."""
        if self._eof:
            return b""
        n = min(n, self.handler.server.emulator.meter.block(n))
        rfile = self.handler.rfile
        if self._chunked:
            if self._chunk_left == 0:
                line = rfile.readline(1024)
                size = int(line.split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while rfile.readline(1024) not in (b"\r\n", b"\n", b""):
                        pass  # HTTP trailers, ignored
                    self._eof = True
                    return b""
                self._chunk_left = size
            data = rfile.read(min(n, self._chunk_left))
            self._chunk_left -= len(data)
            if self._chunk_left == 0:
                rfile.readline(16)
        else:
            if self._remaining <= 0:
                self._eof = True
                return b""
            data = rfile.read(min(n, self._remaining))
            self._remaining -= len(data)
        if not data:
            raise ConnectionError("client closed the connection mid-body")
        self.handler.server.emulator.link.take(len(data))
        self.body_bytes_read += len(data)
        self.handler.server.emulator.meter.add("in", len(data))
        limit = self.fault.get("reset_after_bytes") if self.fault else None
        if limit is not None and self.body_bytes_read >= limit and \
                self.fault.get("direction", "request") == "request":
            raise control.ConnectionReset()
        return data

    def read_all(self, limit=MAX_BUFFERED_BODY):
        parts, total = [], 0
        while True:
            d = self.read()
            if not d:
                break
            total += len(d)
            if total > limit:
                raise ServiceError("RequestEntityTooLarge", "Request body too large", 413)
            parts.append(d)
        return b"".join(parts)

    def drain(self):
        try:
            while self.read():
                pass
        except Exception:
            self.handler.close_connection = True


def _guess_unsigned_service(req):
    """An unsigned request names no service: with a custom endpoint every
    service shares this one, so route by what each sends.  STS web identity
    is a form POST; the IAM Identity Center portal carries its bearer
    token header (real host portal.sso.REGION.amazonaws.com); SSO OIDC
    posts JSON to /token (oidc.REGION.amazonaws.com).  Anything else is
    anonymous S3."""
    ctype = req.headers.get("Content-Type", "")
    host = (req.headers.get("Host") or "").split(":")[0]
    if req.headers.get("x-amz-sso_bearer_token") is not None or host.startswith("portal.sso."):
        return "sso"
    if req.method == "POST" and ("json" in ctype or host.startswith("oidc.")) \
            and req.raw_path.rstrip("/").endswith("/token"):
        return "sso-oidc"
    if req.method == "POST" and "x-www-form-urlencoded" in ctype:
        return "sts"
    return "s3"


class Handler(BaseHTTPRequestHandler):
    server_version = "AmazonS3"  # clients only look at it in logs
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        if os.environ.get("VMIE_EMULATOR_VERBOSE"):
            super().log_message(fmt, *args)

    # -- writing ----------------------------------------------------------
    def _write(self, resp, req=None):
        if req is not None and req.log_entry is not None:
            req.log_entry["status"] = resp.status
        self.send_response(resp.status)
        names = {k.lower() for k, _ in resp.headers}
        for k, v in resp.headers:
            self.send_header(k, v)
        length = resp.file[2] if resp.file else len(resp.body)
        if "content-length" not in names:
            self.send_header("Content-Length", str(length))
        if "date" not in names:
            self.send_header("Date", self.date_time_string())
        self.end_headers()
        if self.command == "HEAD":
            return
        limit = None
        if req and req.fault and req.fault.get("direction") == "response":
            limit = req.fault.get("reset_after_bytes")
        if resp.file:
            path, offset, n = resp.file
            sent = 0
            with open(path, "rb") as f:
                f.seek(offset)
                step = self.server.emulator.meter.block(BLOCK)
                while n > 0:
                    block = f.read(min(step, n))
                    if not block:
                        break
                    if limit is not None and sent + len(block) >= limit:
                        self.wfile.write(block[:max(0, limit - sent)])
                        raise control.ConnectionReset()
                    self.server.emulator.link.take(len(block))
                    self.wfile.write(block)
                    self.server.emulator.meter.add("out", len(block))
                    sent += len(block)
                    n -= len(block)
        else:
            if limit is not None:
                self.wfile.write(resp.body[:limit])
                raise control.ConnectionReset()
            self.wfile.write(resp.body)
            self.server.emulator.meter.add("out", len(resp.body))

    def _error(self, module, err, req):
        if module is not None and hasattr(module, "error_response"):
            return module.error_response(err)
        if module is None or module.PROTOCOL == "iam":
            ns = getattr(module, "NAMESPACE", protocol.IAM_NS)
            return protocol.iam_error(err, ns)
        if module.PROTOCOL == "ec2":
            return protocol.ec2_error(err)
        if module.PROTOCOL == "s3":
            return protocol.s3_error(err, self.command)
        return protocol.json_error(err)

    # -- the request ------------------------------------------------------
    def _handle(self):
        raw_path, _, raw_query = self.path.partition("?")
        emu = self.server.emulator
        if raw_path.startswith(control.PREFIX):
            return control.handle(self, emu, raw_path, raw_query)
        req = Request(self, raw_path, raw_query)
        module = None
        try:
            try:
                self._dispatch(emu, req)
            except auth.AuthError as e:
                module = SERVICES.get(req.service)
                req.drain()
                resp = self._error(module, protocol.auth_error(
                    e, getattr(module, "AUTH_PROTOCOL", None) or
                    (module.PROTOCOL if module else "iam")), req)
                return self._write(resp, req)
        except ServiceError as e:
            module = SERVICES.get(req.service)
            if module and module.STREAMING:
                req.drain()
            self._write(self._error(module, e, req), req)
        except control.ConnectionReset:
            self.close_connection = True
            self._abort_socket()
        except (ConnectionError, BrokenPipeError):
            self.close_connection = True

    def _dispatch(self, emu, req):
        scope = auth.scope_of(self.headers, req.raw_query)
        req.scope = scope
        req.service = scope["service"] if scope else _guess_unsigned_service(req)
        module = SERVICES.get(req.service)
        if module is None:
            req.drain()
            raise ServiceError("UnknownService",
                               f"the emulator does not serve '{req.service}'", 400)
        if not module.STREAMING:
            req.body = req.read_all()
            if module.PROTOCOL in ("ec2", "iam"):
                req.params = dict(urllib.parse.parse_qsl(
                    req.body.decode("utf-8", "replace"), keep_blank_values=True))
                req.params.update(req.query)
                req.operation = req.params.get("Action", "")
            elif module.PROTOCOL == "json":
                target = self.headers.get("X-Amz-Target", "")
                req.operation = target.rsplit(".", 1)[-1]
                try:
                    req.json = json.loads(req.body or b"{}")
                except ValueError:
                    raise ServiceError("SerializationException", "Malformed JSON body")
            else:  # rest-json: the operation is in the method and path
                req.operation = module.operation_name(req)
        else:
            req.operation = module.operation_name(req)
        req.log_entry = {"service": req.service, "operation": req.operation,
                         "method": req.method, "path": req.raw_path,
                         "query": req.raw_query, "akid": None, "status": None,
                         "time": time.time(),
                         "headers": {k: v for k, v in self.headers.items()
                                     if k.lower() not in SECRET_HEADERS}}
        emu.requests.append(req.log_entry)
        if scope is None:
            if req.operation not in getattr(module, "UNSIGNED", ()):
                raise auth.AuthError(auth.ANONYMOUS, "Request is missing Authentication Token")
        else:
            payload_hash = None if module.STREAMING else hashlib.sha256(req.body).hexdigest()
            info = auth.verify(req.method, req.raw_path, req.raw_query, self.headers.items(),
                               payload_hash, emu.credentials())
            auth.check_global_scope(req.service, info["region"])
            req.akid = info["akid"]
            req.region = info["region"]
            req.log_entry["akid"] = req.akid
        handler = module.OPERATIONS.get(req.operation)
        if handler is None:
            raise ServiceError("InvalidAction", f"The action {req.operation} is not valid "
                               f"for this web service.", 400)
        req.fault = emu.faults.take(req.service, req.operation)
        if req.fault:
            if req.fault.get("latency_ms"):
                time.sleep(req.fault["latency_ms"] / 1000.0)
            if req.fault.get("status"):
                if module.STREAMING:
                    req.drain()
                raise ServiceError(req.fault.get("code", "InternalError"),
                                   req.fault.get("message", "Injected fault"),
                                   int(req.fault["status"]))
        self._write(handler(emu, req), req)

    def _abort_socket(self):
        import socket
        import struct
        try:  # RST, not FIN: what a dropped connection looks like
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                       struct.pack("ii", 1, 0))
            self.connection.close()
        except OSError:
            pass

    do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = _handle


class Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 64

    def get_request(self):
        sock, addr = super().get_request()
        size = self.emulator.meter.send_buffer
        if size:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, size)
        return sock, addr


def serve(state_dir, port=0, speed=1.0, sink=False, bandwidth=None):
    httpd = Server(("127.0.0.1", port), Handler)
    httpd.emulator = Emulator(state_dir, speed=speed, sink=sink, bandwidth=bandwidth)
    return httpd
