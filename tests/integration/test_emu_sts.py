"""The emulator's STS AssumeRole, IAM Identity Center portal and OIDC.
The main paths and one refusal of each kind go through the AWS CLI (a
client nobody here wrote, which parses the answers and their error
codes); the rest of the refusals through a plain signed query client, to
keep the file fast.  Sessions last their DurationSeconds on the emulated
clock."""
import datetime
import json
import re
import urllib.error
import urllib.request

import pytest

from conftest import EMU_ACCESS_KEY, EMU_SECRET_KEY
from creds_util import ACCOUNT, EMU_USER_ARN, create_role, query_call

MFA = f"arn:aws:iam::{ACCOUNT}:mfa/alice"


@pytest.fixture
def emulator_speed():
    return 60.0


def failure(r):
    assert r.returncode != 0
    return r.stderr


def assume(emulator, creds=(EMU_ACCESS_KEY, EMU_SECRET_KEY, None), **params):
    """AssumeRole with the raw client: (status, code or None, message)."""
    status, text = query_call(emulator, "sts", dict(params, Action="AssumeRole"), *creds,
                              region="us-west-2")
    code = re.search(r"<Code>([^<]+)</Code>", text)
    msg = re.search(r"<Message>([^<]*)</Message>", text)
    return status, code and code.group(1), msg and msg.group(1)


def session_of(text):
    return tuple(re.search(f"<{k}>([^<]+)</{k}>", text).group(1)
                 for k in ("AccessKeyId", "SecretAccessKey", "SessionToken"))


def test_assume_role_and_its_refusals(aws, emulator):
    arn = create_role(emulator, "Ops", condition={"StringEquals": {"sts:ExternalId": "ext-42"}})
    out = aws("sts", "assume-role", "--role-arn", arn, "--role-session-name", "cli",
              "--external-id", "ext-42", "--duration-seconds", "900")
    assert out["AssumedRoleUser"]["Arn"] == f"arn:aws:sts::{ACCOUNT}:assumed-role/Ops/cli"
    assert out["AssumedRoleUser"]["AssumedRoleId"].endswith(":cli")
    # 900 s of AWS time at 60x: 15 real seconds.
    exp = datetime.datetime.fromisoformat(out["Credentials"]["Expiration"].replace("Z", "+00:00"))
    left = (exp - datetime.datetime.now(datetime.timezone.utc)).total_seconds()
    assert 5 < left <= 16, left
    who = aws("sts", "get-caller-identity", env={
        "AWS_ACCESS_KEY_ID": out["Credentials"]["AccessKeyId"],
        "AWS_SECRET_ACCESS_KEY": out["Credentials"]["SecretAccessKey"],
        "AWS_SESSION_TOKEN": out["Credentials"]["SessionToken"]})
    assert who["Arn"] == f"arn:aws:sts::{ACCOUNT}:assumed-role/Ops/cli"

    denied = (f"User: {EMU_USER_ARN} is not authorized to perform: sts:AssumeRole on "
              f"resource: {arn}")
    err = failure(aws("sts", "assume-role", "--role-arn", arn, "--role-session-name", "x1",
                      "--external-id", "wrong-id", check=False))
    assert "(AccessDenied)" in err and denied in err
    assert assume(emulator, RoleArn=arn, RoleSessionName="x1") == (403, "AccessDenied", denied)
    missing = arn.replace("/Ops", "/Nobody")
    assert assume(emulator, RoleArn=missing, RoleSessionName="x1")[:2] == (403, "AccessDenied")
    status, code, msg = assume(emulator, RoleArn=arn, RoleSessionName="bad name",
                               ExternalId="ext-42")
    assert (status, code) == (400, "ValidationError") and "roleSessionName" in msg
    status, code, msg = assume(emulator, RoleArn=arn, RoleSessionName="x1",
                               ExternalId="ext-42", DurationSeconds="899")
    assert (status, code) == (400, "ValidationError") and "greater than or equal to 900" in msg
    err = failure(aws("sts", "assume-role", "--role-arn", arn, "--role-session-name", "x1",
                      "--external-id", "ext-42", "--duration-seconds", "7200", check=False))
    assert "(ValidationError)" in err
    assert "The requested DurationSeconds exceeds the MaxSessionDuration set for this role" in err


def test_role_chaining_limit_and_trust_in_a_role(emulator):
    first = create_role(emulator, "First", max_session=43200)
    second = create_role(emulator, "Second", principal=first, max_session=43200)
    status, text = query_call(emulator, "sts", {"Action": "AssumeRole", "RoleArn": first,
                                                "RoleSessionName": "s-a",
                                                "DurationSeconds": "7200"},
                              EMU_ACCESS_KEY, EMU_SECRET_KEY, region="us-west-2")
    assert status == 200, text  # not chained: up to the role's maximum
    session = session_of(text)
    status, code, msg = assume(emulator, session, RoleArn=second, RoleSessionName="s-b",
                               DurationSeconds="7200")
    assert (status, code) == (400, "ValidationError")
    assert msg == ("The requested DurationSeconds exceeds the 1 hour session limit for roles "
                   "assumed by role chaining.")
    assert assume(emulator, session, RoleArn=second, RoleSessionName="s-b")[0] == 200
    # The emulator's user is not the principal of Second.
    assert assume(emulator, RoleArn=second, RoleSessionName="s-c")[:2] == (403, "AccessDenied")


def test_mfa(aws, emulator, control):
    arn = create_role(emulator, "Guarded",
                      condition={"Bool": {"aws:MultiFactorAuthPresent": "true"}})
    assert assume(emulator, RoleArn=arn, RoleSessionName="s-m")[:2] == (403, "AccessDenied")
    assert assume(emulator, RoleArn=arn, RoleSessionName="s-m", SerialNumber=MFA)[2] == (
        "MultiFactorAuthentication failed, must provide both MFA serial number and one time "
        "pass code.")
    assert "unable to validate MFA code" in assume(  # no such device
        emulator, RoleArn=arn, RoleSessionName="s-m", SerialNumber=MFA, TokenCode="123456")[2]
    control("POST", "sts/mfa-devices", {"SerialNumber": MFA, "TokenCode": "650213"})
    err = failure(aws("sts", "assume-role", "--role-arn", arn, "--role-session-name", "s-m",
                      "--serial-number", MFA, "--token-code", "111111", check=False))
    assert "(AccessDenied)" in err
    assert "MultiFactorAuthentication failed with invalid MFA one time pass code" in err
    ok = aws("sts", "assume-role", "--role-arn", arn, "--role-session-name", "s-m",
             "--serial-number", MFA, "--token-code", "650213")
    assert ok["AssumedRoleUser"]["Arn"].endswith(":assumed-role/Guarded/s-m")
    # A code works once, as a TOTP code does.
    assert "invalid MFA one time pass code" in assume(
        emulator, RoleArn=arn, RoleSessionName="s-m", SerialNumber=MFA, TokenCode="650213")[2]


def test_sso_portal_and_oidc(aws, control, emulator):
    token = "aoaCLITOKEN-0123456789abcdef"
    out = aws("sso", "get-role-credentials", "--role-name", "Admin", "--account-id", ACCOUNT,
              "--access-token", token)
    rc = out["roleCredentials"]
    left = rc["expiration"] / 1000 - datetime.datetime.now().timestamp()
    assert 30 < left <= 61, left  # an hour of AWS time at 60x
    who = aws("sts", "get-caller-identity", env={
        "AWS_ACCESS_KEY_ID": rc["accessKeyId"], "AWS_SECRET_ACCESS_KEY": rc["secretAccessKey"],
        "AWS_SESSION_TOKEN": rc["sessionToken"]})
    assert ":assumed-role/AWSReservedSSO_Admin_" in who["Arn"]
    # The token maps to whichever account it is asked for...
    other = aws("sso", "get-role-credentials", "--role-name", "Dev", "--account-id",
                "210987654321", "--access-token", token)["roleCredentials"]
    who = aws("sts", "get-caller-identity", env={
        "AWS_ACCESS_KEY_ID": other["accessKeyId"],
        "AWS_SECRET_ACCESS_KEY": other["secretAccessKey"],
        "AWS_SESSION_TOKEN": other["sessionToken"]})
    assert who["Account"] == "210987654321"
    assert ":assumed-role/AWSReservedSSO_Dev_" in who["Arn"]
    # ...that is an account.
    err = failure(aws("sso", "get-role-credentials", "--role-name", "Admin", "--account-id",
                      "not-an-account", "--access-token", token, check=False))
    assert "(ForbiddenException)" in err and "No access" in err
    control("POST", "sso/tokens", {"accessToken": token, "state": "expired"})
    err = failure(aws("sso", "get-role-credentials", "--role-name", "Admin", "--account-id",
                      ACCOUNT, "--access-token", token, check=False))
    assert "(UnauthorizedException)" in err and "Session token not found or invalid" in err

    new = aws("sso-oidc", "create-token", "--client-id", "client-0123456789",
              "--client-secret", "secret-0123456789", "--grant-type", "refresh_token",
              "--refresh-token", "aorREFRESH-0123456789")
    assert new["tokenType"] == "Bearer" and new["accessToken"] and new["refreshToken"]
    assert new["expiresIn"] == 60
    control("POST", "sso-oidc/refresh-tokens", {"refreshToken": "aorREFRESH-0123456789"})
    err = failure(aws("sso-oidc", "create-token", "--client-id", "client-0123456789",
                      "--client-secret", "secret-0123456789", "--grant-type", "refresh_token",
                      "--refresh-token", "aorREFRESH-0123456789", check=False))
    assert "(InvalidGrantException)" in err

    def oidc(body):
        rq = urllib.request.Request(emulator + "/token", data=json.dumps(body).encode(),
                                    headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(rq, timeout=30) as r:
                return r.status, r.headers.get("x-amzn-ErrorType"), json.loads(r.read())
        except urllib.error.HTTPError as e:
            return e.code, e.headers.get("x-amzn-ErrorType"), json.loads(e.read())
    status, kind, body = oidc({"clientId": "client-0123456789",
                               "clientSecret": "secret-0123456789", "grantType": "password"})
    assert (status, kind, body["error"]) == (400, "UnsupportedGrantTypeException",
                                             "unsupported_grant_type")
    status, kind, body = oidc({"clientId": "client-0123456789", "grantType": "refresh_token"})
    assert (status, kind, body["error"]) == (400, "InvalidRequestException", "invalid_request")
    # Tokens never reach the request log.
    logged = json.dumps(control("GET", "requests"))
    assert token not in logged and "aorREFRESH" not in logged
