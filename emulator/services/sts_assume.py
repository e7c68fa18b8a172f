"""STS AssumeRole as AWS decides it: the parameters validated as the model
says (ValidationError), an MFA code checked against a registered device
(single use, as TOTP codes are), the role looked up in IAM (created with
CreateRole, as in an account) and its trust policy evaluated against the
caller -- principal, sts:ExternalId, aws:MultiFactorAuthPresent -- with
AccessDenied in AWS's words for every refusal; then DurationSeconds
against the role's MaxSessionDuration and the one-hour limit of role
chaining.  The session lasts DurationSeconds on the emulated clock.

MFA devices (table "sts_mfa_devices", serial -> {"code", "used"}) are
registered with the control API: POST /_vmie/sts/mfa-devices
{"SerialNumber", "TokenCode"} sets the code the device shows now.
"""
import fnmatch
import json
import re

from ..protocol import ServiceError

DEFAULT_DURATION = 3600
CHAINED_MAX = 3600

_SESSION_RE = re.compile(r"^[\w+=,.@-]*$")
_EXTERNAL_RE = re.compile(r"^[\w+=,.@:/-]*$")
_SERIAL_RE = re.compile(r"^[\w+=/:,.@-]*$")
_ROLE_ARN_RE = re.compile(r"^arn:aws[\w-]*:iam::(\d{12}):role/(?:[\w+=,.@/-]*/)?([\w+=,.@-]+)$")


def _validation(member, value, constraint):
    shown = "null" if value is None else f"'{value}'"
    return ServiceError("ValidationError", f"1 validation error detected: Value {shown} at "
                        f"'{member}' failed to satisfy constraint: {constraint}")


def _string(p, name, lo, hi, pattern=None, required=False):
    member = name[0].lower() + name[1:]
    v = p.get(name)
    if v is None:
        if required:
            raise _validation(member, None, "Member must not be null")
        return None
    if len(v) < lo:
        raise _validation(member, v, f"Member must have length greater than or equal to {lo}")
    if len(v) > hi:
        raise _validation(member, v, f"Member must have length less than or equal to {hi}")
    if pattern and not pattern.match(v):
        raise _validation(member, v, f"Member must satisfy regular expression pattern: "
                          f"{pattern.pattern.strip('^$')}")
    return v


def _duration(p):
    v = p.get("DurationSeconds")
    if v is None:
        return None
    try:
        n = int(v)
    except ValueError:
        raise ServiceError("ValidationError", f"Value '{v}' for parameter DurationSeconds is "
                           "invalid. It must be a number.")
    if n < 900:
        raise _validation("durationSeconds", n, "Member must have value greater than or "
                          "equal to 900")
    if n > 43200:
        raise _validation("durationSeconds", n, "Member must have value less than or "
                          "equal to 43200")
    return n


def _as_list(v):
    return v if isinstance(v, list) else [v]


def _principal_matches(principal, caller):
    """Principal "*" or {"AWS": ...} naming the caller, its role, or its
    account (an account id or arn:aws:iam::ACCOUNT:root)."""
    if principal == "*":
        return True
    if not isinstance(principal, dict):
        return False
    for p in _as_list(principal.get("AWS", [])):
        p = str(p)
        if p == "*" or p in caller["names"]:
            return True
        if p == caller["account"] or p == f"arn:aws:iam::{caller['account']}:root":
            return True
    return False


def _condition_ok(cond, context):
    """The condition operators a trust policy uses for these keys; an
    operator or key the emulator does not know is not satisfied."""
    for op, tests in (cond or {}).items():
        if not isinstance(tests, dict):
            return False
        for key, want in tests.items():
            have = context.get(key.lower())
            wants = [str(w) for w in _as_list(want)]
            if op == "StringEquals":
                ok = have is not None and str(have) in wants
            elif op == "StringLike":
                ok = have is not None and any(fnmatch.fnmatchcase(str(have), w) for w in wants)
            elif op == "Bool":
                ok = have is not None and str(have).lower() in [w.lower() for w in wants]
            elif op == "BoolIfExists":
                ok = have is None or str(have).lower() in [w.lower() for w in wants]
            elif op == "Null":
                ok = all((have is None) == (w.lower() == "true") for w in wants)
            elif op in ("NumericLessThan", "NumericLessThanEquals"):
                try:
                    ok = have is not None and any(
                        float(have) < float(w) if op == "NumericLessThan"
                        else float(have) <= float(w) for w in wants)
                except ValueError:
                    ok = False
            else:
                ok = False
            if not ok:
                return False
    return True


def _trust_decision(doc, caller, context):
    """Explicit Deny wins, then any Allow; None means implicit deny."""
    allowed = False
    for s in _as_list(doc.get("Statement", [])):
        if not isinstance(s, dict):
            continue
        actions = [str(a).lower() for a in _as_list(s.get("Action", []))]
        if not any(fnmatch.fnmatchcase("sts:assumerole", a) for a in actions):
            continue
        if not _principal_matches(s.get("Principal"), caller):
            continue
        if not _condition_ok(s.get("Condition"), context):
            continue
        if s.get("Effect") == "Deny":
            return False
        if s.get("Effect") == "Allow":
            allowed = True
    return allowed


def _caller(emu, akid):
    who = emu.identity_of(akid)
    names = {who["arn"]}
    session = who.get("session") or {}
    if session.get("role_arn"):
        names.add(session["role_arn"])  # a role session acts as its role
    account = who["arn"].split(":")[4] if who["arn"].startswith("arn:") else emu.account
    return {"arn": who["arn"], "names": names, "account": account,
            "chained": bool(session.get("role_arn"))}


def _check_mfa(emu, serial, code):
    if serial is None and code is None:
        return False
    if serial is None or code is None:
        raise ServiceError("AccessDenied", "MultiFactorAuthentication failed, must provide "
                           "both MFA serial number and one time pass code.", 403)
    with emu.store.lock:
        devices = emu.store.table("sts_mfa_devices")
        dev = devices.get(serial)
        if dev is None:
            raise ServiceError("AccessDenied", "MultiFactorAuthentication failed, unable to "
                               "validate MFA code.  Please verify your MFA serial number is "
                               "valid and associated with this user.", 403)
        if dev.get("code") != code or code in dev.get("used", []):
            raise ServiceError("AccessDenied", "MultiFactorAuthentication failed with invalid "
                               "MFA one time pass code. ", 403)
        dev.setdefault("used", []).append(code)
        emu.store.save("sts_mfa_devices")
    return True


def assume_role(emu, req):
    p = req.params
    role_arn = _string(p, "RoleArn", 20, 2048, required=True)
    session = _string(p, "RoleSessionName", 2, 64, _SESSION_RE, required=True)
    duration = _duration(p)
    external_id = _string(p, "ExternalId", 2, 1224, _EXTERNAL_RE)
    serial = _string(p, "SerialNumber", 9, 256, _SERIAL_RE)
    code = _string(p, "TokenCode", 6, 6, re.compile(r"^[\d]*$"))
    caller = _caller(emu, req.akid)
    mfa = _check_mfa(emu, serial, code)
    denied = ServiceError("AccessDenied", f"User: {caller['arn']} is not authorized to "
                          f"perform: sts:AssumeRole on resource: {role_arn}", 403)
    m = _ROLE_ARN_RE.match(role_arn)
    role = None
    if m and m.group(1) == emu.account:
        with emu.store.lock:
            role = dict(emu.store.table("iam_roles").get(m.group(2)) or {}) or None
    if role is None or role.get("Arn") != role_arn:
        raise denied  # AWS does not say whether the role exists
    try:
        trust = json.loads(role["AssumeRolePolicyDocument"])
    except ValueError:
        raise denied
    context = {"aws:multifactorauthpresent": "true" if mfa else None,
               "aws:multifactorauthage": 0 if mfa else None,
               "sts:externalid": external_id,
               "sts:rolesessionname": session,
               "aws:principalarn": caller["arn"]}
    if not _trust_decision(trust, caller, context):
        raise denied
    if duration is not None and caller["chained"] and duration > CHAINED_MAX:
        raise ServiceError("ValidationError", "The requested DurationSeconds exceeds the 1 "
                           "hour session limit for roles assumed by role chaining.")
    if duration is not None and duration > int(role.get("MaxSessionDuration", 3600)):
        raise ServiceError("ValidationError", "The requested DurationSeconds exceeds the "
                           "MaxSessionDuration set for this role.")
    return emu.issue_session_credentials(role_arn, session, duration or DEFAULT_DURATION,
                                         role_id=role.get("RoleId"), mfa=mfa)


def control(emu, method, route, body):
    """POST sts/mfa-devices {"SerialNumber", "TokenCode"}: the device
    exists and shows this code now."""
    if (method, route) == ("POST", "sts/mfa-devices"):
        serial, code = body["SerialNumber"], str(body["TokenCode"])
        if not re.fullmatch(r"\d{6}", code):
            raise ValueError("TokenCode must be 6 digits")
        with emu.store.lock:
            dev = emu.store.table("sts_mfa_devices").setdefault(serial, {"used": []})
            dev["code"] = code
            emu.store.save("sts_mfa_devices")
        return {"SerialNumber": serial}
    raise KeyError(f"no control route {method} {route}")
