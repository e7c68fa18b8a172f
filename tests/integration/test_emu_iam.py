"""The emulator's IAM against Debian's AWS CLI (a client nobody here
wrote), and the internal API the EC2/SSM modules use to judge roles."""
import json
import sys
import types

from conftest import ROOT

sys.path.insert(0, str(ROOT))
from emulator.server import Emulator  # noqa: E402
from emulator.services import iam  # noqa: E402

EC2_TRUST = {"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"},
     "Action": "sts:AssumeRole"}]}
VMIMPORT_TRUST = {"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Principal": {"Service": "vmie.amazonaws.com"},
     "Action": "sts:AssumeRole",
     "Condition": {"StringEquals": {"sts:Externalid": "vmimport"}}}]}


def vmimport_policy(bucket, actions=("s3:GetObject", "s3:PutObject")):
    return {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": ["s3:GetBucketLocation", "s3:ListBucket"],
         "Resource": [f"arn:aws:s3:::{bucket}"]},
        {"Effect": "Allow", "Action": list(actions), "Resource": [f"arn:aws:s3:::{bucket}/*"]}]}


def failed(r, code, text=None):
    assert r.returncode != 0
    assert f"({code})" in r.stderr, r.stderr
    if text:
        assert text in r.stderr, r.stderr


def test_roles_and_policies(aws):
    role = aws("iam", "create-role", "--role-name", "vmimport",
               "--assume-role-policy-document", json.dumps(VMIMPORT_TRUST))["Role"]
    assert role["Arn"] == "arn:aws:iam::123456789012:role/vmimport"
    assert role["RoleId"].startswith("AROA")
    # The CLI decodes the URL-encoded document; equal means it round-tripped.
    assert role["AssumeRolePolicyDocument"] == VMIMPORT_TRUST
    assert aws("iam", "get-role", "--role-name", "vmimport")["Role"]["RoleName"] == "vmimport"

    failed(aws("iam", "create-role", "--role-name", "vmimport",
               "--assume-role-policy-document", json.dumps(EC2_TRUST), check=False),
           "EntityAlreadyExists", "Role with name vmimport already exists.")
    failed(aws("iam", "get-role", "--role-name", "nope", check=False),
           "NoSuchEntity", "The role with name nope cannot be found.")
    failed(aws("iam", "create-role", "--role-name", "bad",
               "--assume-role-policy-document", "{not json", check=False),
           "MalformedPolicyDocument")

    doc = vmimport_policy("disks")
    aws("iam", "put-role-policy", "--role-name", "vmimport", "--policy-name", "vmimport",
        "--policy-document", json.dumps(doc))
    got = aws("iam", "get-role-policy", "--role-name", "vmimport", "--policy-name", "vmimport")
    assert got["PolicyDocument"] == doc and got["PolicyName"] == "vmimport"
    assert aws("iam", "list-role-policies", "--role-name", "vmimport")["PolicyNames"] == \
        ["vmimport"]
    failed(aws("iam", "put-role-policy", "--role-name", "vmimport", "--policy-name", "x",
               "--policy-document", "[", check=False), "MalformedPolicyDocument")
    aws("iam", "delete-role-policy", "--role-name", "vmimport", "--policy-name", "vmimport")
    assert aws("iam", "list-role-policies", "--role-name", "vmimport")["PolicyNames"] == []

    arn = "arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore"
    aws("iam", "attach-role-policy", "--role-name", "vmimport", "--policy-arn", arn)
    attached = aws("iam", "list-attached-role-policies", "--role-name", "vmimport")
    assert attached["AttachedPolicies"] == [{"PolicyName": "AmazonSSMManagedInstanceCore",
                                             "PolicyArn": arn}]


def test_instance_profiles(aws):
    for name in ("ssm-a", "ssm-b"):
        aws("iam", "create-role", "--role-name", name,
            "--assume-role-policy-document", json.dumps(EC2_TRUST))
    prof = aws("iam", "create-instance-profile",
               "--instance-profile-name", "vmie-ssm")["InstanceProfile"]
    assert prof["Arn"] == "arn:aws:iam::123456789012:instance-profile/vmie-ssm"
    assert prof["InstanceProfileId"].startswith("AIPA") and prof["Roles"] == []
    failed(aws("iam", "get-instance-profile", "--instance-profile-name", "nope", check=False),
           "NoSuchEntity", "Instance Profile nope cannot be found.")
    aws("iam", "add-role-to-instance-profile", "--instance-profile-name", "vmie-ssm",
        "--role-name", "ssm-a")
    failed(aws("iam", "add-role-to-instance-profile", "--instance-profile-name", "vmie-ssm",
               "--role-name", "ssm-b", check=False),
           "LimitExceeded", "Cannot exceed quota for InstanceSessionsPerInstanceProfile: 1")
    roles = aws("iam", "get-instance-profile",
                "--instance-profile-name", "vmie-ssm")["InstanceProfile"]["Roles"]
    assert [r["RoleName"] for r in roles] == ["ssm-a"]
    assert roles[0]["AssumeRolePolicyDocument"] == EC2_TRUST


# --- in-process: the wire encoding and the internal API -----------------------

def call(emu, handler, **params):
    req = types.SimpleNamespace(params=params, region="us-east-1", json=None)
    return handler(emu, req)


def test_documents_are_url_encoded_on_the_wire(tmp_path):
    emu = Emulator(str(tmp_path))
    body = call(emu, iam.create_role, RoleName="r",
                AssumeRolePolicyDocument=json.dumps(EC2_TRUST)).body.decode()
    assert "<AssumeRolePolicyDocument>%7B%22Version%22%3A%20%222012-10-17%22" in body
    assert body.startswith('<CreateRoleResponse xmlns="https://iam.amazonaws.com/doc/2010-05'
                           '-08/"><CreateRoleResult><Role>')


def make_role(emu, name, trust, inline=None, attach=()):
    call(emu, iam.create_role, RoleName=name, AssumeRolePolicyDocument=json.dumps(trust))
    if inline:
        call(emu, iam.put_role_policy, RoleName=name, PolicyName="p",
             PolicyDocument=json.dumps(inline))
    for arn in attach:
        call(emu, iam.attach_role_policy, RoleName=name, PolicyArn=arn)


def test_role_allows_vmimport(tmp_path):
    emu = Emulator(str(tmp_path))
    assert iam.role_allows_vmimport(emu, "vmimport", "b") == \
        (False, "the role vmimport does not exist")
    make_role(emu, "vmimport", VMIMPORT_TRUST, vmimport_policy("disks", ["s3:GetObject"]))
    assert iam.role_allows_vmimport(emu, "vmimport", "disks") == (True, "")
    ok, why = iam.role_allows_vmimport(emu, "vmimport", "disks", write=True)
    assert not ok and "s3:PutObject" in why
    ok, why = iam.role_allows_vmimport(emu, "vmimport", "other")
    assert not ok and "arn:aws:s3:::other" in why

    # Condition keys match case-insensitively; wildcards in Resource match.
    trust = json.loads(json.dumps(VMIMPORT_TRUST))
    trust["Statement"][0]["Condition"] = {"StringEquals": {"STS:ExternalId": "vmimport"}}
    make_role(emu, "wild", trust, {"Statement": [
        {"Effect": "Allow", "Action": "s3:*", "Resource": "arn:aws:s3:::disk*"}]})
    assert iam.role_allows_vmimport(emu, "wild", "disks", write=True) == (True, "")

    make_role(emu, "ec2", EC2_TRUST, vmimport_policy("disks"))
    ok, why = iam.role_allows_vmimport(emu, "ec2", "disks")
    assert not ok and "trust policy" in why

    make_role(emu, "managed", VMIMPORT_TRUST,
              attach=["arn:aws:iam::aws:policy/AmazonS3FullAccess"])
    assert iam.role_allows_vmimport(emu, "managed", "any", write=True) == (True, "")

    make_role(emu, "denied", VMIMPORT_TRUST, {"Statement": [
        {"Effect": "Allow", "Action": "s3:*", "Resource": "*"},
        {"Effect": "Deny", "Action": "s3:GetObject", "Resource": "*"}]})
    assert not iam.role_allows_vmimport(emu, "denied", "disks")[0]


def test_profile_role_policies(tmp_path):
    emu = Emulator(str(tmp_path))
    assert iam.profile_role_policies(emu, "none") == []
    make_role(emu, "r", EC2_TRUST, attach=[iam.SSM_CORE_ARN])
    call(emu, iam.create_instance_profile, InstanceProfileName="p")
    assert iam.profile_role_policies(emu, "p") == []
    call(emu, iam.add_role_to_instance_profile, InstanceProfileName="p", RoleName="r")
    assert iam.profile_role_policies(emu, "p") == [iam.SSM_CORE_ARN]
    # State survives a restart on the same directory.
    assert iam.profile_role_policies(Emulator(str(tmp_path)), "p") == [iam.SSM_CORE_ARN]
