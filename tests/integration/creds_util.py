"""Helpers of the credential tests: config files written by the test,
roles created in the emulator's IAM, the emulator's request log, and
vmie run on a pseudo-terminal."""
import datetime
import hashlib
import hmac
import json
import os
import pty
import re
import select
import signal
import time
import urllib.error
import urllib.parse
import urllib.request

ACCOUNT = "123456789012"
EMU_USER_ARN = f"arn:aws:iam::{ACCOUNT}:user/vmie-emulator"


def write_config(env, text, credentials=""):
    with open(env["AWS_CONFIG_FILE"], "w") as f:
        f.write(text)
    with open(env["AWS_SHARED_CREDENTIALS_FILE"], "w") as f:
        f.write(credentials)


def trust(principal, condition=None):
    stmt = {"Effect": "Allow", "Principal": {"AWS": principal}, "Action": "sts:AssumeRole"}
    if condition:
        stmt["Condition"] = condition
    return json.dumps({"Version": "2012-10-17", "Statement": [stmt]})


def _hmac(key, text):
    return hmac.new(key, text.encode(), hashlib.sha256).digest()


def query_call(emulator, service, params, akid, secret, token=None, region="us-east-1"):
    """One signed query-protocol call (IAM, STS) the way any SDK sends
    it; returns (HTTP status, response text).  Much faster than starting
    the AWS CLI."""
    version = {"iam": "2010-05-08", "sts": "2011-06-15"}[service]
    body = urllib.parse.urlencode(dict(params, Version=version),
                                  quote_via=urllib.parse.quote).encode()
    host = urllib.parse.urlsplit(emulator).netloc
    now = datetime.datetime.now(datetime.timezone.utc)
    amz, day = now.strftime("%Y%m%dT%H%M%SZ"), now.strftime("%Y%m%d")
    payload = hashlib.sha256(body).hexdigest()
    headers = {"content-type": "application/x-www-form-urlencoded; charset=utf-8",
               "host": host, "x-amz-date": amz}
    if token:
        headers["x-amz-security-token"] = token
    names = sorted(headers)
    canon = "\n".join(["POST", "/", "", "".join(f"{n}:{headers[n]}\n" for n in names),
                       ";".join(names), payload])
    scope = f"{day}/{region}/{service}/aws4_request"
    sts = "\n".join(["AWS4-HMAC-SHA256", amz, scope, hashlib.sha256(canon.encode()).hexdigest()])
    key = ("AWS4" + secret).encode()
    for part in (day, region, service, "aws4_request"):
        key = _hmac(key, part)
    sig = hmac.new(key, sts.encode(), hashlib.sha256).hexdigest()
    headers["authorization"] = (f"AWS4-HMAC-SHA256 Credential={akid}/{scope}, "
                                f"SignedHeaders={';'.join(names)}, Signature={sig}")
    rq = urllib.request.Request(emulator + "/", data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(rq, timeout=30) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def create_role(emulator, name, principal=EMU_USER_ARN, condition=None, max_session=None):
    """CreateRole in the emulator's IAM (as the emulator's user); the ARN."""
    from conftest import EMU_ACCESS_KEY, EMU_SECRET_KEY
    params = {"Action": "CreateRole", "RoleName": name,
              "AssumeRolePolicyDocument": trust(principal, condition)}
    if max_session:
        params["MaxSessionDuration"] = str(max_session)
    status, text = query_call(emulator, "iam", params, EMU_ACCESS_KEY, EMU_SECRET_KEY)
    assert status == 200, text
    return re.search(r"<Arn>([^<]+)</Arn>", text).group(1)


def requests(control, operation=None):
    """The emulator's request log, oldest first (one operation's only)."""
    return [q for q in control("GET", "requests")
            if operation is None or q.get("operation") == operation]


def run_pty(vmie_bin, args, env, answers=(), prompt=b"Enter MFA code", stdin_null=False,
            timeout=60):
    """Run vmie with a pseudo-terminal as its controlling terminal and its
    stdin, stdout and stderr (stdin /dev/null with stdin_null).  Each time
    `prompt` appears, the next answer is typed.  Returns (exit status,
    what the terminal showed)."""
    pid, fd = pty.fork()
    if pid == 0:  # the child: exec at once, nothing of pytest runs here
        try:
            if stdin_null:
                null = os.open("/dev/null", os.O_RDONLY)
                os.dup2(null, 0)
            os.execve(vmie_bin, [vmie_bin, *args], env)
        finally:
            os._exit(127)
    shown, pending, answers = b"", b"", list(answers)
    deadline = time.time() + timeout
    try:
        while time.time() < deadline:
            ready, _, _ = select.select([fd], [], [], 0.2)
            if not ready:
                continue
            try:
                data = os.read(fd, 4096)
            except OSError:  # EIO: the child closed the terminal
                break
            if not data:
                break
            shown += data
            pending += data
            if prompt in pending and answers:
                pending = b""
                time.sleep(0.1)  # let it turn the echo off first
                os.write(fd, answers.pop(0) + b"\n")
        else:
            os.kill(pid, signal.SIGKILL)
    finally:
        _, status = os.waitpid(pid, 0)
        os.close(fd)
    return os.waitstatus_to_exitcode(status), shown.decode(errors="replace")
