"""The emulator's two pieces vmie batch leans on: the region's quota of
concurrent import/export tasks (ResourceLimitExceeded beyond it) and S3's
conditional PutObject (If-None-Match: *), checked with Debian's AWS CLI
where it can send the request and with raw signed requests where its
botocore (1.29) predates the header."""
import concurrent.futures
import hashlib
import json
import time
import urllib.error

import pytest

import emu_s3_client as raw
from conftest import EMU_ACCESS_KEY, EMU_SECRET_KEY

BUCKET = "vmie-quota"
TRUST = {"Version": "2012-10-17", "Statement": [{
    "Effect": "Allow", "Principal": {"Service": "vmie.amazonaws.com"},
    "Action": "sts:AssumeRole",
    "Condition": {"StringEquals": {"sts:Externalid": "vmimport"}}}]}
POLICY = {"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Action": ["s3:GetBucketLocation", "s3:GetObject", "s3:ListBucket",
                                   "s3:PutObject", "s3:GetBucketAcl"],
     "Resource": [f"arn:aws:s3:::{BUCKET}", f"arn:aws:s3:::{BUCKET}/*"]},
    {"Effect": "Allow", "Action": ["ec2:ModifySnapshotAttribute", "ec2:CopySnapshot",
                                   "ec2:RegisterImage", "ec2:Describe*"], "Resource": "*"}]}


@pytest.fixture
def emulator_speed():
    return 600.0


@pytest.fixture
def sdk(emulator, emu_env):
    """botocore from Debian's AWS CLI, in process, for setup and polling."""
    from awscli.botocore.session import Session
    sess = Session()

    def client(service):
        # IAM is a global endpoint signed for us-east-1 (the emulator, as
        # AWS, refuses another scope).
        region = "us-east-1" if service == "iam" else emu_env["AWS_REGION"]
        return sess.create_client(service, region_name=region,
                                  endpoint_url=emulator,
                                  aws_access_key_id=EMU_ACCESS_KEY,
                                  aws_secret_access_key=EMU_SECRET_KEY)
    return client


@pytest.fixture
def ec2(sdk):
    s3, iam = sdk("s3"), sdk("iam")
    s3.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={
        "LocationConstraint": s3.meta.region_name})
    iam.create_role(RoleName="vmimport", AssumeRolePolicyDocument=json.dumps(TRUST))
    iam.put_role_policy(RoleName="vmimport", PolicyName="vmimport",
                        PolicyDocument=json.dumps(POLICY))
    disk = bytearray(1 << 20)
    disk[510:512] = b"\x55\xaa"
    for k in ("a.raw", "b.raw", "c.raw"):
        s3.put_object(Bucket=BUCKET, Key=k, Body=bytes(disk))
    return sdk("ec2")


def containers(key):
    return [{"Format": "RAW", "UserBucket": {"S3Bucket": BUCKET, "S3Key": key}}]


def quota(control):
    return control("GET", "state")["ec2"]["task_quota"]


def test_task_quota_refuses_beyond_the_limit(aws, ec2, control):
    assert quota(control)["limit"] == 5  # the default
    assert control("POST", "ec2/task-quota", {"limit": 2})["limit"] == 2
    for _ in range(2):
        control("POST", "force", {"kind": "import", "outcome": "stall"})
    one = ec2.import_image(DiskContainers=containers("a.raw"), ClientToken="t-a")
    ec2.import_image(DiskContainers=containers("b.raw"))
    # The third start: refused, as a real client reads it.
    r = aws("ec2", "import-image", "--disk-containers", json.dumps(containers("c.raw")),
            check=False)
    assert r.returncode != 0 and "ResourceLimitExceeded" in r.stderr, r.stderr
    # A retry of an admitted request (same ClientToken) is no new task.
    again = ec2.import_image(DiskContainers=containers("a.raw"), ClientToken="t-a")
    assert again["ImportTaskId"] == one["ImportTaskId"]
    q = quota(control)
    assert q["high_water"] == {"us-west-2": 2} and q["refused"] == {"us-west-2": 1}, q
    # A cancelled task keeps its place while it is deleting, then frees it.
    ec2.cancel_import_task(ImportTaskId=one["ImportTaskId"])
    deadline = time.time() + 10
    while True:
        try:
            ec2.import_image(DiskContainers=containers("c.raw"))
            break
        except ec2.exceptions.ClientError as e:
            assert e.response["Error"]["Code"] == "ResourceLimitExceeded", e
            assert time.time() < deadline, "the cancelled task never freed its place"
            time.sleep(0.02)
    assert quota(control)["high_water"] == {"us-west-2": 2}


def test_export_tasks_share_the_quota(ec2, control):
    control("POST", "ec2/task-quota", {"limit": 1})
    control("POST", "force", {"kind": "import", "outcome": "stall"})
    ec2.import_image(DiskContainers=containers("a.raw"))
    image = control("POST", "ec2/seed-image", {"region": "us-west-2"})
    with pytest.raises(ec2.exceptions.ClientError) as e:
        ec2.export_image(ImageId=image["ImageId"], DiskImageFormat="RAW",
                         S3ExportLocation={"S3Bucket": BUCKET})
    assert e.value.response["Error"]["Code"] == "ResourceLimitExceeded"
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    with pytest.raises(urllib.error.HTTPError):  # 400
        control("POST", "ec2/task-quota", {"limit": 0})


# --- conditional PutObject ---------------------------------------------------

def put(emulator, key, data, **extra):
    path = f"/{BUCKET}/{key}"
    h = {"host": raw.host_of(emulator), **extra}
    raw.Signer(EMU_ACCESS_KEY, EMU_SECRET_KEY, "us-west-2").sign(
        "PUT", path, {}, h, hashlib.sha256(data).hexdigest())
    return raw.request(emulator, "PUT", path, h, data)


def get(emulator, key):
    path = f"/{BUCKET}/{key}"
    h = {"host": raw.host_of(emulator)}
    raw.Signer(EMU_ACCESS_KEY, EMU_SECRET_KEY, "us-west-2").sign("GET", path, {}, h, raw.EMPTY)
    return raw.request(emulator, "GET", path, h)


def test_put_if_none_match(emulator, ec2):
    status, _, out = put(emulator, "lease/1", b"first", **{"if-none-match": "*"})
    assert status == 200, out
    status, _, out = put(emulator, "lease/1", b"second", **{"if-none-match": "*"})
    assert status == 412 and b"<Code>PreconditionFailed</Code>" in out, out
    assert b"<Condition>If-None-Match</Condition>" in out
    assert get(emulator, "lease/1")[2] == b"first"  # nothing replaced
    status, _, out = put(emulator, "lease/2", b"x", **{"if-none-match": '"abc"'})
    assert status == 501 and b"<Code>NotImplemented</Code>" in out, out
    assert get(emulator, "lease/2")[0] == 404
    # Without the header PutObject still replaces.
    assert put(emulator, "lease/1", b"third")[0] == 200
    assert get(emulator, "lease/1")[2] == b"third"


def test_put_if_none_match_race_has_one_winner(emulator, ec2):
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        got = list(pool.map(lambda i: put(emulator, "lease/race", b"%d" % i,
                                          **{"if-none-match": "*"})[0], range(8)))
    assert sorted(got) == [200] + [412] * 7, got
