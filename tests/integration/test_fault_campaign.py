"""The fault campaign (issue 11, "How it is checked"): a convert
--install-sanbootable --download rides out AWS outages -- the emulator
killed and started again on the same state, at the upload, the import
task's wait, the sanbootable wait and the download -- of 2 s, 30 s and
3 minutes of vmie's time (its clock scaled with the emulator's:
campaign.SCALE), and, in another run, 500s on CompleteMultipartUpload and
throttling bursts on every Describe call.  Each run ends with exit 0,
exactly one task of each kind, the downloaded image identical to the
source, and nothing left: no instance, no multipart upload."""
import threading

import pytest

from campaign import (MIB, Emulator, emulated, env_for, finish, left_nothing, parts_open,
                      sha256, start, wait_for)
from images import make_raw

BUCKET = "vmie-fault-campaign"
SIZE = 64 * MIB


@pytest.fixture
def emu(tmp_path):
    e = Emulator(tmp_path)
    yield e
    e.close()


@pytest.fixture
def disk(tmp_path):
    p = tmp_path / "disk.raw"
    make_raw(p, SIZE, 24 * MIB)
    return p


def convert(disk, target):
    return ["convert", "--s3-bucket", BUCKET, "--source", str(disk), "--install-sanbootable",
            "--download", str(target)]


def slow_phases(emu):
    """Long enough to be caught in: parts, the SSM agent, the download."""
    emu.control("POST", "faults", {"operation": "UploadPart", "latency_ms": 300, "count": 6})
    emu.control("POST", "force", {"kind": "ssm-online", "online": True, "delay": 900})


class Outages(threading.Thread):
    """Stops the emulator once in each phase, as soon as the phase is
    seen, for `seconds` of vmie's time."""

    def __init__(self, emu, seconds):
        super().__init__(daemon=True)
        self.emu, self.seconds, self.seen, self.error = emu, seconds, [], None

    def state(self):
        return self.emu.try_control("GET", "state")

    def ops(self):
        return [q["operation"] for q in self.emu.try_control("GET", "requests") or []]

    def run(self):
        phases = (
            ("upload", lambda s: any(u["parts"] >= 2 for u in s["s3"]["multipart_uploads_open"])),
            ("import", lambda s: s["ec2"]["import_tasks"].get("active")),
            ("sanboot", lambda s: s["ec2"]["instances_not_terminated"]),
            ("download", lambda s: "GetObject" in self.ops()),
        )
        try:
            for name, cond in phases:
                wait_for(lambda: (s := self.state()) and cond(s), name, timeout=120, step=0.02)
                self.emu.outage(emulated(self.seconds))
                self.seen.append(name)
                if name == "sanboot":
                    # What comes after is the download: make it last.
                    self.emu.control("POST", "faults", {"operation": "GetObject",
                                                        "latency_ms": 100, "count": 200})
                elif name == "upload":
                    self.emu.control("POST", "faults", {"operation": "UploadPart",
                                                        "latency_ms": 200, "count": 2})
        except Exception as e:  # reported by the test
            self.error = e


@pytest.mark.parametrize("seconds", [2, 30, 180])
def test_outages_are_waited_out(vmie_bin, clean_env, emu, disk, tmp_path, seconds):
    env = env_for(clean_env, emu, VMIE_DOWNLOAD_CHUNK_SIZE=MIB)
    target = tmp_path / "back.raw"
    slow_phases(emu)
    outages = Outages(emu, seconds)
    outages.start()
    rc, out, err = finish(start(vmie_bin, convert(disk, target), env), timeout=300,
                          keep=tmp_path / "vmie.stderr")
    outages.join(timeout=30)
    assert outages.error is None, f"{outages.error}\n{err}"
    assert rc == 0, err
    assert outages.seen == ["upload", "import", "sanboot", "download"], outages.seen
    left_nothing(emu, imports=1, exports=1, images=2)
    assert sha256(target) == sha256(disk)
    if seconds >= 30:
        assert "waiting for " in err and "answers again" in err, err


def test_500s_on_complete_and_throttled_describes(vmie_bin, clean_env, emu, disk, tmp_path):
    env = env_for(clean_env, emu)
    target = tmp_path / "back.raw"
    emu.control("POST", "faults", {"operation": "CompleteMultipartUpload", "count": 5,
                                   "status": 500, "code": "InternalError"})
    for op in ("DescribeImportImageTasks", "DescribeExportImageTasks", "DescribeInstances",
               "DescribeImages", "DescribeSubnets", "DescribeVpcs"):
        emu.control("POST", "faults", {"operation": op, "count": 5, "status": 503,
                                       "code": "RequestLimitExceeded"})
    for op in ("DescribeInstanceInformation", "GetCommandInvocation"):
        emu.control("POST", "faults", {"operation": op, "count": 5, "status": 400,
                                       "code": "ThrottlingException"})
    rc, out, err = finish(start(vmie_bin, convert(disk, target), env), timeout=300)
    assert rc == 0, err
    assert "waiting for S3 (HTTP 500 InternalError)" in err, err
    assert "throttled: RequestLimitExceeded" in err, err
    pending = [f["operation"] for f in emu.control("GET", "state")["faults_pending"]]
    assert "CompleteMultipartUpload" not in pending and "DescribeImportImageTasks" not in pending
    left_nothing(emu, imports=1, exports=1, images=2)
    assert sha256(target) == sha256(disk)
