"""vmie import --install-sanbootable end to end against the emulator: the
temporary instance launched, reached through SSM, imaged and terminated;
the refusals (Windows, no default VPC); the failures (SSM agent never
online, the install failing); Ctrl-C; and the orphans a killed run leaves,
reaped by the next run.  After every test no instance is left running.

Test knobs (sanboot_steps.h): VMIE_POLL_SCALE shrinks the poll delays to
match the emulator's fast clock; VMIE_SANBOOT_SSM_TIMEOUT_S shortens the
wait for the SSM agent."""
import base64
import json
import os
import pathlib
import signal
import socket
import subprocess
import time

import pytest

from conftest import ROOT, run
from images import MIB, make_raw

BUCKET = "vmie-sanboot-test"
REGION = "us-west-2"
NAME_TAG = "VMIE-Sanbootable-Install"


@pytest.fixture
def emulator_speed():
    return 1800.0  # a 30-minute import task takes 1 s; an instance boots in ms


@pytest.fixture
def env(emu_env):
    return dict(emu_env, VMIE_POLL_SCALE="0.02")


@pytest.fixture
def disk(tmp_path):
    p = tmp_path / "disk.raw"
    make_raw(p, 16 * MIB, 1 * MIB)
    return p


@pytest.fixture(autouse=True)
def nothing_left_running(request, emulator, control):
    """After each test: every instance terminated (not shutting down)."""
    yield
    deadline = time.time() + 10
    while True:
        left = control("GET", "state")["ec2"]["instances_not_terminated"]
        if not left or time.time() > deadline:
            break
        time.sleep(0.1)
    assert left == [], f"instances left: {left}"


def journal_dir(env):
    return pathlib.Path(env["XDG_STATE_HOME"]) / "vmie" / "instances"


def journal_files(env):
    d = journal_dir(env)
    return sorted(p.name for p in d.glob("*.json")) if d.exists() else []


def sanboot_import(vmie_bin, env, disk, *args, timeout=120):
    return run(vmie_bin, ["import", "--s3-bucket", BUCKET, "--source", str(disk),
                          "--install-sanbootable", *args], env, timeout=timeout)


def start(vmie_bin, env, disk, *args):
    return subprocess.Popen([vmie_bin, "import", "--s3-bucket", BUCKET, "--source", str(disk),
                             "--install-sanbootable", *args], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def instances(control):
    return control("GET", "state")["ec2"]["instances"]


def operations(control):
    return [q.get("operation") for q in control("GET", "requests")]


def wait_for(cond, what, timeout=60):
    deadline = time.time() + timeout
    while time.time() < deadline:
        v = cond()
        if v:
            return v
        time.sleep(0.05)
    pytest.fail(f"timed out waiting for {what}")


def launched(control):
    return [i for i, r in instances(control).items() if r["state"] != "terminated"]


def test_success(vmie_bin, env, aws, control, disk):
    control("POST", "force", {"kind": "command", "status": "Success",
                              "stdout": "vmie-sanbootable: installed sanbootable 0.3 "
                                        "with apt-get\n"})
    r = sanboot_import(vmie_bin, env, disk, "--json")
    assert r.returncode == 0, r.stderr
    res = json.loads(r.stdout)
    source = res["ami_id"]
    # The script's output is shown.
    assert "installed sanbootable 0.3 with apt-get" in r.stderr
    # The new AMI, tagged.
    imgs = aws("ec2", "describe-images", "--filters",
               "Name=tag:SanbootableInstalled,Values=true")["Images"]
    assert len(imgs) == 1, imgs
    new = imgs[0]
    tags = {t["Key"]: t["Value"] for t in new["Tags"]}
    assert tags["OriginalAMI"] == source and tags["CreatedBy"] == "vmie"
    assert new["State"] == "available" and new["ImageId"] != source
    if "sanbootable_ami_id" in res:
        assert res["sanbootable_ami_id"] == new["ImageId"]
        assert res["ami_id"] == source  # the imported AMI stays the result's AMI
    src = aws("ec2", "describe-images", "--image-ids", source)["Images"][0]
    for key in ("Architecture", "BootMode", "EnaSupport"):
        assert new.get(key) == src.get(key), key
    # The instance as it was launched, now terminated.
    (iid, inst), = instances(control).items()
    assert inst["state"] == "terminated"
    assert inst["InstanceType"] == "t3.micro"
    assert inst["MetadataOptions"]["HttpTokens"] == "required"
    assert inst["IamInstanceProfile"]["Name"] == "VMIEInstanceProfile"
    userdata = base64.b64decode(inst["UserData"]).decode()
    assert userdata == (ROOT / "data" / "ssm_agent_userdata.sh").read_text()
    assert inst["ClientToken"].startswith("vmie-")
    described = aws("ec2", "describe-instances", "--instance-ids", iid)
    itags = {t["Key"]: t["Value"]
             for t in described["Reservations"][0]["Instances"][0]["Tags"]}
    assert itags["Name"] == NAME_TAG and itags["CreatedBy"] == "vmie"
    assert itags["vmie:source-ami"] == source and len(itags["vmie:run-id"]) == 32
    # The instance profile's role may be used by SSM.
    prof = aws("iam", "get-instance-profile", "--instance-profile-name",
               "VMIEInstanceProfile")["InstanceProfile"]
    role = prof["Roles"][0]["RoleName"]
    pols = aws("iam", "list-attached-role-policies", "--role-name", role)
    assert any(p["PolicyName"] == "AmazonSSMManagedInstanceCore"
               for p in pols["AttachedPolicies"])
    # The script sent is the one in data/.
    cmds = aws("ssm", "list-command-invocations", "--instance-id", iid)["CommandInvocations"]
    assert len(cmds) == 1 and cmds[0]["Status"] == "Success"
    ops = operations(control)
    assert ops.index("StopInstances") < ops.index("CreateImage") < \
        ops.index("TerminateInstances")
    assert journal_files(env) == []


def test_windows_ami_refused_before_anything(vmie_bin, env, control, disk):
    control("POST", "force", {"kind": "import", "outcome": "succeed", "platform": "Windows"})
    r = sanboot_import(vmie_bin, env, disk, "--json")
    assert r.returncode == 5, r.stderr
    assert "Windows" in r.stderr and "Linux only" in r.stderr
    assert json.loads(r.stdout)["error"]["code"] == "ERR_SANBOOTABLE_WINDOWS_NOT_SUPPORTED"
    ops = operations(control)
    for op in ("GetInstanceProfile", "CreateInstanceProfile", "RunInstances"):
        assert op not in ops, op
    assert instances(control) == {}


def test_new_instance_profile_not_yet_visible_is_waited_for(vmie_bin, env, control, disk):
    """The instance profile vmie just made is invisible to EC2 for a few
    seconds: RunInstances is retried until EC2 accepts it, one instance."""
    ami = control("POST", "ec2/seed-image", {"region": REGION})["ImageId"]
    control("POST", "iam/propagation", {"seconds": 3})
    r = run(vmie_bin, ["export", "--s3-bucket", BUCKET, "--ami-id", ami,
                       "--install-sanbootable"], env, timeout=120)
    assert r.returncode == 0, r.stderr
    assert "waiting for IAM to make instance profile VMIEInstanceProfile visible to EC2" \
        in r.stderr
    assert operations(control).count("RunInstances") >= 2
    assert len(instances(control)) == 1


ZONE_REFUSAL = {"operation": "RunInstances", "status": 400, "code": "Unsupported",
                "message": "Your requested instance type (t3.micro) is not supported in "
                           "your requested Availability Zone (us-west-2a). Please retry "
                           "your request by not specifying an Availability Zone or "
                           "choosing us-west-2b, us-west-2c, us-west-2d."}


def test_zone_without_the_type_tries_the_next_default_subnet(vmie_bin, env, aws, control,
                                                             disk):
    """Account AZ names map to different zones, and some zones lack an
    instance type: a launch refused in one default subnet's zone goes to
    the next."""
    subnets = sorted(aws("ec2", "describe-subnets")["Subnets"],
                     key=lambda s: s["AvailabilityZone"])
    control("POST", "faults", ZONE_REFUSAL)
    r = sanboot_import(vmie_bin, env, disk)
    assert r.returncode == 0, r.stderr
    assert f"cannot start in the zone of subnet {subnets[0]['SubnetId']} (Unsupported)" \
        in r.stderr
    assert operations(control).count("RunInstances") == 2
    (inst,) = instances(control).values()
    assert inst["SubnetId"] == subnets[1]["SubnetId"]


def test_zone_refusal_with_subnet_id_says_what_to_do(vmie_bin, env, aws, control, disk):
    chosen = aws("ec2", "describe-subnets")["Subnets"][0]["SubnetId"]
    control("POST", "faults", ZONE_REFUSAL)
    r = sanboot_import(vmie_bin, env, disk, "--subnet-id", chosen)
    assert r.returncode == 3, r.stderr
    assert "is not supported in your requested Availability Zone" in r.stderr
    assert "describe-instance-type-offerings" in r.stderr
    assert operations(control).count("RunInstances") == 1
    assert instances(control) == {}


def test_no_default_vpc(vmie_bin, env, control, disk):
    control("POST", "ec2/delete-default-vpc", {"region": REGION})
    r = sanboot_import(vmie_bin, env, disk)
    assert r.returncode == 3, r.stderr
    assert "no default VPC" in r.stderr
    assert "aws ec2 describe-vpcs" in r.stderr
    assert "--filters Name=isDefault,Values=true" in r.stderr
    assert "aws ec2 create-default-vpc" in r.stderr and "--subnet-id" in r.stderr
    assert "RunInstances" not in operations(control)
    assert instances(control) == {}


def test_subnet_id_used_as_given(vmie_bin, env, aws, control, disk):
    """--subnet-id: the instance goes there (one of the default VPC's
    subnets, not the first one EC2 would pick) and the default VPC is not
    looked up."""
    subnets = aws("ec2", "describe-subnets")["Subnets"]
    chosen = sorted(subnets, key=lambda s: s["AvailabilityZone"])[-1]["SubnetId"]
    r = sanboot_import(vmie_bin, env, disk, "--subnet-id", chosen,
                       "--instance-type", "t3.small")
    assert r.returncode == 0, r.stderr
    (inst,) = instances(control).values()
    assert inst["SubnetId"] == chosen and inst["InstanceType"] == "t3.small"
    assert "DescribeVpcs" not in operations(control)


def test_subnet_id_without_a_default_vpc(vmie_bin, env, aws, control, disk):
    """An account with no default VPC: --subnet-id of a subnet of another
    VPC is all the temporary instance needs."""
    control("POST", "ec2/delete-default-vpc", {"region": REGION})
    vpc = aws("ec2", "create-vpc", "--cidr-block", "10.20.0.0/16")["Vpc"]["VpcId"]
    subnet = aws("ec2", "create-subnet", "--vpc-id", vpc,
                 "--cidr-block", "10.20.1.0/24")["Subnet"]["SubnetId"]
    r = sanboot_import(vmie_bin, env, disk, "--subnet-id", subnet)
    assert r.returncode == 0, r.stderr
    (inst,) = instances(control).values()
    assert inst["SubnetId"] == subnet and inst["state"] == "terminated"


def test_ssm_never_online(vmie_bin, env, control, disk):
    control("POST", "force", {"kind": "ssm-online"})  # the agent never registers
    r = sanboot_import(vmie_bin, dict(env, VMIE_SANBOOT_SSM_TIMEOUT_S="2"), disk)
    assert r.returncode == 5, r.stderr
    assert "did not come online within 2 s" in r.stderr
    for what in ("AmazonSSMManagedInstanceCore", "VPC endpoints", "NAT", "SSM agent"):
        assert what in r.stderr, what
    assert "terminated temporary instance" in r.stderr
    assert "SendCommand" not in operations(control)
    assert journal_files(env) == []


def test_install_command_fails(vmie_bin, env, control, disk):
    control("POST", "force", {"kind": "command", "status": "Failed", "exit_code": 100,
                              "stdout": "vmie-sanbootable: package manager: apt-get\n",
                              "stderr": "E: Unable to locate package open-iscsi\n"})
    r = sanboot_import(vmie_bin, env, disk)
    assert r.returncode == 5, r.stderr
    assert "E: Unable to locate package open-iscsi" in r.stderr
    assert "package manager: apt-get" in r.stderr  # stdout shown too
    assert "exit 100" in r.stderr
    ops = operations(control)
    assert "CreateImage" not in ops and "TerminateInstances" in ops
    assert journal_files(env) == []


def test_sigint_during_the_wait(vmie_bin, env, control, disk):
    control("POST", "force", {"kind": "ssm-online"})
    p = start(vmie_bin, env, disk)
    wait_for(lambda: launched(control) and journal_files(env), "the instance")
    time.sleep(0.3)
    p.send_signal(signal.SIGINT)
    out, err = p.communicate(timeout=60)
    assert p.returncode == 130, err
    assert "interrupted" in err
    assert "terminated temporary instance" in err
    assert "TerminateInstances" in operations(control)
    assert journal_files(env) == []


def test_sigterm_during_the_wait(vmie_bin, env, control, disk):
    control("POST", "force", {"kind": "ssm-online"})
    p = start(vmie_bin, env, disk)
    wait_for(lambda: launched(control) and journal_files(env), "the instance")
    p.send_signal(signal.SIGTERM)
    out, err = p.communicate(timeout=60)
    assert p.returncode == 143, err
    assert journal_files(env) == []


def proc_start(pid):
    with open(f"/proc/{pid}/stat") as f:
        return int(f.read().rsplit(")", 1)[1].split()[19])


def test_orphan_reaped_by_any_next_run(vmie_bin, env, control, disk):
    """The next run need not install sanbootable itself: a plain export
    finds this machine's journal entry and terminates the orphan."""
    control("POST", "force", {"kind": "ssm-online"})
    p = start(vmie_bin, env, disk)
    wait_for(lambda: launched(control) and journal_files(env), "the instance")
    (orphan,) = launched(control)
    p.kill()
    p.communicate(timeout=30)
    seeded = control("POST", "ec2/seed-image", {"region": REGION})["ImageId"]
    r = run(vmie_bin, ["export", "--s3-bucket", BUCKET, "--ami-id", seeded], env, timeout=120)
    assert r.returncode == 0, r.stderr
    assert f"terminating instance {orphan}" in r.stderr
    assert orphan not in launched(control)
    assert journal_files(env) == []


def test_orphans_reaped_by_the_next_run(vmie_bin, env, aws, control, disk):
    """A run killed with SIGKILL leaves its instance and its journal entry:
    the next run terminates it.  An instance this machine has no record of
    is reported with the command to terminate it; one whose owner still
    runs is left alone."""
    control("POST", "force", {"kind": "ssm-online"})
    p = start(vmie_bin, env, disk)
    wait_for(lambda: launched(control) and journal_files(env), "the instance")
    (orphan,) = launched(control)
    p.kill()
    p.communicate(timeout=30)
    entry = json.loads((journal_dir(env) / f"{orphan}.json").read_text())
    assert entry["pid"] == p.pid and entry["region"] == REGION
    assert oct((journal_dir(env) / f"{orphan}.json").stat().st_mode & 0o777) == "0o600"
    assert orphan in launched(control)

    seeded = control("POST", "ec2/seed-image", {"region": REGION})["ImageId"]
    tags = ("ResourceType=instance,Tags=[{Key=Name,Value=%s},{Key=CreatedBy,Value=vmie}]"
            % NAME_TAG)

    def launch():
        out = aws("ec2", "run-instances", "--image-id", seeded, "--instance-type", "t3.micro",
                  "--tag-specifications", tags)
        return out["Instances"][0]["InstanceId"]
    foreign, owned = launch(), launch()
    (journal_dir(env) / f"{owned}.json").write_text(json.dumps({
        "instance_id": owned, "pid": os.getpid(), "proc_start": proc_start(os.getpid()),
        "hostname": socket.gethostname(), "run_id": "0" * 32, "region": REGION,
        "source_ami": seeded, "started": int(time.time())}))

    r = sanboot_import(vmie_bin, env, disk)
    assert r.returncode == 0, r.stderr
    assert f"terminating instance {orphan}" in r.stderr
    assert f"aws ec2 terminate-instances --region {REGION} --instance-ids {foreign}" \
        in r.stderr
    assert f"instance {owned} belongs to a vmie run still going" in r.stderr
    left = launched(control)
    assert orphan not in left and foreign in left and owned in left
    assert journal_files(env) == [f"{owned}.json"]
    aws("ec2", "terminate-instances", "--instance-ids", foreign, owned)
