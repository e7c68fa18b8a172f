"""Runs that survive (issue 11): the same command goes on where the last
run of it stopped -- an upload from its first missing part (a local file
seeks, a URL asks for a Range, a compressed stream is decoded again and
checked, not sent), a task followed, not started twice -- a finished run
is reported, not redone; --restart and `vmie runs --discard` clean up;
Ctrl-C keeps what can be resumed cheaply and says how; a bucket vmie
creates aborts forgotten uploads after a week."""
import json
import os
import re
import signal
import subprocess
import time

import pytest

from campaign import (MIB, journal, journals, kill9, left_nothing, mode_of, parts_open, requests,
                      sent_bytes, sha256, start, wait_for)
from conftest import run
from images import make_raw
from test_import import Server

BUCKET = "vmie-resume-test"
SIZE = 64 * MIB
DATA = 40 * MIB
PART = 8 * MIB


class Emu:
    """The conftest emulator, seen through the helpers campaign.py has."""

    def __init__(self, control):
        self.control = control


@pytest.fixture
def emulator_speed():
    return 600.0  # a 30-minute import task takes 3 s


@pytest.fixture
def env(emu_env):
    return dict(emu_env, VMIE_POLL_SCALE="0.05")


@pytest.fixture
def emu(control):
    return Emu(control)


@pytest.fixture
def disk(tmp_path):
    p = tmp_path / "disk.raw"
    make_raw(p, SIZE, DATA)
    return p


@pytest.fixture
def server(tmp_path):
    s = Server(str(tmp_path))
    yield s
    s.stop()


def vmie(vmie_bin, env, *args, timeout=120):
    return run(vmie_bin, list(args), env, timeout=timeout)


def imp(*args):
    """The disk sent as it is: what a resume seeks, ranges and decodes
    again (the VMDK made on the fly has its own test)."""
    return ["import", "--s3-bucket", BUCKET, "--upload-format", "as-is", *args]


def ok(r):
    assert r.returncode == 0, f"exit {r.returncode}\nstdout: {r.stdout}\nstderr: {r.stderr}"
    return r


def slow_parts(emu, ms=400):
    emu.control("POST", "faults", {"operation": "UploadPart", "latency_ms": ms, "count": 200})


def journaled_parts(env):
    """Parts the run's journal recorded so far."""
    try:
        up = journal(env)["steps"]["upload"]
    except (ValueError, KeyError):
        return 0
    return sum(1 for p in up.get("parts") or [] if p)


def killed_mid_upload(vmie_bin, env, emu, args, parts=3):
    """An upload killed with SIGKILL once S3 holds `parts` parts and the
    journal a first one; what S3 holds then, in bytes."""
    slow_parts(emu)
    p = start(vmie_bin, args, env)
    wait_for(lambda: parts_open(emu) >= parts and journaled_parts(env) >= 1,
             f"{parts} parts in S3")
    kill9(p)
    emu.control("DELETE", "faults")
    return parts_open(emu) * PART


def object_sha(aws, tmp_path, key):
    out = tmp_path / ("back-" + key)
    aws("s3api", "get-object", "--bucket", BUCKET, "--key", key, str(out))
    return sha256(out)


def runs_json(vmie_bin, env, *args):
    return json.loads(ok(vmie(vmie_bin, env, "runs", "--json", *args)).stdout)


def test_kill9_mid_upload_goes_on_from_the_first_missing_part(vmie_bin, env, emu, aws, disk,
                                                             tmp_path):
    held = killed_mid_upload(vmie_bin, env, emu, imp("--source", str(disk)))
    (run_,) = runs_json(vmie_bin, env)
    assert run_["state"] == "interrupted" and run_["operation"] == "import"
    assert "parts" in run_["where"] and "in S3" in run_["where"]
    assert f"--source {disk}" in run_["resume_command"]
    assert run_["discard_command"] == f"vmie runs --discard {run_['id']}"
    assert mode_of(journals(env)[0]) == "0o600"

    emu.control("DELETE", "requests")
    r = ok(vmie(vmie_bin, env, *imp("--source", str(disk), "--json")))
    assert "resuming the upload of disk.raw stopped at" in r.stderr
    assert f"parts are in S3" in r.stderr
    sent = sent_bytes(emu)
    assert 0 < sent <= SIZE - held + PART, (sent, held)
    res = json.loads(r.stdout)
    assert res["uploaded_bytes"] == SIZE and res["ami_id"].startswith("ami-")
    assert object_sha(aws, tmp_path, "disk.raw") == sha256(disk)
    left_nothing(emu, imports=1)
    assert journal(env)["state"] == "done"


def test_compressed_stream_is_decoded_again_and_checked_not_sent(vmie_bin, env, emu, aws,
                                                                 disk, tmp_path):
    subprocess.run(["xz", "-k", "-1", "-T1", str(disk)], check=True)
    xz = f"{disk}.xz"
    held = killed_mid_upload(vmie_bin, env, emu, imp("--source", xz, "--upload-only"))
    emu.control("DELETE", "requests")
    r = ok(vmie(vmie_bin, env, *imp("--source", xz, "--upload-only")))
    assert "reading the image again from its start to check them" in r.stderr
    assert sent_bytes(emu) <= SIZE - held + PART
    assert object_sha(aws, tmp_path, "disk.raw") == sha256(disk)


def test_vmdk_made_on_the_fly_is_made_again_and_checked_not_sent(vmie_bin, env, emu, aws,
                                                                 disk, tmp_path):
    """The default upload format: the VMDK cannot seek, so the rerun makes
    it again from the disk's start -- the same disk gives the same bytes --
    and sends only the parts S3 lacks."""
    vmdk = ["import", "--s3-bucket", BUCKET, "--upload-only"]
    held = killed_mid_upload(vmie_bin, env, emu, vmdk + ["--source", str(disk)])
    emu.control("DELETE", "requests")
    r = ok(vmie(vmie_bin, env, *vmdk, "--source", str(disk), "--json"))
    assert re.search(r"resuming the upload of disk.vmdk: \d+ parts are in S3", r.stderr), \
        r.stderr
    assert "making the VMDK again from the disk's start to check them" in r.stderr
    size = json.loads(r.stdout)["uploaded_bytes"]
    assert 0 < sent_bytes(emu) <= size - held + PART, (sent_bytes(emu), size, held)
    # What one uninterrupted upload of the same disk makes.
    ok(vmie(vmie_bin, env, *vmdk, "--source", str(disk), "--s3-key", "whole.vmdk"))
    assert object_sha(aws, tmp_path, "disk.vmdk") == object_sha(aws, tmp_path, "whole.vmdk")
    assert emu.control("GET", "state")["s3"]["multipart_uploads_open"] == []


def test_url_source_goes_on_with_a_range_request(vmie_bin, env, emu, aws, disk, server,
                                                 tmp_path):
    url = f"{server.base}/files/disk.raw"
    held = killed_mid_upload(vmie_bin, env, emu, imp("--source", url, "--upload-only"))
    server.requests.clear()
    emu.control("DELETE", "requests")
    ok(vmie(vmie_bin, env, *imp("--source", url, "--upload-only")))
    ranged = [h for _, h in server.requests if "Range" in h]
    assert ranged, server.requests
    first = int(ranged[0]["Range"].split("=")[1].rstrip("-"))
    assert first % PART == 0 and 0 < first <= held, (first, held)
    assert "If-Range" in ranged[0]
    assert sent_bytes(emu) <= SIZE - held + PART
    assert object_sha(aws, tmp_path, "disk.raw") == sha256(disk)


def test_a_changed_url_source_is_refused_until_restart(vmie_bin, env, emu, disk, server):
    url = f"{server.base}/files/disk.raw"
    killed_mid_upload(vmie_bin, env, emu, imp("--source", url, "--upload-only"))
    make_raw(disk, SIZE, DATA)  # another image, same size: another ETag
    r = vmie(vmie_bin, env, *imp("--source", url, "--upload-only"))
    assert r.returncode == 4, r.stderr
    assert "is not what the interrupted upload read" in r.stderr
    assert "--restart" in r.stderr
    ok(vmie(vmie_bin, env, *imp("--source", url, "--upload-only", "--restart")))
    assert emu.control("GET", "state")["s3"]["multipart_uploads_open"] == []


def test_a_changed_local_file_is_refused_until_restart(vmie_bin, env, emu, disk):
    killed_mid_upload(vmie_bin, env, emu, imp("--source", str(disk), "--upload-only"))
    with open(disk, "r+b") as f:
        f.seek(SIZE - 1)
        f.write(b"x")
    r = vmie(vmie_bin, env, *imp("--source", str(disk), "--upload-only"))
    assert r.returncode == 4, r.stderr
    assert "changed since the interrupted import of it began" in r.stderr
    assert "--restart" in r.stderr and "vmie runs --discard" in r.stderr
    r = ok(vmie(vmie_bin, env, *imp("--source", str(disk), "--upload-only", "--restart")))
    assert "aborted the unfinished upload" in r.stderr
    assert emu.control("GET", "state")["s3"]["multipart_uploads_open"] == []


def test_ctrl_c_keeps_the_upload_and_discard_aborts_it(vmie_bin, env, emu, disk):
    slow_parts(emu)
    p = start(vmie_bin, imp("--source", str(disk)), env)
    wait_for(lambda: parts_open(emu) >= 2, "two parts in S3")
    p.send_signal(signal.SIGINT)
    _, err = p.communicate(timeout=60)
    emu.control("DELETE", "faults")
    assert p.returncode == 130, err
    assert "kept: the multipart upload of s3://vmie-resume-test/disk.raw" in err
    assert "run the same command again to go on" in err
    assert len(emu.control("GET", "state")["s3"]["multipart_uploads_open"]) == 1
    (run_,) = runs_json(vmie_bin, env)
    assert run_["state"] == "interrupted"
    r = ok(vmie(vmie_bin, env, "runs", "--discard", run_["id"]))
    assert "aborted the unfinished upload" in r.stderr
    assert emu.control("GET", "state")["s3"]["multipart_uploads_open"] == []
    assert runs_json(vmie_bin, env) == [] and journals(env) == []
    r = vmie(vmie_bin, env, "runs", "--discard", run_["id"])
    assert r.returncode == 2 and "no run" in r.stderr


def test_a_finished_run_is_reported_not_done_twice(vmie_bin, env, emu, disk):
    first = json.loads(ok(vmie(vmie_bin, env, *imp("--source", str(disk), "--json"))).stdout)
    r = ok(vmie(vmie_bin, env, *imp("--source", str(disk), "--json")))
    assert "nothing to do (add --restart to do it again)" in r.stderr
    again = json.loads(r.stdout)
    for key in ("s3_url", "import_task_id", "ami_id", "snapshot_ids"):
        assert again[key] == first[key], key
    assert len(requests(emu, "ImportImage")) == 1
    assert runs_json(vmie_bin, env) == []
    assert len(runs_json(vmie_bin, env, "--all")) == 1
    ok(vmie(vmie_bin, env, *imp("--source", str(disk), "--restart")))
    tasks = emu.control("GET", "state")["ec2"]["import_tasks"]
    assert len(tasks["completed"]) == 2, tasks


def test_ctrl_c_in_the_task_wait_keeps_the_task_and_the_rerun_follows_it(vmie_bin, env, emu,
                                                                        disk):
    emu.control("POST", "faults", {"operation": "DescribeImportImageTasks",
                                   "latency_ms": 300, "count": 20})
    p = start(vmie_bin, imp("--source", str(disk)), env)
    wait_for(lambda: requests(emu, "DescribeImportImageTasks"), "the task wait")
    p.send_signal(signal.SIGINT)
    _, err = p.communicate(timeout=60)
    assert p.returncode == 130, err
    assert "which goes on in AWS" in err and "cancel" not in err.lower().replace(
        "cancel-import-task", "")
    tasks = emu.control("GET", "state")["ec2"]["import_tasks"]
    assert "deleting" not in tasks and "deleted" not in tasks, tasks
    emu.control("DELETE", "faults")
    r = ok(vmie(vmie_bin, env, *imp("--source", str(disk))))
    assert "following import task import-ami-" in r.stderr
    assert len(requests(emu, "ImportImage")) == 1
    left_nothing(emu, imports=1)


def test_killed_during_import_image_the_same_token_gives_the_same_task(vmie_bin, env, emu,
                                                                       disk):
    emu.control("POST", "faults", {"operation": "ImportImage", "latency_ms": 1500})
    p = start(vmie_bin, imp("--source", str(disk)), env)
    wait_for(lambda: requests(emu, "ImportImage"), "ImportImage sent")
    kill9(p)
    token = journal(env)["steps"]["import"]["token"]
    wait_for(lambda: emu.control("GET", "state")["ec2"]["import_tasks"], "the task", 10)
    r = ok(vmie(vmie_bin, env, *imp("--source", str(disk), "--json")))
    calls = requests(emu, "ImportImage")
    assert len(calls) == 2
    left_nothing(emu, imports=1)
    assert journal(env)["steps"]["import"]["token"] == token
    assert json.loads(r.stdout)["ami_id"].startswith("ami-")


def test_ctrl_c_during_complete_reports_the_object(vmie_bin, env, emu, aws, disk):
    """Issue 12, defect 8: the completion went through, so the object
    exists: it is reported (text and --json's "result"), no task starts;
    the rerun goes on from it."""
    emu.control("POST", "faults", {"operation": "CompleteMultipartUpload",
                                   "latency_ms": 2000})
    p = start(vmie_bin, imp("--source", str(disk), "--json"), env)
    wait_for(lambda: requests(emu, "CompleteMultipartUpload"), "CompleteMultipartUpload sent")
    p.send_signal(signal.SIGINT)
    out, err = p.communicate(timeout=60)
    assert p.returncode == 130, err
    assert "the image is in S3: s3://vmie-resume-test/disk.raw" in err
    res = json.loads(out)
    assert res["result"]["s3_url"] == f"s3://{BUCKET}/disk.raw"
    assert aws("s3api", "head-object", "--bucket", BUCKET, "--key", "disk.raw")[
        "ContentLength"] == SIZE
    assert requests(emu, "ImportImage") == []
    emu.control("DELETE", "requests")
    ok(vmie(vmie_bin, env, *imp("--source", str(disk))))
    assert requests(emu, "UploadPart") == []
    left_nothing(emu, imports=1)


def test_an_option_of_a_started_step_cannot_change(vmie_bin, env, emu, disk):
    emu.control("POST", "force", {"kind": "import", "outcome": "stall"})
    p = start(vmie_bin, imp("--source", str(disk), "--description", "first"), env)
    wait_for(lambda: requests(emu, "DescribeImportImageTasks"), "the task wait")
    kill9(p)
    r = vmie(vmie_bin, env, *imp("--source", str(disk), "--description", "second"))
    assert r.returncode == 2, r.stderr
    assert "was started with --description first, not second" in r.stderr
    assert len(requests(emu, "ImportImage")) == 1


def test_a_bucket_vmie_creates_aborts_forgotten_uploads(vmie_bin, env, emu, aws, disk):
    ok(vmie(vmie_bin, env, *imp("--source", str(disk), "--upload-only")))
    rules = aws("s3api", "get-bucket-lifecycle-configuration", "--bucket", BUCKET)["Rules"]
    assert rules == [{"ID": "vmie-abort-incomplete-multipart-uploads", "Filter": {},
                      "Status": "Enabled",
                      "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 7}}] or \
        rules[0]["AbortIncompleteMultipartUpload"] == {"DaysAfterInitiation": 7}, rules
    # A bucket the user made is theirs: no rule added.
    aws("s3api", "create-bucket", "--bucket", "user-bucket",
        "--create-bucket-configuration", "LocationConstraint=us-west-2")
    ok(vmie(vmie_bin, env, "import", "--s3-bucket", "user-bucket", "--source", str(disk),
            "--upload-only"))
    r = aws("s3api", "get-bucket-lifecycle-configuration", "--bucket", "user-bucket",
            check=False)
    assert r.returncode != 0 and "NoSuchLifecycleConfiguration" in r.stderr


def test_outage_window_option_is_checked(vmie_bin, env, disk):
    r = vmie(vmie_bin, env, *imp("--source", str(disk), "--outage-window", "soon"))
    assert r.returncode == 2, r.stderr
    assert "--outage-window" in r.stderr and "10m" in r.stderr
