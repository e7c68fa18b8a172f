"""The vmimport role step (issue 12, defects 4 and 5): additive and
minimal.  A policy the user wrote, another run's bucket, a trust with more
in it all stay; nothing is written when the role already grants what the
run needs; nothing is touched before the source checks pass; a KMS key
gets the permissions the VM Import guide lists."""
import json
import urllib.parse

import pytest

from conftest import run
from images import MIB, make_raw

BUCKET = "vmie-role-test"
SIZE = 16 * MIB
WRITES = ("CreateRole", "UpdateAssumeRolePolicy", "PutRolePolicy", "DeleteRolePolicy",
          "AttachRolePolicy", "DetachRolePolicy")

GUIDE_POLICY = {"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Action": ["s3:GetBucketLocation", "s3:GetObject", "s3:ListBucket"],
     "Resource": ["arn:aws:s3:::disk-images", "arn:aws:s3:::disk-images/*"]},
    {"Sid": "Licenses", "Effect": "Allow", "Action": [
        "license-manager:GetLicenseConfiguration",
        "license-manager:UpdateLicenseSpecificationsForResource"], "Resource": "*"},
    {"Effect": "Allow", "Action": ["ec2:ModifySnapshotAttribute", "ec2:CopySnapshot",
                                   "ec2:RegisterImage", "ec2:Describe*"], "Resource": "*"}]}
HARDENED_TRUST = {"Version": "2012-10-17", "Statement": [{
    "Effect": "Allow", "Principal": {"Service": "vmie.amazonaws.com"},
    "Action": "sts:AssumeRole", "Condition": {
        "StringEquals": {"sts:Externalid": "vmimport", "aws:SourceAccount": "123456789012"},
        "ArnLike": {"aws:SourceArn": "arn:aws:vmie:*:123456789012:*"}}}]}


@pytest.fixture
def emulator_speed():
    return 900.0


@pytest.fixture
def emu_env(emu_env):
    return dict(emu_env, VMIE_POLL_SCALE="0.1")


@pytest.fixture
def disk(tmp_path):
    p = tmp_path / "disk.raw"
    make_raw(p, SIZE, MIB)
    return p


@pytest.fixture
def iam(aws):
    """IAM through the AWS CLI, signed for IAM's home region."""
    def call(*args, **kw):
        return aws("--region", "us-east-1", "iam", *args, **kw)
    return call


def writes(control, since):
    """The IAM calls that change something, made after request `since`."""
    return [r["operation"] for r in control("GET", "requests")[since:]
            if r["service"] == "iam" and r["operation"] in WRITES]


def mark(control):
    return len(control("GET", "requests"))


def policy(iam, name="vmimport", role="vmimport"):
    doc = iam("get-role-policy", "--role-name", role, "--policy-name", name)["PolicyDocument"]
    return json.loads(urllib.parse.unquote(doc)) if isinstance(doc, str) else doc


def statement(doc, sid):
    return next((s for s in doc["Statement"] if s.get("Sid") == sid), None)


def make_role(iam, trust=HARDENED_TRUST, policies=None):
    iam("create-role", "--role-name", "vmimport", "--assume-role-policy-document",
        json.dumps(trust))
    for name, doc in (policies or {}).items():
        iam("put-role-policy", "--role-name", "vmimport", "--policy-name", name,
            "--policy-document", json.dumps(doc))


def vmie_import(vmie_bin, env, *args):
    return run(vmie_bin, ["import", "--s3-bucket", BUCKET, *args], env, timeout=120)


def test_hand_written_policy_is_extended_not_replaced(vmie_bin, emu_env, iam, control, disk):
    extra = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "cloudwatch:PutMetricData", "Resource": "*"}]}
    make_role(iam, policies={"vmimport": GUIDE_POLICY, "extra": extra})
    r = vmie_import(vmie_bin, emu_env, "--source", str(disk))
    assert r.returncode == 0, r.stderr
    doc = policy(iam)
    # Every statement the user wrote is there, unchanged and in order ...
    assert doc["Statement"][:3] == GUIDE_POLICY["Statement"]
    # ... and the one vmie added names only this run's bucket.
    added = statement(doc, "VmieImportBuckets")
    assert sorted(added["Resource"]) == [f"arn:aws:s3:::{BUCKET}", f"arn:aws:s3:::{BUCKET}/*"]
    assert "s3:PutObject" not in added["Action"]
    assert len(doc["Statement"]) == 4  # the guide's EC2 statement already grants EC2
    assert policy(iam, "extra") == extra
    trust = iam("get-role", "--role-name", "vmimport")["Role"]["AssumeRolePolicyDocument"]
    assert (json.loads(urllib.parse.unquote(trust)) if isinstance(trust, str)
            else trust) == HARDENED_TRUST
    assert (f"role vmimport: added statement VmieImportBuckets: resource "
            f"arn:aws:s3:::{BUCKET}/*") in r.stderr


def test_role_untouched_when_it_already_grants(vmie_bin, emu_env, iam, control, disk):
    r = vmie_import(vmie_bin, emu_env, "--source", str(disk))
    assert r.returncode == 0, r.stderr
    first = policy(iam)
    since = mark(control)
    r = vmie_import(vmie_bin, emu_env, "--source", str(disk), "--s3-key", "again.raw")
    assert r.returncode == 0, r.stderr
    assert writes(control, since) == []
    assert "already allows what this run needs" in r.stderr
    assert policy(iam) == first


def test_export_keeps_the_import_grant(vmie_bin, emu_env, iam, control, disk):
    """An import into one bucket, then an export into another: both
    grants stay (a second run used to cut the first one off)."""
    r = vmie_import(vmie_bin, emu_env, "--source", str(disk), "--json")
    assert r.returncode == 0, r.stderr
    ami = json.loads(r.stdout)["ami_id"]
    r = run(vmie_bin, ["export", "-b", "vmie-role-exports", "-a", ami], emu_env, timeout=120)
    assert r.returncode == 0, r.stderr
    doc = policy(iam)
    read = statement(doc, "VmieImportBuckets")
    write = statement(doc, "VmieExportBuckets")
    assert f"arn:aws:s3:::{BUCKET}/*" in read["Resource"]
    assert "arn:aws:s3:::vmie-role-exports/*" in write["Resource"]
    assert "s3:PutObject" in write["Action"]
    assert f"arn:aws:s3:::{BUCKET}/*" not in write["Resource"]


def test_bad_s3_source_touches_no_role(vmie_bin, emu_env, aws, iam, control, disk):
    aws("s3api", "create-bucket", "--bucket", BUCKET,
        "--create-bucket-configuration", "LocationConstraint=us-west-2")
    make_role(iam, policies={"vmimport": GUIDE_POLICY})
    since = mark(control)
    r = vmie_import(vmie_bin, emu_env, "--source", f"s3://{BUCKET}/tpyo.raw")
    assert r.returncode == 4, r.stderr
    assert "does not exist" in r.stderr
    assert writes(control, since) == []
    assert policy(iam) == GUIDE_POLICY


def test_trust_gets_vmie_appended(vmie_bin, emu_env, iam, control, disk):
    ec2_trust = {"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"},
        "Action": "sts:AssumeRole"}]}
    make_role(iam, trust=ec2_trust)
    r = vmie_import(vmie_bin, emu_env, "--source", str(disk))
    assert r.returncode == 0, r.stderr
    trust = iam("get-role", "--role-name", "vmimport")["Role"]["AssumeRolePolicyDocument"]
    trust = json.loads(urllib.parse.unquote(trust)) if isinstance(trust, str) else trust
    assert trust["Statement"][0] == ec2_trust["Statement"][0]
    assert trust["Statement"][1]["Principal"] == {"Service": "vmie.amazonaws.com"}
    assert "role vmimport: added trust policy" in r.stderr


@pytest.mark.parametrize("key,sid", [
    ("alias/vmie-images", "VmieKmsAliases"),
    ("1234abcd-12ab-34cd-56ef-1234567890ab", "VmieKmsKeys"),
])
def test_kms_key_gets_the_guides_permissions(vmie_bin, emu_env, iam, control, disk, key, sid):
    """--kms-key-id: the role may use that key (the import task fails
    otherwise, on AWS as in the emulator)."""
    r = vmie_import(vmie_bin, emu_env, "--source", str(disk), "--kms-key-id", key, "--json")
    assert r.returncode == 0, r.stderr
    st = statement(policy(iam), sid)
    assert st is not None
    assert set(st["Action"]) == {"kms:CreateGrant", "kms:Decrypt", "kms:DescribeKey",
                                 "kms:Encrypt", "kms:GenerateDataKey*", "kms:ReEncrypt*"}
    if sid == "VmieKmsKeys":
        assert st["Resource"] == [f"arn:aws:kms:us-west-2:123456789012:key/{key}"]
    else:
        assert st["Condition"] == {"ForAnyValue:StringEquals": {"kms:ResourceAliases": [key]}}
    assert f"role vmimport: added new statement {sid}" in r.stderr
