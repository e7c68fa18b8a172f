"""The IAM Identity Center portal (rest-json, unsigned): GetRoleCredentials,
GET /federation/credentials?role_name=R&account_id=A with the access
token in the x-amz-sso_bearer_token header (real host
portal.sso.REGION.amazonaws.com; with a custom endpoint the server routes
here by that header).

Any well-formed access token is accepted -- a test writes the cache file
`aws sso login` would, with a token of its own -- except those the control
API marks expired or revoked (POST /_vmie/sso/tokens {"accessToken",
"state": "expired" | "revoked" | "valid"}), which get AWS's 401.  The
token maps to the account and role asked for (any 12-digit account; what
is not an account or role name gets AWS's 403 "No access"); the role
session lasts an hour of emulated time.

Table "sso_tokens": access token -> state.
"""
import json
import re
import secrets

from ..protocol import Response, ServiceError, request_id

PROTOCOL = "rest-json"
AUTH_PROTOCOL = "json"
STREAMING = False
UNSIGNED = {"GetRoleCredentials"}

SESSION_SECONDS = 3600
USER = "vmie-sso-user"
_TOKEN_RE = re.compile(r"^[A-Za-z0-9+/=_.:-]{20,4096}$")


def operation_name(req):
    if req.method == "GET" and req.path.rstrip("/").endswith("/federation/credentials"):
        return "GetRoleCredentials"
    return ""


def error_response(err):
    """rest-json errors: the code in x-amzn-ErrorType, {"message"} in the
    body."""
    body = json.dumps({"message": err.message})
    return Response(err.status, body, [("x-amzn-RequestId", request_id()),
                                       ("x-amzn-ErrorType", err.code)] + list(err.headers),
                    content_type="application/json")


def _unauthorized():
    return ServiceError("UnauthorizedException", "Session token not found or invalid", 401)


def get_role_credentials(emu, req):
    token = req.headers.get("x-amz-sso_bearer_token")
    role = req.query.get("role_name")
    account = req.query.get("account_id")
    if not token or not _TOKEN_RE.match(token):
        raise _unauthorized()
    with emu.store.lock:
        state = emu.store.table("sso_tokens").get(token, "valid")
    if state != "valid":
        raise _unauthorized()
    if not role or not account:
        missing = "role_name" if not role else "account_id"
        raise ServiceError("InvalidRequestException",
                           f"1 validation error detected: Value null at '{missing}' failed to "
                           "satisfy constraint: Member must not be null", 400)
    if not re.fullmatch(r"\d{12}", account) or not re.fullmatch(r"[\w+=,.@-]{1,64}", role):
        raise ServiceError("ForbiddenException", "No access", 403)
    suffix = secrets.token_hex(8)
    role_arn = (f"arn:aws:iam::{account}:role/aws-reserved/sso.amazonaws.com/"
                f"AWSReservedSSO_{role}_{suffix}")
    c = emu.issue_session_credentials(
        role_arn, USER, SESSION_SECONDS,
        arn=f"arn:aws:sts::{account}:assumed-role/AWSReservedSSO_{role}_{suffix}/{USER}")
    body = {"roleCredentials": {"accessKeyId": c["akid"], "secretAccessKey": c["secret"],
                                "sessionToken": c["token"],
                                "expiration": int(c["expires"].timestamp() * 1000)}}
    return Response(200, json.dumps(body), [("x-amzn-RequestId", request_id())],
                    content_type="application/json")


def control(emu, method, route, body):
    """POST sso/tokens {"accessToken", "state"}: see the module's docstring."""
    if (method, route) == ("POST", "sso/tokens"):
        state = body.get("state", "expired")
        if state not in ("expired", "revoked", "valid"):
            raise ValueError("state must be expired, revoked or valid")
        with emu.store.lock:
            emu.store.table("sso_tokens")[body["accessToken"]] = state
            emu.store.save("sso_tokens")
        return {"state": state}
    raise KeyError(f"no control route {method} {route}")


def dump(emu):
    with emu.store.lock:
        marked = dict(emu.store.table("sso_tokens"))
    return {"tokens_marked": len(marked)}


OPERATIONS = {
    "GetRoleCredentials": get_role_credentials,
}
