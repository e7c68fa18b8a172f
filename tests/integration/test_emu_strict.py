"""The emulator as strict as AWS where issue 12 found it lenient, checked
with Debian's AWS CLI (and raw requests where the CLI's botocore 1.29
does not show the header in question).  Setup and polling go through the
CLI's botocore in process (a CLI process costs a second or two); every
behaviour under test is seen through the `aws` command or on the wire."""
import base64
import json
import os
import time

import pytest

import emu_s3_client as raw
from conftest import EMU_ACCESS_KEY, EMU_SECRET_KEY

MiB = 1 << 20
BUCKET = "vmie-strict"


@pytest.fixture
def emulator_speed():
    return 3000.0  # a 30-minute import task in 0.6 s


@pytest.fixture
def sdk(emulator, emu_env):
    from awscli.botocore.session import Session
    sess = Session()

    def client(service):
        region = "us-east-1" if service == "iam" else emu_env["AWS_REGION"]
        return sess.create_client(service, region_name=region, endpoint_url=emulator,
                                  aws_access_key_id=emu_env["AWS_ACCESS_KEY_ID"],
                                  aws_secret_access_key=emu_env["AWS_SECRET_ACCESS_KEY"])
    return client


def err(aws, *args):
    r = aws(*args, check=False)
    assert r.returncode != 0, r.stdout
    return r.stderr


@pytest.fixture
def bucket(aws):
    aws("s3api", "create-bucket", "--bucket", BUCKET,
        "--create-bucket-configuration", "LocationConstraint=us-west-2")
    return BUCKET


def raw_head(emulator, path, headers=None, query=None, region="us-west-2"):
    h = {"host": raw.host_of(emulator), **(headers or {})}
    raw.Signer(EMU_ACCESS_KEY, EMU_SECRET_KEY, region).sign("HEAD", path, query or {}, h,
                                                             raw.EMPTY)
    return raw.request(emulator, "HEAD", path, h, b"", query or {})


def crc64nvme(data):
    """CRC-64/NVME, bit by bit, independent of the emulator's tables."""
    crc = 0xFFFFFFFFFFFFFFFF
    for b in data:
        crc ^= b
        for _ in range(8):
            crc = (crc >> 1) ^ (0x9A6C9329AC4BC9B5 if crc & 1 else 0)
    return crc ^ 0xFFFFFFFFFFFFFFFF


# --- IAM ---------------------------------------------------------------------------

def test_iam_only_accepts_us_east_1_scope(aws):
    s = err(aws, "--region", "us-west-2", "iam", "list-roles")
    assert "(SignatureDoesNotMatch)" in s
    assert "Credential should be scoped to a valid region, not 'us-west-2'" in s
    assert aws("--region", "us-east-1", "iam", "list-roles")["Roles"] == []


def test_list_roles(aws, sdk):
    trust = json.dumps({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"},
        "Action": "sts:AssumeRole"}]})
    iam = sdk("iam")
    for name, path in (("r1", "/"), ("r2", "/svc/"), ("r3", "/svc/")):
        iam.create_role(RoleName=name, Path=path, AssumeRolePolicyDocument=trust)
    svc = aws("iam", "list-roles", "--path-prefix", "/svc/")["Roles"]
    assert [r["RoleName"] for r in svc] == ["r2", "r3"]
    page = iam.list_roles(MaxItems=2)
    assert [r["RoleName"] for r in page["Roles"]] == ["r1", "r2"] and page["IsTruncated"]
    rest = iam.list_roles(Marker=page["Marker"])
    assert [r["RoleName"] for r in rest["Roles"]] == ["r3"] and not rest["IsTruncated"]


# --- S3 ----------------------------------------------------------------------------

def test_head_bucket_elsewhere_is_a_redirect(emulator, bucket):
    status, hdrs, body = raw_head(emulator, f"/{bucket}", region="eu-west-1")
    assert status == 301 and hdrs["x-amz-bucket-region"] == "us-west-2" and body == b""


def test_parts_count_only_with_part_number(aws, sdk, bucket, emulator):
    s3 = sdk("s3")
    up = s3.create_multipart_upload(Bucket=bucket, Key="mp")["UploadId"]
    parts = [{"PartNumber": n, "ETag": s3.upload_part(
        Bucket=bucket, Key="mp", UploadId=up, PartNumber=n, Body=os.urandom(size))["ETag"]}
        for n, size in ((1, 5 * MiB), (2, 1000))]
    s3.complete_multipart_upload(Bucket=bucket, Key="mp", UploadId=up,
                                 MultipartUpload={"Parts": parts})
    assert "PartsCount" not in aws("s3api", "head-object", "--bucket", bucket, "--key", "mp")
    part = aws("s3api", "head-object", "--bucket", bucket, "--key", "mp", "--part-number", "1")
    assert part["PartsCount"] == 2
    status, hdrs, _ = raw_head(emulator, f"/{bucket}/mp")
    assert status == 200 and "x-amz-mp-parts-count" not in hdrs


def test_new_objects_get_a_full_object_crc64nvme(aws, sdk, bucket, tmp_path, emulator):
    data = os.urandom(7000) + bytes(20000)
    f = tmp_path / "obj"
    f.write_bytes(data)
    aws("s3api", "put-object", "--bucket", bucket, "--key", "plain", "--body", str(f))
    status, hdrs, _ = raw_head(emulator, f"/{bucket}/plain")
    assert status == 200 and "x-amz-checksum-crc64nvme" not in hdrs
    status, hdrs, _ = raw_head(emulator, f"/{bucket}/plain", {"x-amz-checksum-mode": "ENABLED"})
    assert status == 200
    want = base64.b64encode(crc64nvme(data).to_bytes(8, "big")).decode()
    assert hdrs["x-amz-checksum-crc64nvme"] == want
    assert hdrs["x-amz-checksum-type"] == "FULL_OBJECT"
    # An object uploaded with its own checksum keeps only that one.
    crc = sdk("s3").put_object(Bucket=bucket, Key="summed", Body=data,
                               ChecksumAlgorithm="CRC32")
    status, hdrs, _ = raw_head(emulator, f"/{bucket}/summed", {"x-amz-checksum-mode": "ENABLED"})
    assert hdrs.get("x-amz-checksum-crc32") == crc["ChecksumCRC32"]
    assert "x-amz-checksum-crc64nvme" not in hdrs


def test_crc64nvme_implementation(tmp_path):
    """The emulator's CRC-64/NVME: the catalogue's check value, and its
    all-zero-MiB shortcut agrees with the byte-wise path."""
    import sys
    from conftest import ROOT
    sys.path.insert(0, str(ROOT))
    from emulator.services import s3_checksums as ck
    assert ck.crc64nvme(b"123456789") == 0xAE8B14860A799888
    data = os.urandom(3000) + bytes(3 * MiB) + os.urandom(777)
    f = tmp_path / "blob"
    f.write_bytes(data[:MiB])  # the rest reads as zeros, as an --s3-sink object
    assert ck.crc64nvme_file(str(f), len(data) - 777) == ck.crc64nvme(data[:-777])
    f.write_bytes(data)
    assert ck.crc64nvme_file(str(f), len(data)) == ck.crc64nvme(data)
    assert ck.crc64nvme(data[5000:], ck.crc64nvme(data[:5000])) == ck.crc64nvme(data)


# --- EC2 ---------------------------------------------------------------------------

TRUST = {"Version": "2012-10-17", "Statement": [{
    "Effect": "Allow", "Principal": {"Service": "vmie.amazonaws.com"},
    "Action": "sts:AssumeRole", "Condition": {"StringEquals": {"sts:Externalid": "vmimport"}}}]}


def bucket_policy(extra=()):
    return {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": ["s3:GetBucketLocation", "s3:GetObject", "s3:ListBucket"],
         "Resource": [f"arn:aws:s3:::{BUCKET}", f"arn:aws:s3:::{BUCKET}/*"]},
        {"Effect": "Allow", "Action": ["ec2:ModifySnapshotAttribute", "ec2:CopySnapshot",
                                       "ec2:RegisterImage", "ec2:Describe*"],
         "Resource": "*"}, *extra]}


@pytest.fixture
def imported_object(sdk, bucket):
    """An MBR disk with an ext4 partition in the bucket, and the role."""
    disk = bytearray(4 * MiB)
    disk[446 + 4] = 0x83
    disk[446 + 8:446 + 12] = (2048).to_bytes(4, "little")
    disk[446 + 12:446 + 16] = (4 * 2048).to_bytes(4, "little")
    disk[510:512] = b"\x55\xaa"
    disk[MiB + 1080:MiB + 1082] = b"\x53\xef"
    sdk("s3").put_object(Bucket=bucket, Key="disk.raw", Body=bytes(disk))
    iam = sdk("iam")
    iam.create_role(RoleName="vmimport", AssumeRolePolicyDocument=json.dumps(TRUST))
    iam.put_role_policy(RoleName="vmimport", PolicyName="vmimport",
                        PolicyDocument=json.dumps(bucket_policy()))
    return json.dumps([{"Format": "RAW", "UserBucket": {"S3Bucket": bucket,
                                                        "S3Key": "disk.raw"}}])


def wait_task(sdk, tid, timeout=30):
    ec2 = sdk("ec2")
    deadline = time.time() + timeout
    while True:
        t = ec2.describe_import_image_tasks(ImportTaskIds=[tid])["ImportImageTasks"][0]
        if t["Status"] in ("completed", "deleted") or time.time() > deadline:
            return t
        time.sleep(0.1)


def test_import_image_refusals(aws, imported_object):
    s = err(aws, "ec2", "import-image", "--disk-containers", imported_object,
            "--boot-mode", "uefi-preferred")
    assert "(InvalidParameterValue)" in s and "uefi-preferred" in s
    tags = ",".join(f"{{Key=k{i},Value=v}}" for i in range(51))
    s = err(aws, "ec2", "import-image", "--disk-containers", imported_object,
            "--tag-specifications", f"ResourceType=import-image-task,Tags=[{tags}]")
    assert "(TagLimitExceeded)" in s
    s = err(aws, "ec2", "import-image", "--disk-containers",
            json.dumps([{"Format": "RAW", "Description": "no object"}]))
    assert "(MissingParameter)" in s and "UserBucket or Url" in s


def test_import_with_a_kms_key_the_role_may_not_use_fails(aws, sdk, imported_object):
    key = "1234abcd-12ab-34cd-56ef-1234567890ab"
    ec2, iam = sdk("ec2"), sdk("iam")
    containers = json.loads(imported_object)

    def start(kms_key):
        return ec2.import_image(DiskContainers=containers, Encrypted=True,
                                KmsKeyId=kms_key)["ImportTaskId"]

    tid = aws("ec2", "import-image", "--disk-containers", imported_object, "--encrypted",
              "--kms-key-id", key)["ImportTaskId"]
    wait_task(sdk, tid)
    t = aws("ec2", "describe-import-image-tasks", "--import-task-ids",
            tid)["ImportImageTasks"][0]
    assert t["Status"] == "deleted"
    assert "does not have permission to use the KMS key" in t["StatusMessage"]
    # The guide's KMS statement on that key: the import goes through.
    kms = {"Effect": "Allow", "Action": ["kms:CreateGrant", "kms:Decrypt", "kms:DescribeKey",
                                         "kms:Encrypt", "kms:GenerateDataKey*",
                                         "kms:ReEncrypt*"],
           "Resource": f"arn:aws:kms:us-west-2:123456789012:key/{key}"}
    iam.put_role_policy(RoleName="vmimport", PolicyName="vmimport",
                        PolicyDocument=json.dumps(bucket_policy([kms])))
    assert wait_task(sdk, start(key))["Status"] == "completed"
    # An alias needs a grant through kms:ResourceAliases (or a wildcard).
    assert wait_task(sdk, start("alias/images"))["Status"] == "deleted"
    by_alias = dict(kms, Resource="arn:aws:kms:us-west-2:123456789012:key/*",
                    Condition={"ForAnyValue:StringEquals": {
                        "kms:ResourceAliases": ["alias/images"]}})
    iam.put_role_policy(RoleName="vmimport", PolicyName="vmimport",
                        PolicyDocument=json.dumps(bucket_policy([kms, by_alias])))
    assert wait_task(sdk, start("alias/images"))["Status"] == "completed"


@pytest.fixture
def instance(sdk, control):
    ami = control("POST", "ec2/seed-image", {"region": "us-west-2"})["ImageId"]
    return sdk("ec2").run_instances(ImageId=ami, InstanceType="t3.micro", MinCount=1,
                                    MaxCount=1)["Instances"][0]["InstanceId"]


def test_terminated_instance_has_a_transition_reason(aws, sdk, instance):
    ec2 = sdk("ec2")
    inst = ec2.describe_instances(InstanceIds=[instance])["Reservations"][0]["Instances"][0]
    assert inst.get("StateTransitionReason", "") == ""
    ec2.terminate_instances(InstanceIds=[instance])
    inst = aws("ec2", "describe-instances",
               "--instance-ids", instance)["Reservations"][0]["Instances"][0]
    reason = inst["StateTransitionReason"]
    assert reason.startswith("User initiated (") and reason.endswith(" GMT)")


def test_create_snapshot_is_pending_first_and_register_image_keeps_no_boot_mode(
        aws, sdk, instance):
    ec2 = sdk("ec2")
    inst = ec2.describe_instances(InstanceIds=[instance])["Reservations"][0]["Instances"][0]
    vol = inst["BlockDeviceMappings"][0]["Ebs"]["VolumeId"]
    snap = aws("ec2", "create-snapshot", "--volume-id", vol)
    assert snap["State"] == "pending"
    deadline = time.time() + 20
    while ec2.describe_snapshots(SnapshotIds=[snap["SnapshotId"]])[
            "Snapshots"][0]["State"] != "completed":
        assert time.time() < deadline
        time.sleep(0.1)
    mapping = json.dumps([{"DeviceName": "/dev/sda1", "Ebs": {"SnapshotId": snap["SnapshotId"]}}])
    ami = aws("ec2", "register-image", "--name", "no-boot-mode", "--root-device-name",
              "/dev/sda1", "--architecture", "x86_64", "--block-device-mappings",
              mapping)["ImageId"]
    img = aws("ec2", "describe-images", "--image-ids", ami)["Images"][0]
    assert "BootMode" not in img
    ami2 = ec2.register_image(Name="uefi", RootDeviceName="/dev/sda1", BootMode="uefi",
                              BlockDeviceMappings=json.loads(mapping))["ImageId"]
    assert ec2.describe_images(ImageIds=[ami2])["Images"][0]["BootMode"] == "uefi"
