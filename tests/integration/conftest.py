"""Shared fixtures: the vmie binary, a clean environment, the emulator."""
import os
import pathlib
import subprocess
import sys
import time

import pytest

ROOT = pathlib.Path(os.environ.get("VMIE_ROOT", pathlib.Path(__file__).resolve().parents[2]))
EMU_ACCESS_KEY = "AKIAVMIEEMULATOR0001"
EMU_SECRET_KEY = "vmie/emulator/secret/key/not/for/aws/0001"


@pytest.fixture(scope="session")
def vmie_bin():
    path = pathlib.Path(os.environ.get("VMIE_BIN", ROOT / "build" / "vmie"))
    if not path.exists():
        pytest.fail(f"vmie binary not found at {path}: build first (make build) or set VMIE_BIN")
    return str(path)


@pytest.fixture
def clean_env(tmp_path):
    """An environment with no trace of the developer's AWS setup."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    home = tmp_path / "home"
    home.mkdir()
    env.update({
        "HOME": str(home),
        "XDG_STATE_HOME": str(tmp_path / "state"),
        "AWS_CONFIG_FILE": str(home / "aws-config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(home / "aws-credentials"),
        "AWS_EC2_METADATA_DISABLED": "true",
        "NO_COLOR": "1",
    })
    env.pop("AWS_PROFILE", None)
    return env


@pytest.fixture
def emulator_speed():
    """The emulated clock's speed (--speed): VMIE_EMULATOR_SPEED, else 1.
    A test module overrides it by defining its own `emulator_speed`
    fixture, a test by @pytest.mark.parametrize("emulator_speed", [...])."""
    return float(os.environ.get("VMIE_EMULATOR_SPEED", "1"))


@pytest.fixture
def emulator_args():
    """Extra emulator options; a module overrides it (e.g. ["--s3-sink"])."""
    return []


@pytest.fixture
def emulator(tmp_path, emulator_speed, emulator_args):
    """A running emulator; yields its endpoint URL."""
    state = tmp_path / "emu-state"
    state.mkdir()
    # A file, not a pipe: a chatty emulator must never block on a full pipe.
    log = open(tmp_path / "emulator.log", "wb")
    proc = subprocess.Popen([sys.executable if sys.executable else "/usr/bin/python3",
                             "-m", "emulator", "--port", "0", "--state-dir", str(state),
                             "--speed", str(emulator_speed), *emulator_args],
                            cwd=str(ROOT), stdout=log, stderr=subprocess.STDOUT)
    portfile = state / "port"
    deadline = time.time() + 15
    while not portfile.exists():
        if proc.poll() is not None or time.time() > deadline:
            proc.kill()
            proc.wait()
            log.close()
            text = (tmp_path / "emulator.log").read_text(errors="replace")
            pytest.fail(f"emulator did not start:\n{text}")
        time.sleep(0.05)
    url = f"http://127.0.0.1:{portfile.read_text().strip()}"
    try:
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


@pytest.fixture
def emu_env(clean_env, emulator):
    env = dict(clean_env)
    env.update({
        "AWS_ACCESS_KEY_ID": EMU_ACCESS_KEY,
        "AWS_SECRET_ACCESS_KEY": EMU_SECRET_KEY,
        "AWS_REGION": "us-west-2",
        "AWS_ENDPOINT_URL": emulator,
    })
    return env


def run(vmie_bin, args, env, **kw):
    return subprocess.run([vmie_bin, *args], env=env, capture_output=True, text=True,
                          timeout=kw.pop("timeout", 60), **kw)


AWS_CLI = "/usr/bin/aws"  # Debian's awscli: a client nobody here wrote


@pytest.fixture
def aws(emu_env, emulator):
    """Run Debian's AWS CLI against the emulator; returns parsed JSON
    (or raises AssertionError with stderr).  aws(..., check=False) returns
    the CompletedProcess instead."""
    import json as _json
    import shutil
    if not shutil.which(AWS_CLI):
        pytest.fail(f"{AWS_CLI} not found: run scripts/bootstrap.sh (package awscli)")

    def call(*args, check=True, input=None, env=None):
        # awscli 2.9 reads AWS_DEFAULT_REGION, not AWS_REGION
        e = dict(emu_env, AWS_PAGER="", AWS_CLI_AUTO_PROMPT="off",
                 AWS_DEFAULT_REGION=emu_env["AWS_REGION"])
        # IAM answers only signatures scoped to us-east-1; the CLI uses that
        # scope for AWS's own IAM endpoint but the region for --endpoint-url.
        if "iam" in args[:3] and "--region" not in args:
            e["AWS_DEFAULT_REGION"] = e["AWS_REGION"] = "us-east-1"
        e.update(env or {})
        r = subprocess.run([AWS_CLI, "--endpoint-url", emulator, "--output", "json", *args],
                           env=e, capture_output=True, text=True, timeout=120, input=input)
        if not check:
            return r
        assert r.returncode == 0, f"aws {' '.join(args)} failed:\n{r.stderr}"
        return _json.loads(r.stdout) if r.stdout.strip() else {}
    return call


@pytest.fixture
def control(emulator):
    """The emulator's control API: control("GET", "state"), control("POST", "faults", {...})."""
    import json as _json
    import urllib.request

    def call(method, route, body=None):
        data = _json.dumps(body).encode() if body is not None else None
        rq = urllib.request.Request(f"{emulator}/_vmie/{route}", data=data, method=method,
                                    headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(rq, timeout=30) as r:
            return _json.loads(r.read() or b"null")
    return call
