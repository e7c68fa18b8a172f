"""IAM Identity Center OIDC (rest-json, unsigned): CreateToken with the
refresh_token grant, POST /token (real host oidc.REGION.amazonaws.com),
the call that renews the access token `aws sso login` cached.

Any well-formed client id, secret and refresh token are accepted, except
refresh tokens the control API revokes (POST /_vmie/sso-oidc/refresh-tokens
{"refreshToken", "state": "revoked" | "valid"}).  The new access token lasts
an hour of emulated time (expiresIn is that, divided by --speed) and
comes with a new refresh token.  The device-code and authorization-code
grants of `aws sso login` itself are not emulated: a test writes the
cache file that login would.

Table "sso_refresh_tokens": refresh token -> state.
"""
import json
import re
import secrets

from ..protocol import Response, ServiceError, request_id

PROTOCOL = "rest-json"
AUTH_PROTOCOL = "json"
STREAMING = False
UNSIGNED = {"CreateToken"}

ACCESS_SECONDS = 3600
_WELL_FORMED = re.compile(r"^[A-Za-z0-9+/=_.:-]{8,8192}$")

# code -> (the OAuth error, HTTP status), from the service model
_ERRORS = {
    "InvalidRequestException": ("invalid_request", 400),
    "InvalidClientException": ("invalid_client", 401),
    "InvalidGrantException": ("invalid_grant", 400),
    "UnsupportedGrantTypeException": ("unsupported_grant_type", 400),
}


def operation_name(req):
    if req.method == "POST" and req.path.rstrip("/").endswith("/token"):
        return "CreateToken"
    return ""


def _error(code, description):
    oauth, status = _ERRORS[code]
    return ServiceError(code, description, status, extra={"error": oauth})


def error_response(err):
    """OIDC errors: the code in x-amzn-ErrorType, the OAuth error and its
    description in the body."""
    body = {"error": err.extra.get("error", "server_error"), "error_description": err.message}
    return Response(err.status, json.dumps(body), [("x-amzn-RequestId", request_id()),
                                                   ("x-amzn-ErrorType", err.code)],
                    content_type="application/json")


def create_token(emu, req):
    try:
        p = json.loads(req.body or b"{}")
    except ValueError:
        raise _error("InvalidRequestException", "Malformed JSON body")
    if not isinstance(p, dict):
        raise _error("InvalidRequestException", "Malformed JSON body")
    for name in ("clientId", "clientSecret", "grantType"):
        if not isinstance(p.get(name), str) or not p[name]:
            raise _error("InvalidRequestException", f"{name} is required")
    if not (_WELL_FORMED.match(p["clientId"]) and _WELL_FORMED.match(p["clientSecret"])):
        raise _error("InvalidClientException", "Invalid client provided")
    if p["grantType"] != "refresh_token":
        raise _error("UnsupportedGrantTypeException",
                     f"Unsupported grant type: {p['grantType']}")
    refresh = p.get("refreshToken")
    if not isinstance(refresh, str) or not refresh:
        raise _error("InvalidRequestException", "refreshToken is required")
    with emu.store.lock:
        state = emu.store.table("sso_refresh_tokens").get(refresh, "valid")
    if state != "valid" or not _WELL_FORMED.match(refresh):
        raise _error("InvalidGrantException", "Invalid refresh token provided")
    body = {"accessToken": "aoa" + secrets.token_urlsafe(48), "tokenType": "Bearer",
            "expiresIn": max(1, int(ACCESS_SECONDS / emu.speed)),
            "refreshToken": "aor" + secrets.token_urlsafe(48)}
    return Response(200, json.dumps(body), [("x-amzn-RequestId", request_id())],
                    content_type="application/json")


def control(emu, method, route, body):
    """POST sso-oidc/refresh-tokens {"refreshToken", "state"}."""
    if (method, route) == ("POST", "sso-oidc/refresh-tokens"):
        state = body.get("state", "revoked")
        if state not in ("revoked", "valid"):
            raise ValueError("state must be revoked or valid")
        with emu.store.lock:
            emu.store.table("sso_refresh_tokens")[body["refreshToken"]] = state
            emu.store.save("sso_refresh_tokens")
        return {"state": state}
    raise KeyError(f"no control route {method} {route}")


OPERATIONS = {
    "CreateToken": create_token,
}
