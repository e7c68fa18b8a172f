"""The emulator's VM Import/Export and AMI operations, driven by Debian's
AWS CLI (a client nobody here wrote): import tasks move through AWS's
status sequence and fail the way AWS fails, exports write the object AWS
writes, and a RAW round trip gives back the imported bytes exactly.

The test images are built here, byte by byte: an MBR (or GPT) partition
table and the superblock magic a filesystem would have."""
import hashlib
import json
import os
import struct
import time

import pytest

MiB = 1 << 20
BUCKET = "vmie-imports"
EXPORTS = "vmie-exports"
UNKNOWN_OS = "ClientError: Unknown OS / Missing OS files."
ORDER = ["pending", "validating", "validated", "converting", "updating", "booting",
         "booted", "preparing ami"]


@pytest.fixture
def emulator_speed():
    """30 emulated minutes of import in 3 seconds."""
    return 600.0


# --- test images -----------------------------------------------------------

def disk(fs, size=4 * MiB, gpt=False):
    """A disk with one partition at 1 MiB holding `fs`'s signature."""
    b = bytearray(size)
    start = MiB
    if fs is not None or gpt:
        b[510:512] = b"\x55\xaa"
    if gpt:
        b[446 + 4] = 0xEE
        struct.pack_into("<I", b, 446 + 8, 1)
        b[512:520] = b"EFI PART"
        struct.pack_into("<QII", b, 512 + 72, 2, 128, 128)
        b[1024:1040] = b"\x11" * 16
        struct.pack_into("<Q", b, 1024 + 32, start // 512)
    elif fs is not None:
        b[446 + 4] = 0x07 if fs == "ntfs" else 0x83
        struct.pack_into("<I", b, 446 + 8, start // 512)
    if fs == "ext4":
        b[start + 1080:start + 1082] = b"\x53\xef"
    elif fs == "ntfs":
        b[start + 3:start + 11] = b"NTFS    "
    elif fs == "xfs":
        b[start:start + 4] = b"XFSB"
    b[-4096:] = os.urandom(4096)  # so a round trip is a real comparison
    return bytes(b)


def vhd_fixed(raw):
    """raw + a fixed-disk VHD footer (cookie, type 2, checksum)."""
    f = bytearray(512)
    struct.pack_into(">8sIIQ", f, 0, b"conectix", 2, 0x10000, 0xFFFFFFFFFFFFFFFF)
    struct.pack_into(">QQ", f, 40, len(raw), len(raw))
    struct.pack_into(">I", f, 60, 2)
    struct.pack_into(">I", f, 64, (~sum(f)) & 0xFFFFFFFF)
    return raw + bytes(f)


# --- helpers ---------------------------------------------------------------

TRUST = {"Version": "2012-10-17", "Statement": [{
    "Effect": "Allow", "Principal": {"Service": "vmie.amazonaws.com"},
    "Action": "sts:AssumeRole",
    "Condition": {"StringEquals": {"sts:Externalid": "vmimport"}}}]}


def policy(*buckets):
    res = [f"arn:aws:s3:::{b}" for b in buckets] + [f"arn:aws:s3:::{b}/*" for b in buckets]
    return {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": ["s3:GetBucketLocation", "s3:GetObject", "s3:ListBucket",
                                       "s3:PutObject", "s3:GetBucketAcl"], "Resource": res},
        {"Effect": "Allow", "Action": ["ec2:ModifySnapshotAttribute", "ec2:CopySnapshot",
                                       "ec2:RegisterImage", "ec2:Describe*"], "Resource": "*"}]}


@pytest.fixture
def sdk(emulator, emu_env):
    """Clients from the botocore bundled in Debian's AWS CLI, in process:
    for setup and polling loops, where a CLI process per call (about a
    second each) would blow the time budget.  Every operation under test
    still runs through the `aws` command itself."""
    from awscli.botocore.session import Session
    sess = Session()

    def client(service):
        # IAM answers only signatures scoped to its home region, us-east-1.
        region = "us-east-1" if service == "iam" else emu_env["AWS_REGION"]
        return sess.create_client(service, region_name=region,
                                  endpoint_url=emulator,
                                  aws_access_key_id=emu_env["AWS_ACCESS_KEY_ID"],
                                  aws_secret_access_key=emu_env["AWS_SECRET_ACCESS_KEY"])
    return client


@pytest.fixture
def vm(aws, sdk):
    """Buckets and the vmimport role; returns helpers."""
    s3, ec2, iam = sdk("s3"), sdk("ec2"), sdk("iam")
    here = {"LocationConstraint": s3.meta.region_name}
    for b in (BUCKET, EXPORTS):
        s3.create_bucket(Bucket=b, CreateBucketConfiguration=here)
    iam.create_role(RoleName="vmimport", AssumeRolePolicyDocument=json.dumps(TRUST))
    iam.put_role_policy(RoleName="vmimport", PolicyName="vmimport",
                        PolicyDocument=json.dumps(policy(BUCKET, EXPORTS)))

    class VM:
        def upload(self, key, data):
            s3.put_object(Bucket=BUCKET, Key=key, Body=data)

        def download(self, bucket, key):
            return s3.get_object(Bucket=bucket, Key=key)["Body"].read()

        def start(self, key, fmt="RAW", *extra, bucket=BUCKET):
            cont = [{"Format": fmt, "UserBucket": {"S3Bucket": bucket, "S3Key": key}}]
            return aws("ec2", "import-image", "--disk-containers", json.dumps(cont), *extra)

        def start_sdk(self, key, fmt="RAW"):
            return ec2.import_image(DiskContainers=[{"Format": fmt, "UserBucket": {
                "S3Bucket": BUCKET, "S3Key": key}}])["ImportTaskId"]

        def wait(self, tid, timeout=30):
            """Poll until the task ends; returns (final task, [tasks seen])."""
            seen, deadline = [], time.time() + timeout
            while time.time() < deadline:
                t = ec2.describe_import_image_tasks(ImportTaskIds=[tid])["ImportImageTasks"][0]
                seen.append(t)
                if t["Status"] in ("completed", "deleted"):
                    return t, seen
                time.sleep(0.02)
            raise AssertionError(f"{tid} still {seen[-1]}")

        def imported(self, key, data, fmt="RAW"):
            self.upload(key, data)
            t, _ = self.wait(self.start_sdk(key, fmt))
            assert t["Status"] == "completed", t
            return t["ImageId"]

        def wait_export(self, tid, timeout=30):
            seen, deadline = [], time.time() + timeout
            while time.time() < deadline:
                t = ec2.describe_export_image_tasks(
                    ExportImageTaskIds=[tid])["ExportImageTasks"][0]
                seen.append(t)
                if t["Status"] in ("completed", "deleted"):
                    return t, seen
                time.sleep(0.02)
            raise AssertionError(f"{tid} still {seen[-1]}")
    vm = VM()
    vm.ec2, vm.s3, vm.iam = ec2, s3, iam
    return vm


def ok(aws, *args):
    """`aws s3 ...` prints text, not JSON: only the exit status counts."""
    r = aws(*args, check=False)
    assert r.returncode == 0, r.stderr


def err(aws, *args):
    r = aws(*args, check=False)
    assert r.returncode != 0, r.stdout
    return r.stderr


# --- ImportImage -------------------------------------------------------------

@pytest.mark.parametrize("emulator_speed", [300.0])
def test_import_raw_moves_through_aws_states(aws, vm, control):
    data = disk("ext4")
    vm.upload("linux.raw", data)
    first = vm.start("linux.raw", "raw", "--description", "a linux disk",
                     "--license-type", "BYOL", "--boot-mode", "legacy-bios")
    assert (first["Status"], first["StatusMessage"], first["Progress"]) == \
        ("active", "pending", "2")
    assert first["ImportTaskId"].startswith("import-ami-") and len(first["ImportTaskId"]) == 28
    assert first["LicenseType"] == "BYOL" and first["Description"] == "a linux disk"
    assert first["SnapshotDetails"][0]["UserBucket"] == {"S3Bucket": BUCKET, "S3Key": "linux.raw"}
    assert "Platform" not in first and "ImageId" not in first

    _, seen = vm.wait(first["ImportTaskId"])
    active = [first] + [t for t in seen if t["Status"] == "active"]
    messages = [t["StatusMessage"] for t in active]
    steps = [ORDER.index(m) for m in messages]
    assert steps == sorted(steps) and len(set(steps)) >= 4, messages
    progress = [int(t["Progress"]) for t in active]
    assert progress == sorted(progress) and progress[-1] > progress[0]
    for t in active:  # the OS shows from booting on
        assert ("Platform" in t) == (ORDER.index(t["StatusMessage"]) >= ORDER.index("booting"))

    done = aws("ec2", "describe-import-image-tasks", "--import-task-ids",
               first["ImportTaskId"])["ImportImageTasks"][0]
    assert done["Status"] == "completed"
    assert "StatusMessage" not in done and "Progress" not in done
    assert done["Platform"] == "Linux" and done["Architecture"] == "x86_64"
    snap = done["SnapshotDetails"][0]
    assert snap["Status"] == "completed" and snap["DeviceName"] == "/dev/sda1"
    assert snap["DiskImageSize"] == float(len(data)) and snap["Format"] == "RAW"
    assert snap["SnapshotId"].startswith("snap-")

    img = aws("ec2", "describe-images", "--owners", "self", "--filters",
              f"Name=name,Values={done['ImportTaskId']}")["Images"][0]
    assert img["ImageId"] == done["ImageId"]
    assert img["State"] == "available" and img["Architecture"] == "x86_64"
    assert "Platform" not in img and img["RootDeviceName"] == "/dev/sda1"
    assert img["BlockDeviceMappings"][0]["Ebs"]["SnapshotId"] == snap["SnapshotId"]
    snaps = aws("ec2", "describe-snapshots", "--snapshot-ids", snap["SnapshotId"])["Snapshots"]
    assert snaps[0]["State"] == "completed"
    state = control("GET", "state")["ec2"]
    assert state["import_tasks"] == {"completed": [first["ImportTaskId"]]}
    assert state["images"] == 1


def test_import_failures_surface_at_their_stage(aws, vm, control):
    vm.upload("blank.raw", disk(None))              # no partition table
    vm.upload("nofs.raw", disk(None, gpt=True))      # a partition with no OS in it
    vm.upload("fake.raw", b"QFI\xfb" + bytes(MiB))   # qcow2 uploaded as RAW
    vm.upload("notvmdk.vmdk", disk("ext4"))           # raw bytes called VMDK
    vm.upload("win.vhd", vhd_fixed(disk("ntfs")))
    vm.upload("forced.raw", disk("xfs", gpt=True))
    control("POST", "force", {"kind": "import", "outcome": "fail", "stage": "booting",
                              "message": "FirstBootFailure: This import request failed "
                                         "because the instance failed to boot."})
    forced = vm.start_sdk("forced.raw")
    ids = {k: vm.start_sdk(k, f) for k, f in [
        ("blank.raw", "RAW"), ("nofs.raw", "RAW"), ("fake.raw", "RAW"),
        ("notvmdk.vmdk", "VMDK")]}
    ids["win.vhd"] = vm.start("win.vhd", "VHD")["ImportTaskId"]
    got = {k: vm.wait(t)[0] for k, t in ids.items()}
    for k in ("blank.raw", "nofs.raw"):
        assert (got[k]["Status"], got[k]["StatusMessage"]) == ("deleted", UNKNOWN_OS)
        assert "ImageId" not in got[k] and "Progress" not in got[k]
    assert got["fake.raw"]["StatusMessage"] == \
        "ClientError: Disk validation failed [Unsupported RAW File Format]"
    assert got["notvmdk.vmdk"]["StatusMessage"] == \
        "ClientError: Disk validation failed [Unsupported VMDK File Format]"
    assert got["win.vhd"]["Status"] == "completed" and got["win.vhd"]["Platform"] == "Windows"
    f, _ = vm.wait(forced)
    assert f["Status"] == "deleted" and f["StatusMessage"].startswith("FirstBootFailure")

    listed = aws("ec2", "describe-import-image-tasks", "--filters",
                 "Name=task-state,Values=deleted")["ImportImageTasks"]
    assert {t["ImportTaskId"] for t in listed} == set(ids.values()) - {ids["win.vhd"]} | {forced}
    done = aws("ec2", "describe-import-image-tasks", "--filters",
               "Name=task-state,Values=completed,active")["ImportImageTasks"]
    assert [t["ImportTaskId"] for t in done] == [ids["win.vhd"]]
    img = vm.ec2.describe_images(ImageIds=[got["win.vhd"]["ImageId"]])["Images"][0]
    assert img["Platform"] == "windows"
    stderr = err(aws, "ec2", "export-image", "--image-id", img["ImageId"],
                 "--disk-image-format", "RAW", "--s3-export-location", f"S3Bucket={EXPORTS}")
    assert "NotExportable" in stderr and "Windows" in stderr


def test_import_synchronous_errors(aws, vm):
    vm.upload("ok.raw", disk("ext4"))
    cont = json.dumps([{"Format": "RAW", "UserBucket": {"S3Bucket": BUCKET, "S3Key": "ok.raw"}}])
    s = err(aws, "ec2", "import-image", "--disk-containers", cont, "--role-name", "nosuchrole")
    assert "(InvalidParameter)" in s and "The service role nosuchrole provided does not " \
        "exist or does not have sufficient permissions" in s
    s = err(aws, "ec2", "import-image", "--disk-containers",
            cont.replace("ok.raw", "missing.raw"))
    assert "(InvalidParameter)" in s and "missing.raw" in s
    s = err(aws, "ec2", "import-image", "--disk-containers", cont, "--license-type", "BYOL",
            "--usage-operation", "RunInstances:0800")
    assert "InvalidParameterCombination" in s
    s = err(aws, "ec2", "import-image", "--disk-containers", cont.replace('"RAW"', '"qcow2"'))
    assert "InvalidParameterValue" in s
    s = err(aws, "ec2", "import-image", "--disk-containers", cont, "--dry-run")
    assert "DryRunOperation" in s
    s = err(aws, "ec2", "describe-import-image-tasks", "--import-task-ids",
            "import-ami-0123456789abcdef0")
    assert "InvalidConversionTaskId" in s
    assert vm.ec2.describe_import_image_tasks()["ImportImageTasks"] == []


def test_client_token_and_cancel(aws, vm, control):
    vm.upload("a.raw", disk("ext4"))
    vm.upload("b.raw", disk("ext4"))
    control("POST", "force", {"kind": "import", "outcome": "stall", "stage": "converting"})
    one = vm.start("a.raw", "RAW", "--client-token", "tok-1")
    two = vm.start("a.raw", "RAW", "--client-token", "tok-1")
    assert one["ImportTaskId"] == two["ImportTaskId"]
    s = err(aws, "ec2", "import-image", "--client-token", "tok-1", "--disk-containers",
            json.dumps([{"Format": "RAW", "UserBucket": {"S3Bucket": BUCKET, "S3Key": "b.raw"}}]))
    assert "IdempotentParameterMismatch" in s
    assert len(vm.ec2.describe_import_image_tasks()["ImportImageTasks"]) == 1

    c = aws("ec2", "cancel-import-task", "--import-task-id", one["ImportTaskId"])
    assert c == {"ImportTaskId": one["ImportTaskId"], "PreviousState": "active",
                 "State": "deleting"}
    final, seen = vm.wait(one["ImportTaskId"])
    assert final["Status"] == "deleted" and final.get("StatusMessage")
    assert seen[0]["Status"] in ("deleting", "deleted")
    assert "IncorrectState" in err(aws, "ec2", "cancel-import-task", "--import-task-id",
                                   one["ImportTaskId"])
    done, _ = vm.wait(vm.start_sdk("b.raw"))
    assert "IncorrectState" in err(aws, "ec2", "cancel-import-task", "--import-task-id",
                                   done["ImportTaskId"])


# --- ExportImage ---------------------------------------------------------------

def test_export_raw_round_trip_and_vhd(aws, vm):
    data = disk("ext4")
    ami = vm.imported("rt.raw", data)
    first = aws("ec2", "export-image", "--image-id", ami, "--disk-image-format", "RAW",
                "--s3-export-location", f"S3Bucket={EXPORTS},S3Prefix=exports/",
                "--description", "round trip")
    assert (first["Status"], first["StatusMessage"], first["Progress"]) == \
        ("active", "validating", "0")
    tid = first["ExportImageTaskId"]
    assert tid.startswith("export-ami-") and len(tid) == 28
    _, seen = vm.wait_export(tid)
    msgs = [t["StatusMessage"] for t in seen if t["Status"] == "active"]
    assert all(m in ("validating", "updating", "converting") for m in msgs)
    done = aws("ec2", "describe-export-image-tasks", "--export-image-task-ids",
               tid)["ExportImageTasks"][0]
    assert done["Status"] == "completed" and "Progress" not in done
    assert "StatusMessage" not in done
    assert done["S3ExportLocation"] == {"S3Bucket": EXPORTS, "S3Prefix": "exports/"}
    back = vm.download(EXPORTS, f"exports/{tid}.raw")
    assert hashlib.sha256(back).hexdigest() == hashlib.sha256(data).hexdigest()

    vhd = aws("ec2", "export-image", "--image-id", ami, "--disk-image-format", "VHD",
              "--s3-export-location", f"S3Bucket={EXPORTS}")["ExportImageTaskId"]
    assert vm.wait_export(vhd)[0]["Status"] == "completed"
    body = vm.download(EXPORTS, f"{vhd}.vhd")
    assert body[-512:-504] == b"conectix" and body[:len(data)] == data


def test_export_refusals(aws, vm, control):
    ami = vm.imported("x.raw", disk("ext4"))
    loc = f"S3Bucket={EXPORTS}"
    s = err(aws, "ec2", "export-image", "--image-id", "ami-0123456789abcdef0",
            "--disk-image-format", "RAW", "--s3-export-location", loc)
    assert "InvalidAMIID.NotFound" in s
    s = err(aws, "ec2", "export-image", "--image-id", "bogus", "--disk-image-format", "RAW",
            "--s3-export-location", loc)
    assert "InvalidAMIID.Malformed" in s
    s = err(aws, "ec2", "export-image", "--image-id", ami, "--disk-image-format", "RAW",
            "--s3-export-location", loc, "--role-name", "other")
    assert "The service role other provided does not exist" in s
    s = err(aws, "ec2", "export-image", "--image-id", ami, "--disk-image-format", "RAW",
            "--s3-export-location", loc, "--dry-run")
    assert "DryRunOperation" in s
    vm.s3.create_bucket(Bucket="kms-bucket", CreateBucketConfiguration={
        "LocationConstraint": vm.s3.meta.region_name})
    vm.s3.put_bucket_encryption(Bucket="kms-bucket", ServerSideEncryptionConfiguration={
        "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms"}}]})
    vm.iam.put_role_policy(RoleName="vmimport", PolicyName="kms",
                           PolicyDocument=json.dumps(policy("kms-bucket")))
    s = err(aws, "ec2", "export-image", "--image-id", ami, "--disk-image-format", "RAW",
            "--s3-export-location", "S3Bucket=kms-bucket")
    assert "SSE-KMS" in s
    control("POST", "force", {"kind": "export", "message": "ServerError: injected"})
    tid = aws("ec2", "export-image", "--image-id", ami, "--disk-image-format", "VMDK",
              "--s3-export-location", loc)["ExportImageTaskId"]
    final = vm.wait_export(tid)[0]
    assert (final["Status"], final["StatusMessage"]) == ("deleted", "ServerError: injected")
    assert control("GET", "state")["ec2"]["export_tasks"] == {"deleted": [tid]}


# --- AMIs ----------------------------------------------------------------------

def test_create_image_register_deregister(aws, vm):
    ami = vm.imported("base.raw", disk("ext4"))
    inst = vm.ec2.run_instances(ImageId=ami, InstanceType="t3.micro", MinCount=1,
                                MaxCount=1)["Instances"][0]["InstanceId"]
    deadline = time.time() + 20
    while vm.ec2.describe_instances(InstanceIds=[inst])[
            "Reservations"][0]["Instances"][0]["State"]["Name"] != "running":
        assert time.time() < deadline
        time.sleep(0.05)
    assert "DryRunOperation" in err(aws, "ec2", "create-image", "--instance-id", inst,
                                    "--name", "sanbootable-1", "--dry-run")
    new = aws("ec2", "create-image", "--instance-id", inst, "--name", "sanbootable-1",
              "--no-reboot")["ImageId"]
    assert "InvalidAMIName.Duplicate" in err(aws, "ec2", "create-image", "--instance-id",
                                             inst, "--name", "sanbootable-1")
    deadline = time.time() + 20
    while True:
        img = vm.ec2.describe_images(ImageIds=[new])["Images"][0]
        if img["State"] == "available":
            break
        assert img["State"] == "pending" and time.time() < deadline
        time.sleep(0.05)
    base = vm.ec2.describe_images(ImageIds=[ami])["Images"][0]
    for k in ("Architecture", "BootMode", "EnaSupport", "RootDeviceName"):
        assert img[k] == base[k]
    snap = img["BlockDeviceMappings"][0]["Ebs"]["SnapshotId"]
    reg = aws("ec2", "register-image", "--name", "from-snap", "--root-device-name",
              "/dev/sda1", "--architecture", "x86_64", "--block-device-mappings",
              json.dumps([{"DeviceName": "/dev/sda1", "Ebs": {"SnapshotId": snap}}]))["ImageId"]
    names = {i["Name"] for i in aws("ec2", "describe-images", "--owners", "self")["Images"]}
    assert {"sanbootable-1", "from-snap"} <= names
    assert "InvalidSnapshot.InUse" in err(aws, "ec2", "delete-snapshot", "--snapshot-id", snap)
    aws("ec2", "deregister-image", "--image-id", new)
    vm.ec2.deregister_image(ImageId=reg)
    assert "InvalidAMIID.NotFound" in err(aws, "ec2", "describe-images", "--image-ids", new)
    vm.ec2.delete_snapshot(SnapshotId=snap)
    vm.ec2.terminate_instances(InstanceIds=[inst])
