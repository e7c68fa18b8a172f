"""The emulator refuses bad authentication the way AWS does: expired
session tokens, wrong tokens, skewed clocks, unsigned requests."""
import datetime

from conftest import EMU_ACCESS_KEY, EMU_SECRET_KEY
from emu_s3_client import EMPTY, Signer, host_of, request


def _session(control, expires):
    control("POST", "credentials", {"AccessKeyId": "ASIAVMIETESTSESSION1",
                                    "SecretAccessKey": "session-secret",
                                    "SessionToken": "session-token-1",
                                    "Expiration": expires.isoformat()})
    return {"AWS_ACCESS_KEY_ID": "ASIAVMIETESTSESSION1",
            "AWS_SECRET_ACCESS_KEY": "session-secret", "AWS_SESSION_TOKEN": "session-token-1"}


def test_session_token_valid_then_expired(aws, control):
    now = datetime.datetime.now(datetime.timezone.utc)
    good = _session(control, now + datetime.timedelta(hours=1))
    assert aws("sts", "get-caller-identity", env=good)["Account"] == "123456789012"
    wrong = dict(good, AWS_SESSION_TOKEN="not-the-token")
    r = aws("sts", "get-caller-identity", env=wrong, check=False)
    assert r.returncode != 0 and "InvalidClientTokenId" in r.stderr
    expired = _session(control, now - datetime.timedelta(minutes=1))
    r = aws("sts", "get-caller-identity", env=expired, check=False)
    assert r.returncode != 0 and "ExpiredToken" in r.stderr


def test_ec2_says_authfailure_for_unknown_key(aws):
    r = aws("ec2", "describe-vpcs", env={"AWS_ACCESS_KEY_ID": "AKIAUNKNOWN000000000"},
            check=False)
    assert r.returncode != 0 and "AuthFailure" in r.stderr


def test_skewed_clock_is_refused(emulator):
    skewed = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(hours=1)
    signer = Signer(EMU_ACCESS_KEY, EMU_SECRET_KEY, "us-east-1", when=skewed)
    headers = {"host": host_of(emulator)}
    signer.sign("GET", "/", {}, headers, EMPTY)
    status, _, body = request(emulator, "GET", "/", headers)
    assert status == 403 and b"RequestTimeTooSkewed" in body


def test_unsigned_s3_request_is_access_denied(emulator):
    status, _, body = request(emulator, "GET", "/some-bucket/key", {"host": host_of(emulator)})
    assert status == 403 and b"AccessDenied" in body
