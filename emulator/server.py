"""The HTTP front: binds 127.0.0.1, verifies SigV4, dispatches by service."""
import json
import os
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from . import sigv4, sts

DEFAULT_ACCESS_KEY = "AKIAVMIEEMULATOR0001"
DEFAULT_SECRET_KEY = "vmie/emulator/secret/key/not/for/aws/0001"

QUERY_SERVICES = {"sts": sts}


class Emulator:
    def __init__(self, state_dir, account="123456789012", speed=1.0):
        self.state_dir = state_dir
        self.account = account
        self.speed = speed
        self.lock = threading.Lock()
        os.makedirs(state_dir, exist_ok=True)
        self.credentials = {DEFAULT_ACCESS_KEY: (DEFAULT_SECRET_KEY, None)}
        cfile = os.path.join(state_dir, "credentials.json")
        if os.path.exists(cfile):
            with open(cfile) as f:
                for c in json.load(f):
                    self.credentials[c["AccessKeyId"]] = (c["SecretAccessKey"],
                                                          c.get("SessionToken"))


class Handler(BaseHTTPRequestHandler):
    server_version = "vmie-emulator"
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):  # quiet: tests read stderr
        if os.environ.get("VMIE_EMULATOR_VERBOSE"):
            super().log_message(fmt, *args)

    def _send(self, status, body, ctype="text/xml"):
        data = body.encode()
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def _handle(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        raw_path, _, raw_query = self.path.partition("?")
        emu = self.server.emulator
        try:
            auth = sigv4.verify(self.command, raw_path, raw_query, self.headers.items(),
                                body, emu.credentials)
        except sigv4.AuthError as e:
            return self._send(*sts.error(e.status, e.code, e.message))
        svc = QUERY_SERVICES.get(auth["service"])
        if svc is None:
            return self._send(*sts.error(400, "UnknownService",
                                         f"service {auth['service']} is not emulated"))
        params = dict(urllib.parse.parse_qsl(body.decode("utf-8", "replace"),
                                             keep_blank_values=True))
        params.update(urllib.parse.parse_qsl(raw_query, keep_blank_values=True))
        self._send(*svc.handle(emu, params.get("Action", ""), params, auth))

    do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = _handle


def serve(state_dir, port=0, speed=1.0):
    emu = Emulator(state_dir, speed=speed)
    httpd = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    httpd.daemon_threads = True
    httpd.emulator = emu
    return httpd
