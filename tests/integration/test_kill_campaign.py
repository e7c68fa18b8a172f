"""The kill -9 campaign (issue 11, "How it is checked"): vmie is killed
with SIGKILL at one point of an import or of a convert
--install-sanbootable --download, then the same command is run again.
After the rerun: exactly one import task, one AMI (and one sanbootable
AMI and one export for convert), no instance running, no multipart
upload open, the downloaded RAW identical to the source, and the bytes
the rerun uploaded (the emulator's request log) at most what was missing
plus one part."""
import time

import pytest

from campaign import (MIB, Emulator, env_for, finish, journal, kill9, left_nothing, parts_open,
                      requests, sent_bytes, sha256, start, state, wait_for)
from images import make_raw

BUCKET = "vmie-kill-campaign"
SIZE = 64 * MIB
# Random data nearly filling the disk: its VMDK is about as many parts as
# the disk itself (8), so the upload's percentages mean the same in both.
DATA = 56 * MIB
PART = 8 * MIB
PARTS = SIZE // PART


def ops(emu, op):
    return len(requests(emu, op))


def slow(emu, op, ms, count=50):
    emu.control("POST", "faults", {"operation": op, "latency_ms": ms, "count": count})


# name: (convert?, set-up before the first run, the moment to kill)
POINTS = {
    "during CreateMultipartUpload": (False, lambda e: slow(e, "CreateMultipartUpload", 1000, 1),
                                     lambda e: ops(e, "CreateMultipartUpload")),
    "upload at 15 %": (False, lambda e: slow(e, "UploadPart", 300),
                       lambda e: parts_open(e) >= 1),
    "upload at 60 %, sent as it is": (False, lambda e: slow(e, "UploadPart", 300),
                       lambda e: parts_open(e) >= PARTS * 6 // 10),
    "upload at 90 %": (False, lambda e: slow(e, "UploadPart", 300),
                       lambda e: parts_open(e) >= PARTS * 9 // 10),
    "during CompleteMultipartUpload": (False,
                                       lambda e: slow(e, "CompleteMultipartUpload", 1000, 1),
                                       lambda e: ops(e, "CompleteMultipartUpload")),
    "during ImportImage": (False, lambda e: slow(e, "ImportImage", 1000, 1),
                           lambda e: ops(e, "ImportImage")),
    "during ImportImage's retries": (
        False, lambda e: e.control("POST", "faults", {"operation": "ImportImage", "count": 2,
                                                      "status": 503, "code": "Unavailable"}),
        lambda e: ops(e, "ImportImage") >= 2),
    "during the import task's wait": (False, None,
                                      lambda e: state(e)["ec2"]["import_tasks"].get("active")),
    "during RunInstances": (True, lambda e: slow(e, "RunInstances", 1000, 1),
                            lambda e: ops(e, "RunInstances")),
    "during the SSM wait": (True, lambda e: e.control("POST", "force", {
        "kind": "ssm-online", "online": True, "delay": 900}),
        lambda e: ops(e, "DescribeInstanceInformation") >= 2),
    "during the install": (True, lambda e: e.control("POST", "force", {
        "kind": "command", "status": "Success", "duration": 900}),
        lambda e: ops(e, "GetCommandInvocation") >= 2),
    "during CreateImage": (True, lambda e: slow(e, "CreateImage", 1000, 1),
                           lambda e: ops(e, "CreateImage")),
    "during the export's wait": (True, None,
                                 lambda e: state(e)["ec2"]["export_tasks"].get("active")),
    "during the download": (True, lambda e: slow(e, "GetObject", 150, 100),
                            lambda e: ops(e, "GetObject") >= 3),
}


# The disk sent as it is (the rerun seeks); the others send the default, a
# VMDK made on the fly (the rerun makes it again and sends what S3 lacks).
AS_IS = {"upload at 60 %, sent as it is"}

# Killed with the request on its way: it still reaches the service.
IN_FLIGHT = {"during CreateMultipartUpload", "during CompleteMultipartUpload",
             "during ImportImage", "during RunInstances", "during CreateImage"}


@pytest.fixture
def emu(tmp_path):
    e = Emulator(tmp_path)
    yield e
    e.close()


@pytest.mark.parametrize("point", list(POINTS))
def test_killed_then_run_again(vmie_bin, clean_env, emu, tmp_path, point):
    is_convert, setup, moment = POINTS[point]
    disk = tmp_path / "disk.raw"
    make_raw(disk, SIZE, DATA)
    target = tmp_path / "back.raw"
    args = (["convert", "--install-sanbootable", "--download", str(target)] if is_convert
            else ["import"]) + ["--s3-bucket", BUCKET, "--source", str(disk)] + \
        (["--upload-format", "as-is"] if point in AS_IS else [])
    env = env_for(clean_env, emu, VMIE_DOWNLOAD_CHUNK_SIZE=MIB)
    if setup:
        setup(emu)
    p = start(vmie_bin, args, env)
    try:
        wait_for(lambda: moment(emu), point, timeout=120, step=0.02)
    finally:
        kill9(p)
    if point in IN_FLIGHT:
        time.sleep(1.2)  # the request in flight lands, as one sent to AWS would
    emu.control("DELETE", "faults")
    held = parts_open(emu) * PART
    uploaded = bool(state(emu)["s3"]["objects"])
    emu.control("DELETE", "requests")

    rc, out, err = finish(start(vmie_bin, args, env), timeout=240,
                          keep=tmp_path / "rerun.stderr")
    assert rc == 0, err
    sent = sent_bytes(emu)
    missing = 0 if uploaded else journal(env)["steps"]["upload"]["object_size"] - held
    assert sent <= missing + PART, (sent, missing)
    if is_convert:
        left_nothing(emu, imports=1, exports=1, images=2)
        assert sha256(target) == sha256(disk)
    else:
        left_nothing(emu, imports=1, images=1)
