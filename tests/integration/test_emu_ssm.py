"""The emulator's SSM against Debian's AWS CLI: an instance registers
only when its role has AmazonSSMManagedInstanceCore, Run Command answers
InvocationDoesNotExist first, and a script bash cannot parse fails with
bash's own message."""
import json
import sys
import time

import pytest

from conftest import ROOT

sys.path.insert(0, str(ROOT))
from emulator.server import Emulator  # noqa: E402
from emulator.services import ssm  # noqa: E402

SPEED = 20.0  # running after 0.4 s, Online 0.5 s later, a script runs 0.25 s
TRUST = {"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"},
     "Action": "sts:AssumeRole"}]}
CORE = "arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore"


@pytest.fixture
def emulator_speed():
    return SPEED


def profile(aws, name, core=True):
    aws("iam", "create-role", "--role-name", name,
        "--assume-role-policy-document", json.dumps(TRUST))
    if core:
        aws("iam", "attach-role-policy", "--role-name", name, "--policy-arn", CORE)
    aws("iam", "create-instance-profile", "--instance-profile-name", name)
    aws("iam", "add-role-to-instance-profile", "--instance-profile-name", name,
        "--role-name", name)


def launch(aws, control, prof):
    ami = control("POST", "ec2/seed-image", {"region": "us-west-2"})["ImageId"]
    res = aws("ec2", "run-instances", "--image-id", ami, "--iam-instance-profile",
              f"Name={prof}")
    return res["Instances"][0]["InstanceId"]


def online(aws, iid, filters=("--filters",)):
    key = "Key=InstanceIds,Values=" if filters[0] == "--filters" else \
        "key=InstanceIds,valueSet="
    out = aws("ssm", "describe-instance-information", *filters, key + iid)
    return [i for i in out["InstanceInformationList"] if i["PingStatus"] == "Online"]


def wait_online(aws, iid, timeout=20):
    deadline = time.time() + timeout
    while not online(aws, iid):
        assert time.time() < deadline, f"{iid} never came Online"
        time.sleep(0.2)


def send(aws, iid, *commands):
    out = aws("ssm", "send-command", "--instance-ids", iid, "--document-name",
              "AWS-RunShellScript", "--parameters", json.dumps({"commands": list(commands)}))
    assert out["Command"]["Status"] == "Pending"
    return out["Command"]["CommandId"]


def invocation(aws, cid, iid, timeout=20):
    """Poll like the CommandExecuted waiter until a final status."""
    deadline = time.time() + timeout
    while True:
        r = aws("ssm", "get-command-invocation", "--command-id", cid, "--instance-id", iid,
                check=False)
        if r.returncode == 0:
            inv = json.loads(r.stdout)
            if inv["Status"] not in ("Pending", "InProgress", "Delayed"):
                return inv
        else:
            assert "InvocationDoesNotExist" in r.stderr, r.stderr
        assert time.time() < deadline
        time.sleep(0.2)


def test_run_command(aws, control):
    profile(aws, "vmie-ssm")
    iid = launch(aws, control, "vmie-ssm")
    wait_online(aws, iid)
    info = online(aws, iid, ("--instance-information-filter-list",))[0]
    assert info["PlatformType"] == "Linux" and info["ResourceType"] == "EC2Instance"
    assert isinstance(info["LastPingDateTime"], str)  # the CLI renders the epoch number

    control("POST", "force", {"kind": "command", "hidden_polls": 1})
    cid = send(aws, iid, "echo hello world", "true  # installs sanbootable")
    r = aws("ssm", "get-command-invocation", "--command-id", cid, "--instance-id", iid,
            check=False)
    assert r.returncode != 0 and "(InvocationDoesNotExist)" in r.stderr, r.stderr
    inv = invocation(aws, cid, iid)
    assert inv["Status"] == "Success" and inv["ResponseCode"] == 0
    assert inv["StandardOutputContent"] == "hello world\n"
    assert inv["ExecutionElapsedTime"].startswith("PT") and \
        inv["ExecutionStartDateTime"].endswith("Z")
    # ec2_images' CreateImage marks AMIs made from such an instance.
    assert control("GET", "state")["ec2"]["instances"][iid]["sanbootable"] is True

    cid2 = send(aws, iid, "if true; then", "echo never")
    inv = invocation(aws, cid2, iid)
    assert inv["Status"] == "Failed" and inv["ResponseCode"] == 2
    assert "syntax error" in inv["StandardErrorContent"]
    assert "_script.sh: line 3" in inv["StandardErrorContent"]

    control("POST", "force", {"kind": "command", "status": "Failed", "stderr": "E: boom",
                              "exit_code": 100})
    inv = invocation(aws, send(aws, iid, "apt-get install -y ./sanbootable.deb"), iid)
    assert (inv["Status"], inv["ResponseCode"], inv["StandardErrorContent"]) == \
        ("Failed", 100, "E: boom")

    listed = aws("ssm", "list-command-invocations", "--command-id", cid,
                 "--details")["CommandInvocations"]
    assert [(i["InstanceId"], i["Status"]) for i in listed] == [(iid, "Success")]
    assert listed[0]["CommandPlugins"][0]["Output"] == "hello world\n"
    every = aws("ssm", "list-command-invocations", "--instance-id", iid)["CommandInvocations"]
    assert len(every) == 3

    r = aws("ssm", "send-command", "--instance-ids", iid, "--document-name",
            "AWS-RunPowerShellScript", "--parameters", '{"commands":["dir"]}', check=False)
    assert "(InvalidDocument)" in r.stderr, r.stderr


def test_never_online(aws, control):
    profile(aws, "no-core", core=False)
    profile(aws, "core")
    bare = launch(aws, control, "no-core")
    control("POST", "force", {"kind": "ssm-online", "online": False})
    forced = launch(aws, control, "core")
    time.sleep(2)  # 40 emulated seconds: far past the registration delay
    assert aws("ec2", "describe-instances", "--instance-ids", bare)["Reservations"][0][
        "Instances"][0]["State"]["Name"] == "running"
    assert aws("ssm", "describe-instance-information")["InstanceInformationList"] == []
    r = aws("ssm", "send-command", "--instance-ids", forced, "--document-name",
            "AWS-RunShellScript", "--parameters", '{"commands":["true"]}', check=False)
    assert "(InvalidInstanceId)" in r.stderr and forced in r.stderr, r.stderr
    assert sorted(control("GET", "state")["ec2"]["instances_not_terminated"]) == \
        sorted([bare, forced])


def test_invocation_timeline(tmp_path):
    """Unseen, then Pending, InProgress and final, on the emulated clock
    (too fast for a 1-second CLI start to observe at the edges)."""
    emu = Emulator(str(tmp_path), speed=1.0)
    cmd = {"invocations": {"i-1": {"status": "Success", "exit_code": 0, "duration": 5}}}
    seen = []
    for t in (0.5, 2.0, 4.0, 9.0):
        cmd["sent"] = time.time() - t
        seen.append(ssm.invocation_state(emu, cmd, "i-1")[:3])
    assert seen == [(None, None, -1), ("Pending", "Pending", -1),
                    ("InProgress", "In Progress", -1), ("Success", "Success", 0)]
    assert ssm._duration(0.091) == "PT0.091S" and ssm._duration(65) == "PT1M5.000S"
