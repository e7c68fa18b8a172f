"""vmie export and vmie convert against the emulator: the AMI checks,
the bucket and role, ExportImage and its wait, the object confirmed, the
download, and what is left behind (nothing)."""
import json
import os
import re
import signal
import subprocess
import time

import pytest

from conftest import run
from images import MIB, make_raw

BUCKET = "vmie-export-test"
REGION = "us-west-2"
SIZE = 24 * MIB
DATA = 6 * MIB


@pytest.fixture
def emulator_speed():
    return 900.0  # tasks of half an hour take two seconds


@pytest.fixture
def emu_env(emu_env):
    """Polls ten times as often: the emulated clock runs 900 times faster."""
    return dict(emu_env, VMIE_POLL_SCALE="0.1")


@pytest.fixture(autouse=True)
def nothing_left_behind(request):
    """After every test: no instance running, no multipart upload open."""
    if "control" not in request.fixturenames:
        yield
        return
    control = request.getfixturevalue("control")  # set up first, torn down after us
    yield
    state = control("GET", "state")
    assert state["ec2"]["instances_not_terminated"] == [], state["ec2"]
    assert state["s3"]["multipart_uploads_open"] == []


def vmie(vmie_bin, env, *args, timeout=120):
    return run(vmie_bin, list(args), env, timeout=timeout)


def result_of(r):
    assert r.returncode == 0, f"exit {r.returncode}\nstdout: {r.stdout}\nstderr: {r.stderr}"
    return json.loads(r.stdout)


def seed(control, **kw):
    return control("POST", "ec2/seed-image", dict({"region": REGION}, **kw))["ImageId"]


def export_tasks(control):
    return control("GET", "state")["ec2"]["export_tasks"]


def is_sparse(path):
    st = os.stat(path)
    return st.st_blocks * 512 < st.st_size


def test_export_from_nothing(vmie_bin, emu_env, aws, control):
    """The bucket and role are made, the default prefix is the
    reference's, the object is confirmed and its size reported."""
    ami = seed(control, size=4 * MIB)
    res = result_of(vmie(vmie_bin, emu_env, "export", "-b", BUCKET, "-a", ami, "--json"))
    m = re.fullmatch(rf"s3://{BUCKET}/exports/vmie-export-\d{{8}}-\d{{6}}/"
                     r"export-ami-[0-9a-z]+\.raw", res["export_url"])
    assert m, res["export_url"]
    assert res["export_task_id"].startswith("export-ami-")
    assert res["export_url"].endswith(res["export_task_id"][len("export-ami-"):] + ".raw")
    assert res["export_size"] == 4 * MIB
    key = res["export_url"][len(f"s3://{BUCKET}/"):]
    head = aws("s3api", "head-object", "--bucket", BUCKET, "--key", key)
    assert head["ContentLength"] == 4 * MIB
    assert aws("iam", "get-role", "--role-name", "vmimport")["Role"]["RoleName"] == "vmimport"
    enc = aws("s3api", "get-bucket-encryption", "--bucket", BUCKET)
    rule = enc["ServerSideEncryptionConfiguration"]["Rules"][0]
    assert rule["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"
    assert export_tasks(control).get("completed") == [res["export_task_id"]]
    assert set(res["phase_seconds"]) >= {"check", "bucket", "role", "export"}


def test_existing_role_with_wrong_trust_is_fixed(vmie_bin, emu_env, aws, control):
    """A vmimport role made by hand that trusts the wrong service: vmie's
    statement is added to its trust (UpdateAssumeRolePolicy), and the
    export then works."""
    wrong = json.dumps({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"},
        "Action": "sts:AssumeRole"}]})
    aws("iam", "create-role", "--role-name", "vmimport", "--assume-role-policy-document", wrong)
    ami = seed(control, size=2 * MIB)
    r = vmie(vmie_bin, emu_env, "export", "-b", BUCKET, "-a", ami, "--json")
    res = result_of(r)
    assert res["export_url"]
    assert "updated the vmimport service role" in r.stderr
    doc = aws("iam", "get-role", "--role-name", "vmimport")["Role"]["AssumeRolePolicyDocument"]
    assert doc["Statement"][0]["Principal"]["Service"] == "ec2.amazonaws.com"  # kept
    stmt = doc["Statement"][-1]
    assert stmt["Principal"]["Service"] == "vmie.amazonaws.com"
    assert stmt["Condition"]["StringEquals"]["sts:Externalid"] == "vmimport"


def test_new_role_not_yet_visible_is_waited_for(vmie_bin, emu_env, control):
    control("POST", "iam/propagation", {"seconds": 3})
    ami = seed(control, size=2 * MIB)
    r = vmie(vmie_bin, emu_env, "export", "-b", BUCKET, "-a", ami, "--json")
    res = result_of(r)
    assert res["export_url"]
    assert "waiting for IAM to make the new role visible to VM Export" in r.stderr
    assert len(export_tasks(control).get("completed", [])) == 1


def test_export_prefix_slash_and_format(vmie_bin, emu_env, aws, control):
    ami = seed(control, size=2 * MIB)
    res = result_of(vmie(vmie_bin, emu_env, "export", "-b", BUCKET, "-a", ami, "--json",
                         "--s3-export-prefix", "mine/web", "--export-format", "VHD"))
    assert re.fullmatch(rf"s3://{BUCKET}/mine/web/export-ami-[0-9a-z]+\.vhd",
                        res["export_url"]), res["export_url"]


def test_export_missing_ami_creates_nothing(vmie_bin, emu_env, aws, control):
    r = vmie(vmie_bin, emu_env, "export", "-b", BUCKET, "-a", "ami-0123456789abcdef0")
    assert r.returncode == 3, r.stderr
    assert "ami-0123456789abcdef0 was not found in us-west-2" in r.stderr
    assert "--region" in r.stderr  # the hint
    assert export_tasks(control) == {}
    assert aws("s3api", "head-bucket", "--bucket", BUCKET, check=False).returncode != 0


@pytest.mark.parametrize("kw,words,status", [
    ({"State": "failed"}, "is failed, not available", 3),
    ({"Platform": "windows"}, "Windows-licensed", 1),
    ({"Encrypted": True}, "snapshots encrypted with arn:aws:kms:", 1),
    ({"OwnerId": "210987654321"}, "belongs to account 210987654321", 1),
])
def test_export_refuses_what_aws_would(vmie_bin, emu_env, control, kw, words, status):
    ami = seed(control, **kw)
    r = vmie(vmie_bin, emu_env, "export", "-b", BUCKET, "-a", ami)
    assert r.returncode == status, r.stderr
    assert words in r.stderr
    assert "vmie: hint:" in r.stderr
    assert export_tasks(control) == {}


def test_windows_with_sanbootable_refused_first(vmie_bin, emu_env, control):
    ami = seed(control, Platform="windows")
    r = vmie(vmie_bin, emu_env, "export", "-b", BUCKET, "-a", ami, "--install-sanbootable")
    assert r.returncode == 5, r.stderr
    assert "Linux only" in r.stderr
    state = control("GET", "state")
    assert state["ec2"]["instances"] == {}
    assert export_tasks(control) == {}


def test_export_sanbootable_exports_the_new_ami(vmie_bin, emu_env, aws, control):
    ami = seed(control, size=2 * MIB)
    env = dict(emu_env, VMIE_POLL_SCALE="0.02")
    res = result_of(vmie(vmie_bin, env, "export", "-b", BUCKET, "-a", ami,
                         "--install-sanbootable", "--json", timeout=180))
    new = res["sanbootable_ami_id"]
    assert new and new != ami and res["source_ami_id"] == ami
    task = aws("ec2", "describe-export-image-tasks",
               "--export-image-task-ids", res["export_task_id"])["ExportImageTasks"][0]
    assert task["ImageId"] == new
    assert control("GET", "state")["ec2"]["instances"][res["instance_id"]]["state"] == \
        "terminated"


def test_bucket_in_another_region_refused(vmie_bin, emu_env, aws, control):
    aws("--region", "eu-west-1", "s3api", "create-bucket", "--bucket", BUCKET,
        "--create-bucket-configuration", "LocationConstraint=eu-west-1")
    ami = seed(control)
    r = vmie(vmie_bin, emu_env, "export", "-b", BUCKET, "-a", ami)
    assert r.returncode == 3, r.stderr
    assert f"bucket {BUCKET} is in eu-west-1, not in {REGION} where the image is " \
        "exported" in r.stderr
    assert "--region eu-west-1" in r.stderr
    assert export_tasks(control) == {}


def test_sse_kms_bucket_refused_before_the_task(vmie_bin, emu_env, aws, control):
    aws("s3api", "create-bucket", "--bucket", BUCKET,
        "--create-bucket-configuration", f"LocationConstraint={REGION}")
    aws("s3api", "put-bucket-encryption", "--bucket", BUCKET,
        "--server-side-encryption-configuration",
        '{"Rules":[{"ApplyServerSideEncryptionByDefault":{"SSEAlgorithm":"aws:kms"}}]}')
    ami = seed(control)
    r = vmie(vmie_bin, emu_env, "export", "-b", BUCKET, "-a", ami)
    assert r.returncode == 1, r.stderr
    assert "SSE-KMS" in r.stderr and "AES256" in r.stderr
    assert export_tasks(control) == {}


def test_failed_export_task_shows_message(vmie_bin, emu_env, control):
    ami = seed(control)
    control("POST", "force", {"kind": "export", "message": "ServerError: disk too large."})
    r = vmie(vmie_bin, emu_env, "export", "-b", BUCKET, "-a", ami)
    assert r.returncode == 3, r.stderr
    assert "ServerError: disk too large." in r.stderr


def test_interrupted_export_keeps_the_task(vmie_bin, emu_env, control):
    """Ctrl-C while the export runs: AWS goes on with it (it costs nothing
    more), the run says so and how to drop it; dropping it cancels it."""
    ami = seed(control)
    control("POST", "force", {"kind": "export", "outcome": "stall"})
    p = subprocess.Popen([vmie_bin, "export", "-b", BUCKET, "-a", ami], env=emu_env,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 60
    while time.time() < deadline and not export_tasks(control).get("active"):
        time.sleep(0.2)
    assert export_tasks(control).get("active"), "the export task never started"
    time.sleep(1)
    p.send_signal(signal.SIGINT)
    out, err = p.communicate(timeout=60)
    assert p.returncode == 130, err
    assert re.search(r"kept: export task export-ami-\w+, which goes on in AWS", err), err
    assert "run the same command again to go on" in err
    assert export_tasks(control).get("active")
    runs = json.loads(vmie(vmie_bin, emu_env, "runs", "--json").stdout)
    assert [r["operation"] for r in runs] == ["export"]
    r = vmie(vmie_bin, emu_env, "runs", "--discard", runs[0]["id"])
    assert r.returncode == 0, r.stderr
    assert "cancelled export task export-ami-" in r.stderr
    assert not export_tasks(control).get("active")


def test_export_with_download_is_sparse(vmie_bin, emu_env, control, tmp_path):
    ami = seed(control, size=8 * MIB)
    target = tmp_path / "disk.raw"
    res = result_of(vmie(vmie_bin, emu_env, "export", "-b", BUCKET, "-a", ami, "--json",
                         "--download", str(target)))
    assert target.stat().st_size == 8 * MIB
    assert target.read_bytes() == bytes(8 * MIB)
    assert is_sparse(target)
    assert res["download_path"] == str(target)


@pytest.mark.parametrize("upload_format,sent", [(None, "VMDK"), ("as-is", "RAW")])
def test_convert_with_download_gives_back_the_image(vmie_bin, emu_env, control, tmp_path,
                                                    upload_format, sent):
    """RAW in (sent as a VMDK made on the fly by default, or as it is),
    RAW out: byte for byte, holes where the image had zeros."""
    disk = tmp_path / "disk.raw"
    make_raw(disk, SIZE, DATA)
    back = tmp_path / "back.raw"
    extra = ["--upload-format", upload_format] if upload_format else []
    res = result_of(vmie(vmie_bin, emu_env, "convert", "-b", BUCKET, "-s", str(disk),
                         "--download", str(back), "--json", *extra, timeout=180))
    assert res["format"] == sent and res["disk_bytes"] == SIZE
    assert res["ami_id"].startswith("ami-") and res["import_task_id"]
    assert res["export_url"].startswith(f"s3://{BUCKET}/exports/")
    assert back.read_bytes() == disk.read_bytes()
    assert is_sparse(back)
    assert res["download_verified"] is True
    assert {"upload", "import", "export", "download"} <= set(res["phase_seconds"])


def test_convert_failing_after_the_import_says_how_to_go_on(vmie_bin, emu_env, control,
                                                           tmp_path):
    disk = tmp_path / "disk.raw"
    make_raw(disk, SIZE, DATA)
    control("POST", "force", {"kind": "export", "message": "ServerError: export failed."})
    r = vmie(vmie_bin, emu_env, "convert", "-b", BUCKET, "-s", str(disk), "--download",
             str(tmp_path / "back.raw"), "--json", timeout=180)
    assert r.returncode == 3, r.stderr
    m = re.search(r"the import made (ami-[0-9a-f]+): the same command goes on from it, "
                  rf"and so does: vmie export --s3-bucket {BUCKET} --ami-id (ami-[0-9a-f]+) "
                  "--download ", r.stderr)
    assert m and m.group(1) == m.group(2), r.stderr
    # --json: the error, and what the run made before it (for a script).
    doc = json.loads(r.stdout)
    assert doc["exit_status"] == 3 and doc["error"]["code"] == "ERR_AWS_EXPORT_TASK_FAILED"
    assert doc["result"]["ami_id"] == m.group(1)
    assert doc["result"]["export_task_id"].startswith("export-ami-")
    assert "status" not in doc["result"]
    # The same command again: the import is not redone, the export is.
    r = vmie(vmie_bin, emu_env, "convert", "-b", BUCKET, "-s", str(disk), "--download",
             str(tmp_path / "back.raw"), "--json", timeout=180)
    res = result_of(r)
    assert "exporting again" in r.stderr
    assert res["ami_id"] == m.group(1)
    tasks = control("GET", "state")["ec2"]
    assert len(tasks["import_tasks"]["completed"]) == 1
    assert len(tasks["export_tasks"]["completed"]) == 1


def test_convert_sanbootable_download(vmie_bin, emu_env, control, aws, tmp_path):
    """The whole SAN-boot preparation: import, sanbootable, export,
    download; the temporary instance is gone, the new AMI is tagged."""
    disk = tmp_path / "disk.raw"
    make_raw(disk, SIZE, DATA)
    back = tmp_path / "back.raw"
    res = result_of(vmie(vmie_bin, emu_env, "convert", "-b", BUCKET, "-s", str(disk),
                         "--install-sanbootable", "--download", str(back), "--json",
                         timeout=240))
    new = res["sanbootable_ami_id"]
    assert new and new != res["ami_id"]
    assert res["instance_id"].startswith("i-")
    images = aws("ec2", "describe-images", "--image-ids", new)["Images"]
    tags = {t["Key"]: t["Value"] for t in images[0].get("Tags", [])}
    assert tags.get("SanbootableInstalled") == "true"
    assert tags.get("OriginalAMI") == res["ami_id"]
    assert back.read_bytes() == disk.read_bytes()
    assert is_sparse(back)


@pytest.mark.parametrize("args,words", [
    (["--export-format", "QCOW2"], "--export-format 'QCOW2' is not valid"),
    (["--sparse"], "--sparse applies to a download"),
    (["--instance-type", "t3.micro"], "--instance-type applies to the sanbootable"),
    (["--install-sanbootable", "--subnet-id", "sub-1"], "is not a subnet id"),
    (["--download", "/"], "is a directory"),
    (["--download", "/nonexistent-dir/x.raw"], "does not exist"),
    (["--export-format", "VHD", "--download", "x.raw"], "which a VHD export is not"),
    (["--download-format", "raw"], "--download-format applies to a download"),
    (["--download", "x.raw", "--download-format", "qcow2"],
     "--download-format 'qcow2' is not valid"),
])
def test_export_option_errors(vmie_bin, clean_env, args, words):
    env = dict(clean_env, AWS_REGION=REGION)
    r = vmie(vmie_bin, env, "export", "-b", BUCKET, "-a", "ami-0123456789abcdef0", *args)
    assert r.returncode == 2, r.stderr
    assert words in r.stderr
