"""The test control API: /_vmie/..., unsigned, loopback only.

  GET  /_vmie/state            what is left: instances not terminated,
                               multipart uploads open, tasks by state ...
  GET  /_vmie/requests         recent requests (no secrets), for assertions
  DELETE /_vmie/requests       forget them (what comes next is measured alone)
  POST /_vmie/faults           {"operation", "service"?, "count"?, "status"?, "code"?,
                                "message"?, "latency_ms"?, "reset_after_bytes"?,
                                "direction"?: "request"|"response"}
  DELETE /_vmie/faults         drop pending faults
  GET  /_vmie/meter            S3 body bytes in and out per 100 ms (meter.py)
  DELETE /_vmie/meter          start counting afresh
  POST /_vmie/meter            {"send_buffer": BYTES} for connections accepted from now on
  POST /_vmie/force            {"kind": "import"|"export"|"command", ...outcome}
  POST /_vmie/credentials      {"AccessKeyId", "SecretAccessKey", "SessionToken"?, "Expiration"?}
  POST /_vmie/ec2/delete-default-vpc
  POST /_vmie/<service>/...    a service's own routes (its `control`):
                               sts/mfa-devices, sso/tokens,
                               sso-oidc/refresh-tokens, iam/propagation, ...
"""
import ipaddress
import json

from .services import SERVICES

PREFIX = "/_vmie/"


class ConnectionReset(Exception):
    """Raised to drop the connection the way a broken network does."""


def _reply(handler, status, obj):
    body = json.dumps(obj, indent=1, sort_keys=True).encode()
    handler.send_response(status)
    handler.send_header("Content-Type", "application/json")
    handler.send_header("Content-Length", str(len(body)))
    handler.end_headers()
    handler.wfile.write(body)


def state(emu):
    out = {"faults_pending": emu.faults.snapshot()}
    for name, module in SERVICES.items():
        dump = getattr(module, "dump", None)
        if dump:
            out[name] = dump(emu)
    return out


def handle(handler, emu, raw_path, raw_query):
    if not ipaddress.ip_address(handler.client_address[0]).is_loopback:
        return _reply(handler, 403, {"error": "control API is loopback only"})
    length = int(handler.headers.get("Content-Length") or 0)
    try:
        body = json.loads(handler.rfile.read(length) or b"{}") if length else {}
    except ValueError:
        return _reply(handler, 400, {"error": "body is not JSON"})
    route = (handler.command, raw_path[len(PREFIX):].rstrip("/"))
    try:
        if route == ("GET", "state"):
            return _reply(handler, 200, state(emu))
        if route == ("GET", "requests"):
            return _reply(handler, 200, list(emu.requests))
        if route == ("DELETE", "requests"):
            emu.requests.clear()
            return _reply(handler, 200, {})
        if route == ("GET", "meter"):
            return _reply(handler, 200, emu.meter.snapshot())
        if route == ("POST", "meter"):
            emu.meter.send_buffer = int(body["send_buffer"]) or None
            return _reply(handler, 200, {})
        if route == ("DELETE", "meter"):
            emu.meter.clear()
            return _reply(handler, 200, {})
        if route == ("POST", "faults"):
            return _reply(handler, 200, emu.faults.add(body))
        if route == ("DELETE", "faults"):
            emu.faults.clear()
            return _reply(handler, 200, {})
        if route == ("POST", "force"):
            kind = body.get("kind")
            if kind not in ("import", "export", "command", "ssm-online"):
                raise ValueError("kind must be import, export, command or ssm-online")
            with emu.lock:
                emu.forced[kind].append(body)
            return _reply(handler, 200, body)
        if route == ("POST", "credentials"):
            emu.add_credentials(body["AccessKeyId"], body["SecretAccessKey"],
                                body.get("SessionToken"), body.get("Expiration"))
            return _reply(handler, 200, {})
        custom = getattr(SERVICES.get(route[1].split("/")[0]), "control", None)
        if custom:
            return _reply(handler, 200, custom(emu, handler.command, route[1], body))
    except (KeyError, ValueError) as e:
        return _reply(handler, 400, {"error": str(e)})
    return _reply(handler, 404, {"error": f"no control route {route[0]} {route[1]}"})
