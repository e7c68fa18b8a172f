"""The emulator's EC2 instances and default network against Debian's AWS
CLI: the launch/stop/terminate sequence vmie drives for its temporary
sanbootable instance, and the failures it must handle."""
import json
import time

import pytest

SPEED = 20.0  # pending -> running in 0.4 s, stopping -> stopped in 0.6 s


@pytest.fixture
def emulator_speed():
    return SPEED


@pytest.fixture
def ami(control):
    return control("POST", "ec2/seed-image", {"region": "us-west-2"})["ImageId"]


def failed(r, code, text=None):
    assert r.returncode != 0
    assert f"({code})" in r.stderr, r.stderr
    if text:
        assert text in r.stderr, r.stderr


def instance(aws, iid):
    res = aws("ec2", "describe-instances", "--instance-ids", iid)["Reservations"]
    return res[0]["Instances"][0]


def wait_state(aws, iid, state, timeout=20):
    deadline = time.time() + timeout
    while True:
        inst = instance(aws, iid)
        if inst["State"]["Name"] == state or time.time() > deadline:
            assert inst["State"]["Name"] == state
            return inst
        time.sleep(0.2)


def test_default_vpc_and_subnets(aws):
    vpcs = aws("ec2", "describe-vpcs", "--filters", "Name=isDefault,Values=true")["Vpcs"]
    assert len(vpcs) == 1 and vpcs[0]["IsDefault"] is True
    assert vpcs[0]["CidrBlock"] == "172.31.0.0/16" and vpcs[0]["State"] == "available"
    subnets = aws("ec2", "describe-subnets", "--filters", "Name=default-for-az,Values=true",
                  f"Name=vpc-id,Values={vpcs[0]['VpcId']}")["Subnets"]
    assert sorted(s["AvailabilityZone"] for s in subnets) == \
        ["us-west-2a", "us-west-2b", "us-west-2c", "us-west-2d"]
    assert all(s["DefaultForAz"] and s["VpcId"] == vpcs[0]["VpcId"] for s in subnets)


def test_launch_stop_terminate(aws, ami, control):
    res = aws("ec2", "run-instances", "--image-id", ami, "--instance-type", "t3.small",
              "--metadata-options", "HttpTokens=required,HttpPutResponseHopLimit=2",
              "--user-data", "#!/bin/sh\necho hi\n", "--tag-specifications",
              "ResourceType=instance,Tags=[{Key=Name,Value=vmie-sanbootable}]")
    inst = res["Instances"][0]
    iid = inst["InstanceId"]
    assert inst["State"] == {"Code": 0, "Name": "pending"}
    assert inst["ImageId"] == ami and inst["InstanceType"] == "t3.small"
    assert inst["MetadataOptions"]["HttpTokens"] == "required"
    assert inst["MetadataOptions"]["HttpPutResponseHopLimit"] == 2
    assert inst["Tags"] == [{"Key": "Name", "Value": "vmie-sanbootable"}]
    assert inst["SubnetId"].startswith("subnet-") and inst["VpcId"].startswith("vpc-")
    assert control("GET", "state")["ec2"]["instances_not_terminated"] == [iid]

    assert wait_state(aws, iid, "running")["State"]["Code"] == 16
    attr = aws("ec2", "describe-instance-attribute", "--instance-id", iid,
               "--attribute", "userData")
    assert attr["UserData"]["Value"]  # the CLI sent it base64-encoded; kept as sent

    stop = aws("ec2", "stop-instances", "--instance-ids", iid)["StoppingInstances"][0]
    assert stop["PreviousState"]["Name"] == "running"
    assert stop["CurrentState"] == {"Code": 64, "Name": "stopping"}
    wait_state(aws, iid, "stopped")

    term = aws("ec2", "terminate-instances", "--instance-ids", iid)["TerminatingInstances"][0]
    assert term["PreviousState"] == {"Code": 80, "Name": "stopped"}
    assert term["CurrentState"] == {"Code": 32, "Name": "shutting-down"}
    wait_state(aws, iid, "terminated")
    assert control("GET", "state")["ec2"]["instances_not_terminated"] == []
    failed(aws("ec2", "stop-instances", "--instance-ids", iid, check=False),
           "IncorrectInstanceState")


def test_client_token_idempotency(aws, ami):
    args = ["ec2", "run-instances", "--image-id", ami, "--client-token", "vmie-tok-1"]
    first = aws(*args, "--instance-type", "t3.micro")
    again = aws(*args, "--instance-type", "t3.micro")
    assert again["ReservationId"] == first["ReservationId"]
    assert [i["InstanceId"] for i in again["Instances"]] == \
        [i["InstanceId"] for i in first["Instances"]]
    failed(aws(*args, "--instance-type", "m5.large", check=False),
           "IdempotentParameterMismatch")
    assert len(aws("ec2", "describe-instances")["Reservations"]) == 1


def test_no_default_vpc(aws, ami, control):
    assert control("POST", "ec2/delete-default-vpc", {"region": "us-west-2"})["deleted"]
    assert aws("ec2", "describe-vpcs", "--filters", "Name=isDefault,Values=true")["Vpcs"] == []
    failed(aws("ec2", "run-instances", "--image-id", ami, check=False),
           "VPCIdNotSpecified", "No default VPC for this user")


def test_tags_and_filters(aws, ami):
    res = aws("ec2", "run-instances", "--image-id", ami, "--count", "2")
    a, b = (i["InstanceId"] for i in res["Instances"])
    aws("ec2", "create-tags", "--resources", a, "--tags", "Key=vmie,Value=builder")

    def ids(*filters):
        out = aws("ec2", "describe-instances", "--filters", *filters)["Reservations"]
        return sorted(i["InstanceId"] for r in out for i in r["Instances"])

    assert ids("Name=tag:vmie,Values=builder") == [a]
    assert ids("Name=tag-key,Values=vmie", "Name=instance-state-name,Values=pending,running") \
        == [a]
    aws("ec2", "terminate-instances", "--instance-ids", b)
    assert ids("Name=instance-state-name,Values=shutting-down,terminated") == [b]
    failed(aws("ec2", "create-tags", "--resources", "i-0123456789abcdef0", "--tags",
               "Key=k,Value=v", check=False), "InvalidInstanceID.NotFound",
           "The instance ID 'i-0123456789abcdef0' does not exist")


def test_dry_run_and_errors(aws, ami):
    failed(aws("ec2", "run-instances", "--image-id", ami, "--dry-run", check=False),
           "DryRunOperation", "Request would have succeeded, but DryRun flag is set.")
    failed(aws("ec2", "describe-instances", "--dry-run", check=False), "DryRunOperation")
    failed(aws("ec2", "run-instances", "--image-id", "ami-0123456789abcdef0", check=False),
           "InvalidAMIID.NotFound")
    failed(aws("ec2", "run-instances", "--image-id", ami, "--iam-instance-profile",
               "Name=missing", check=False), "InvalidParameterValue",
           "Value (missing) for parameter iamInstanceProfile.name is invalid. Invalid IAM "
           "Instance Profile name")
    failed(aws("ec2", "run-instances", "--image-id", ami, "--instance-type", "t4g.micro",
               check=False), "InvalidParameterValue", "architecture 'arm64'")
    assert aws("ec2", "describe-instances")["Reservations"] == []


def test_state_survives_restart(tmp_path):
    """States are computed from stored timestamps, not held in memory."""
    import sys
    from conftest import ROOT
    sys.path.insert(0, str(ROOT))
    from emulator.server import Emulator
    from emulator.services import ec2_instances
    emu = Emulator(str(tmp_path), speed=SPEED)
    with emu.store.lock:
        emu.store.table("instances")["i-0123456789abcdef0"] = {
            "phase": "terminate", "phase_since": time.time() - 1.0}
        emu.store.save("instances")
    again = Emulator(str(tmp_path), speed=SPEED)
    rec = again.store.table("instances")["i-0123456789abcdef0"]
    assert ec2_instances.state_of(again, rec) == "terminated"
    assert json.dumps(rec)  # plain JSON on disk
