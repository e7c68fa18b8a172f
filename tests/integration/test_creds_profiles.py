"""Assume-role profiles and credential_process end to end: config files
written by the test, roles created in the emulator's IAM (AssumeRole
checks their trust policies), vmie whoami showing the chain, the MFA
prompt on a pseudo-terminal, the AWS CLI's credential cache shared, a
credential_process that hangs."""
import fcntl
import json
import os
import re
import shutil
import select
import signal
import subprocess
import termios
import time

import pytest

from conftest import AWS_CLI, EMU_ACCESS_KEY, EMU_SECRET_KEY, run
from creds_util import ACCOUNT, create_role, requests, run_pty, write_config

BASE = f"""[profile base]
aws_access_key_id = {EMU_ACCESS_KEY}
aws_secret_access_key = {EMU_SECRET_KEY}
"""


@pytest.fixture
def env(clean_env, emulator):
    return dict(clean_env, AWS_REGION="us-west-2", AWS_ENDPOINT_URL=emulator)


def whoami(vmie_bin, env, profile, **kw):
    r = run(vmie_bin, ["--profile", profile, "whoami", "--json"], env, **kw)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


def test_two_hop_source_profile_chain(vmie_bin, env, emulator, control):
    """top assumes B with the credentials of mid, which assumes A with
    base's keys: two AssumeRole calls, each signed by the hop below."""
    role_a = create_role(emulator, "HopA")
    role_b = create_role(emulator, "HopB", principal=role_a)
    write_config(env, BASE + f"""[profile mid]
role_arn = {role_a}
source_profile = base
[profile top]
role_arn = {role_b}
source_profile = mid
role_session_name = vmie-two-hops
""")
    doc = whoami(vmie_bin, env, "top")
    assert doc["Arn"] == f"arn:aws:sts::{ACCOUNT}:assumed-role/HopB/vmie-two-hops"
    assert doc["Credentials"] == "assume-role"
    assert doc["Chain"] == (f"config-file → assumed {role_a} from profile base → "
                            f"assumed {role_b} from profile mid")
    assert doc["Expiration"]
    calls = requests(control, "AssumeRole")
    assert [c["status"] for c in calls] == [200, 200]
    assert calls[0]["akid"] == EMU_ACCESS_KEY
    assert calls[1]["akid"].startswith("ASIA")
    # Both sessions are in the AWS CLI's cache, files 0600.
    cache = os.path.join(env["HOME"], ".aws", "cli", "cache")
    files = os.listdir(cache)
    assert len(files) == 2
    assert all(os.stat(os.path.join(cache, f)).st_mode & 0o777 == 0o600 for f in files)
    # The text form says the same.
    r = run(vmie_bin, ["--profile", "top", "whoami"], env)
    assert r.returncode == 0, r.stderr
    assert f"assumed {role_b} from profile mid" in r.stdout
    assert re.search(r"^Expires +\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ \(in (59 min|1 h 00 min)",
                     r.stdout, re.M), r.stdout


def test_whoami_of_long_term_keys_has_no_chain_nor_expiry(vmie_bin, env):
    write_config(env, BASE)
    doc = whoami(vmie_bin, env, "base")
    assert doc["Credentials"] == "config-file"
    assert doc["Chain"] is None and doc["Expiration"] is None
    r = run(vmie_bin, ["--profile", "base", "whoami"], env)
    assert "Chain" not in r.stdout
    assert re.search(r"^Expires +- \(no expiration given\)$", r.stdout, re.M), r.stdout


def test_source_profile_loop_is_refused_naming_it(vmie_bin, env, control):
    write_config(env, """[profile a]
role_arn = arn:aws:iam::123456789012:role/A
source_profile = b
[profile b]
role_arn = arn:aws:iam::123456789012:role/B
source_profile = c
[profile c]
role_arn = arn:aws:iam::123456789012:role/C
source_profile = a
""")
    r = run(vmie_bin, ["--profile", "a", "whoami"], env)
    assert r.returncode == 3, r.stderr
    assert "a → b → c → a" in r.stderr
    assert requests(control, "AssumeRole") == []


def test_missing_source_profile(vmie_bin, env):
    write_config(env, """[profile a]
role_arn = arn:aws:iam::123456789012:role/A
source_profile = nowhere
""")
    r = run(vmie_bin, ["--profile", "a", "whoami"], env)
    assert r.returncode == 3
    assert 'The source_profile "nowhere" referenced in the profile "a" does not exist' \
        in r.stderr


def test_credential_source_environment(vmie_bin, env, emulator, control):
    role = create_role(emulator, "FromEnv")
    write_config(env, f"""[profile ci]
role_arn = {role}
credential_source = Environment
""")
    e = dict(env, AWS_ACCESS_KEY_ID=EMU_ACCESS_KEY, AWS_SECRET_ACCESS_KEY=EMU_SECRET_KEY)
    doc = whoami(vmie_bin, e, "ci")
    assert doc["Arn"].startswith(f"arn:aws:sts::{ACCOUNT}:assumed-role/FromEnv/"
                                 "botocore-session-")
    assert doc["Chain"] == f"environment → assumed {role} from credential_source Environment"
    assert [c["akid"] for c in requests(control, "AssumeRole")] == [EMU_ACCESS_KEY]
    # Without the variables (and the session cached) there is nothing to
    # assume the role with.
    shutil.rmtree(os.path.join(env["HOME"], ".aws", "cli", "cache"))
    r = run(vmie_bin, ["--profile", "ci", "whoami"], env)
    assert r.returncode == 3
    assert "No credentials found in credential_source Environment" in r.stderr


def test_external_id(vmie_bin, env, emulator, control):
    role = create_role(emulator, "Partner",
                       condition={"StringEquals": {"sts:ExternalId": "partner-7f3a"}})
    write_config(env, BASE + f"""[profile good]
role_arn = {role}
source_profile = base
external_id = partner-7f3a
[profile bad]
role_arn = {role}
source_profile = base
external_id = guessed-1234
[profile none]
role_arn = {role}
source_profile = base
""")
    assert whoami(vmie_bin, env, "good")["Arn"].startswith(
        f"arn:aws:sts::{ACCOUNT}:assumed-role/Partner/")
    for profile in ("bad", "none"):
        r = run(vmie_bin, ["--profile", profile, "whoami"], env)
        assert r.returncode == 3, r.stderr
        assert "AccessDenied" in r.stderr
        assert f"not authorized to perform: sts:AssumeRole on resource: {role}" in r.stderr
        assert "external_id" in r.stderr or profile == "none"
    sent = [c for c in requests(control, "AssumeRole")]
    assert [c["status"] for c in sent] == [200, 403, 403]


MFA_SERIAL = f"arn:aws:iam::{ACCOUNT}:mfa/alice"
CODE = "274819"


@pytest.fixture
def mfa_profile(env, emulator, control):
    role = create_role(emulator, "Guarded",
                       condition={"Bool": {"aws:MultiFactorAuthPresent": "true"}})
    write_config(env, BASE + f"""[profile guarded]
role_arn = {role}
source_profile = base
mfa_serial = {MFA_SERIAL}
""")
    control("POST", "sts/mfa-devices", {"SerialNumber": MFA_SERIAL, "TokenCode": CODE})
    return role


def test_mfa_code_typed_on_a_terminal_then_cached(vmie_bin, env, control, mfa_profile,
                                                   emulator):
    code, shown = run_pty(vmie_bin, ["--profile", "guarded", "whoami"], env,
                          answers=[CODE.encode()])
    assert code == 0, shown
    assert f"Enter MFA code for {MFA_SERIAL}:" in shown
    assert CODE not in shown  # never echoed
    assert "assumed-role/Guarded/" in shown
    assert len(requests(control, "AssumeRole")) == 1

    # A second run, with no terminal at all, asks nothing: the session
    # is in the CLI's cache.
    r = run(vmie_bin, ["--profile", "guarded", "whoami", "--json"], env,
            start_new_session=True, stdin=subprocess.DEVNULL)
    assert r.returncode == 0, r.stderr
    assert "assumed-role/Guarded/" in json.loads(r.stdout)["Arn"]
    assert len(requests(control, "AssumeRole")) == 1
    assert "cached" in json.loads(r.stdout)["Chain"]

    # The AWS CLI finds the same session: no prompt (it has no terminal
    # either), no AssumeRole of its own.
    cli = subprocess.run([AWS_CLI, "--endpoint-url", emulator, "--profile", "guarded",
                          "--output", "json", "sts", "get-caller-identity"],
                         env=dict(env, AWS_DEFAULT_REGION="us-west-2", AWS_PAGER=""),
                         capture_output=True, text=True, timeout=60,
                         start_new_session=True, stdin=subprocess.DEVNULL)
    assert cli.returncode == 0, cli.stderr
    assert "assumed-role/Guarded/" in json.loads(cli.stdout)["Arn"]
    assert len(requests(control, "AssumeRole")) == 1


def test_mfa_refused_without_a_terminal(vmie_bin, env, control, mfa_profile):
    r = run(vmie_bin, ["--profile", "guarded", "whoami"], env,
            start_new_session=True, stdin=subprocess.DEVNULL, timeout=30)
    assert r.returncode == 3, r.stderr
    assert f"needs a code from MFA device {MFA_SERIAL}" in r.stderr
    assert "no terminal" in r.stderr
    assert "hint:" in r.stderr and "~/.aws/cli/cache" in r.stderr
    assert requests(control, "AssumeRole") == []


def test_mfa_refused_with_json_and_no_tty_stdin(vmie_bin, env, control, mfa_profile):
    """A terminal exists, but --json with stdin not a terminal is a script:
    nobody is asked."""
    code, shown = run_pty(vmie_bin, ["--profile", "guarded", "whoami", "--json"], env,
                          answers=[CODE.encode()], stdin_null=True)
    assert code == 3, shown
    assert "Enter MFA code" not in shown
    assert "--json was given and stdin is not a terminal" in shown
    assert requests(control, "AssumeRole") == []


@pytest.mark.parametrize("key,signal_name,status", [(b"\x03", "SIGINT", 130),
                                                     (b"\x1c", "SIGQUIT", -3)])
def test_signal_at_the_mfa_prompt_gives_the_terminal_back(vmie_bin, env, control, mfa_profile,
                                                          key, signal_name, status):
    """Ctrl-C (or Ctrl-\\) while the code is asked: vmie stops as that
    signal says, and the terminal echoes again."""
    master, slave = os.openpty()
    pid = os.fork()
    if pid == 0:
        try:
            os.close(master)
            os.setsid()
            fcntl.ioctl(slave, termios.TIOCSCTTY, 0)
            for fd in (0, 1, 2):
                os.dup2(slave, fd)
            os.execve(vmie_bin, [vmie_bin, "--profile", "guarded", "whoami"], env)
        finally:
            os._exit(127)
    shown = b""
    deadline = time.time() + 30
    while b"Enter MFA code" not in shown and time.time() < deadline:
        if select.select([master], [], [], 0.2)[0]:
            shown += os.read(master, 4096)
    assert b"Enter MFA code" in shown, shown
    assert not termios.tcgetattr(slave)[3] & termios.ECHO  # muted while asking
    os.write(master, key)
    st = None
    while st is None and time.time() < deadline:
        done, st = os.waitpid(pid, os.WNOHANG)
        st = st if done else None
        if select.select([master], [], [], 0.1)[0]:
            try:
                shown += os.read(master, 4096)
            except OSError:
                pass
    if st is None:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
    assert st is not None, f"vmie did not stop after {signal_name}: {shown!r}"
    assert os.waitstatus_to_exitcode(st) == status, signal_name
    assert termios.tcgetattr(slave)[3] & termios.ECHO  # given back
    os.close(master)
    os.close(slave)
    assert requests(control, "AssumeRole") == []


def test_wrong_mfa_code(vmie_bin, env, control, mfa_profile):
    code, shown = run_pty(vmie_bin, ["--profile", "guarded", "whoami"], env,
                          answers=[b"000000"])
    assert code == 3, shown
    assert "MultiFactorAuthentication failed with invalid MFA one time pass code" in shown
    assert "000000" not in shown


def test_hung_credential_process_is_stopped(vmie_bin, env, tmp_path):
    helper = tmp_path / "hang.sh"
    helper.write_text("#!/bin/sh\nsleep 600\n")
    helper.chmod(0o755)
    write_config(env, f"""[profile slow]
credential_process = {helper} --account prod
credential_process_timeout = 2
""")
    t0 = time.time()
    r = run(vmie_bin, ["--profile", "slow", "whoami"], env, timeout=30)
    took = time.time() - t0
    assert r.returncode == 3, r.stderr
    assert f"credential_process {helper} (profile slow) did not finish within 2 s" in r.stderr
    assert "credential_process_timeout" in r.stderr
    assert took < 15, took
    # The environment variable overrides the profile, as in the CLI.
    r = run(vmie_bin, ["--profile", "slow", "whoami"],
            dict(env, AWS_CREDENTIAL_PROCESS_TIMEOUT="1"), timeout=30)
    assert "within 1 s" in r.stderr
