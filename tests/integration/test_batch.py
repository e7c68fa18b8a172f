"""vmie batch against the emulator, as issue 15's "Done when" asks: a
12-row manifest (local, http, compressed, one bad row, one AWS refuses)
under a task quota of 3; a batch killed half-way and run again; three
shards at once on one manifest.  What each test asserts comes from the
emulator (its task quota's high-water mark and refusals, its tasks, its
request log), not from what vmie says about itself."""
import collections
import gzip
import hashlib
import http.server
import json
import lzma
import os
import signal
import subprocess
import threading
import time

import pytest

from conftest import EMU_ACCESS_KEY, EMU_SECRET_KEY
from images import MIB, make_raw

BUCKET = "vmie-batch-test"
QUOTA = 3


@pytest.fixture
def emulator_speed():
    return 900.0  # a 30-minute import task takes 2 s


@pytest.fixture
def emulator_args():
    return ["--task-quota", str(QUOTA)]


@pytest.fixture
def emu_env(emu_env):
    return dict(emu_env, VMIE_POLL_SCALE="0.1", VMIE_LEASE_TTL_S="4")


@pytest.fixture
def ec2(emulator, emu_env):
    """EC2 through the botocore bundled with Debian's AWS CLI (in process):
    the tasks as AWS would list them."""
    from awscli.botocore.session import Session
    return Session().create_client("ec2", region_name="us-west-2", endpoint_url=emulator,
                                   aws_access_key_id=EMU_ACCESS_KEY,
                                   aws_secret_access_key=EMU_SECRET_KEY)


class Files:
    """Image files served over http from one directory."""

    def __init__(self, directory):
        handler = lambda *a, **k: Quiet(*a, directory=str(directory), **k)  # noqa: E731
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        self.base = f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()


class Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *a):
        pass


@pytest.fixture
def files(tmp_path):
    d = tmp_path / "www"
    d.mkdir()
    f = Files(d)
    f.dir = d
    yield f
    f.stop()


def disk(path, seed):
    """A small Linux disk whose bytes differ per VM."""
    make_raw(path, 4 * MIB)
    with open(path, "r+b") as f:
        f.seek(3 * MIB)
        f.write(hashlib.sha256(str(seed).encode()).digest() * 64)
    return path


def write_csv(path, header, rows):
    def cell(v):
        v = str(v)
        return '"' + v.replace('"', '""') + '"' if any(c in v for c in ',"\n') else v
    path.write_text(",".join(header) + "\r\n" +
                    "".join(",".join(cell(v) for v in r) + "\r\n" for r in rows))
    return path


def run_batch(vmie_bin, env, *args, timeout=300):
    return subprocess.run([vmie_bin, "batch", "--s3-bucket", BUCKET, *args], env=env,
                          capture_output=True, text=True, timeout=timeout)


def results(directory, name="results.json"):
    return {r["line"]: r for r in json.loads((directory / name).read_text())["rows"]}


def tasks_by_key(ec2):
    """S3 key -> [(status, image id)] of every import task."""
    out = collections.defaultdict(list)
    for t in ec2.describe_import_image_tasks()["ImportImageTasks"]:
        key = t["SnapshotDetails"][0]["UserBucket"]["S3Key"]
        out[key].append((t["Status"], t.get("ImageId")))
    return out


def quota(control):
    return control("GET", "state")["ec2"]["task_quota"]


def ops(control, name):
    return [q for q in control("GET", "requests") if q.get("operation") == name]


def assert_clean(r):
    assert "Sanitizer" not in r.stderr and "runtime error" not in r.stderr, r.stderr


# --- a 12-row manifest within a quota of 3 -----------------------------------

def test_twelve_rows_within_the_quota(vmie_bin, emu_env, control, ec2, files, tmp_path):
    rows = []
    for i in range(4):  # local files
        rows.append([f"local{i}", str(disk(tmp_path / f"local{i}.raw", i)), "", "", "", ""])
    for i in range(3):  # plain over http
        disk(files.dir / f"web{i}.raw", 10 + i)
        rows.append([f"web{i}", f"{files.base}/web{i}.raw", "", "", "env=web", ""])
    gz = tmp_path / "packed.raw.gz"  # compressed, local
    gz.write_bytes(gzip.compress(disk(tmp_path / "packed.raw", 20).read_bytes()))
    rows.append(["packed-gz", str(gz), "packed-gz.raw", "BYOL", "", ""])
    xz = files.dir / "packed.raw.xz"  # compressed, over http
    xz.write_bytes(lzma.compress(disk(tmp_path / "x.raw", 21).read_bytes()))
    rows.append(["packed-xz", f"{files.base}/packed.raw.xz", "packed-xz.raw", "", "", ""])
    rows.append(["local-again", str(disk(tmp_path / "again.raw", 30)), "", "", "", ""])
    # A bad row (a license type AWS does not have) and one AWS refuses
    # (a blank data disk, forced past the preflight: Unknown OS).
    rows.append(["bad", str(disk(tmp_path / "bad.raw", 40)), "", "FREE", "", ""])
    blank = tmp_path / "blank.raw"
    with open(blank, "wb") as f:
        f.truncate(4 * MIB)
    rows.append(["blank", str(blank), "", "", "", "true"])
    manifest = write_csv(tmp_path / "vms.csv",
                         ["name", "source", "s3-key", "license-type", "tag", "force"], rows)
    out = tmp_path / "out"

    # Without --skip-invalid the bad row stops everything before AWS is touched.
    r = run_batch(vmie_bin, emu_env, "--max-tasks", str(QUOTA), "--results", str(out),
                  str(manifest))
    assert_clean(r)
    assert r.returncode == 2, r.stderr
    assert "line 12: --license-type 'FREE' is not AWS or BYOL" in r.stderr, r.stderr
    assert "--skip-invalid" in r.stderr
    assert not ops(control, "CreateBucket") and not ops(control, "ImportImage")

    r = run_batch(vmie_bin, emu_env, "--max-tasks", str(QUOTA), "--max-uploads", "3",
                  "--skip-invalid", "--results", str(out), "--json", str(manifest))
    assert_clean(r)
    assert r.returncode == 1, r.stderr  # not every row succeeded
    summary = json.loads(r.stdout)
    assert (summary["rows"], summary["succeeded"], summary["failed"], summary["invalid"]) == \
        (12, 10, 1, 1), summary
    res = results(out)
    assert res[12]["status"] == "invalid" and "line 12" in res[12]["error"]["message"]
    assert res[13]["status"] == "failed"
    assert "Unknown OS" in res[13]["error"]["message"], res[13]
    good = [line for line in range(2, 12)]
    assert all(res[line]["status"] == "succeeded" and res[line]["ami_id"] for line in good)
    assert len({res[line]["ami_id"] for line in good}) == 10
    csv_lines = (out / "results.csv").read_text().splitlines()
    assert csv_lines[0].startswith("line,name,source,operation,status,ami_id")
    assert len(csv_lines) == 13

    # The emulator's account: never more than 3 tasks at once, and never
    # refused one (the leases kept the starts within the quota).
    q = quota(control)
    assert q["high_water"]["us-west-2"] <= QUOTA and q["refused"] == {}, q
    # Every good row imported exactly once; the refused one tried once.
    tasks = tasks_by_key(ec2)
    for line in good:
        key = res[line]["s3_url"].split("/", 3)[3]
        assert [s for s, _ in tasks[key]] == ["completed"], (key, tasks[key])
    assert [s for s, _ in tasks["blank.raw"]] == ["deleted"]
    assert sum(len(v) for v in tasks.values()) == 11
    # One bucket step and one role step for the whole batch.
    assert len(ops(control, "GetRole")) == 1 and len(ops(control, "HeadBucket")) == 1
    # Each VM kept its own log.
    assert all(os.path.exists(res[line]["log"]) for line in good)
    assert control("GET", "state")["s3"]["multipart_uploads_open"] == []


def test_quota_lower_than_max_tasks_waits(vmie_bin, emu_env, control, ec2, tmp_path):
    """--max-tasks 5 against a quota of 3: AWS refuses the extra starts
    (ResourceLimitExceeded), the VMs wait instead of failing, and the
    lowered ceiling keeps the refusals few."""
    rows = [[f"vm{i}", str(disk(tmp_path / f"vm{i}.raw", i))] for i in range(6)]
    manifest = write_csv(tmp_path / "vms.csv", ["name", "source"], rows)
    r = run_batch(vmie_bin, emu_env, "--max-tasks", "5", "--max-uploads", "6",
                  "--results", str(tmp_path / "out"), "--json-events", str(manifest))
    assert_clean(r)
    assert r.returncode == 0, r.stderr
    q = quota(control)
    assert q["high_water"]["us-west-2"] == QUOTA and q["refused"].get("us-west-2", 0) >= 1, q
    assert q["refused"]["us-west-2"] <= 6, q  # lowered, not hammering
    events = [json.loads(line) for line in r.stdout.splitlines()]
    assert any(e.get("status") == "queued" and "ResourceLimitExceeded" in e.get("message", "")
               for e in events), r.stdout
    assert {e["row"] for e in events if e["event"] == "vm_end"} == set(range(2, 8))
    assert all(e["status"] == "succeeded" for e in events if e["event"] == "vm_end")
    assert sum(len(v) for v in tasks_by_key(ec2).values()) == 6


# --- killed half-way, run again ----------------------------------------------

def test_killed_half_way_and_run_again(vmie_bin, emu_env, control, ec2, tmp_path):
    rows = [[f"vm{i}", str(disk(tmp_path / f"vm{i}.raw", i))] for i in range(8)]
    manifest = write_csv(tmp_path / "vms.csv", ["name", "source"], rows)
    out = tmp_path / "out"
    args = [vmie_bin, "batch", "--s3-bucket", BUCKET, "--max-tasks", str(QUOTA),
            "--results", str(out), str(manifest)]
    p = subprocess.Popen(args, env=emu_env, stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    done_before = {}
    while time.time() < deadline:
        try:
            res = results(out)
        except (OSError, ValueError):
            res = {}
        done_before = {line: r for line, r in res.items() if r["status"] == "succeeded"}
        if len(done_before) >= 2 and any(r["status"] == "running" for r in res.values()):
            break
        time.sleep(0.05)
    assert len(done_before) >= 2, res
    os.kill(p.pid, signal.SIGKILL)  # the batch alone: its VMs hear of it
    p.wait()
    # The VMs it ran stop by themselves (SIGTERM when their parent dies).
    deadline = time.time() + 60
    while control("GET", "state")["ec2"]["import_tasks"].get("active") and \
            time.time() < deadline:
        time.sleep(0.1)
    imports_before = len(ops(control, "ImportImage"))

    r = run_batch(vmie_bin, emu_env, "--max-tasks", str(QUOTA), "--results", str(out),
                  "--json", str(manifest))
    assert_clean(r)
    assert r.returncode == 0, r.stderr
    summary = json.loads(r.stdout)
    assert summary["succeeded"] == 8 and summary["earlier"] >= len(done_before), summary
    res = results(out)
    tasks = tasks_by_key(ec2)
    for line, row in res.items():
        key = row["s3_url"].split("/", 3)[3]
        statuses = [s for s, _ in tasks[key]]
        assert statuses.count("completed") == 1, (key, statuses)  # nothing done twice
        if line in done_before:  # done rows were skipped, not run again
            assert row["ami_id"] == done_before[line]["ami_id"]
            assert statuses == ["completed"] and row["attempts"] == 1, (key, statuses)
    assert len(ops(control, "ImportImage")) > imports_before  # the others ran again
    q = quota(control)
    assert q["high_water"]["us-west-2"] <= QUOTA, q
    assert control("GET", "state")["s3"]["multipart_uploads_open"] == []


# --- three shards at once -------------------------------------------------------

def shard_of(source, s3_key, n):
    """The stable key as the README defines it: SHA-256 of the source, a
    newline and the s3-key; its first 8 bytes, big-endian, modulo N."""
    h = hashlib.sha256(f"{source}\n{s3_key}".encode()).digest()
    return int.from_bytes(h[:8], "big") % n


def test_three_shards_share_the_quota(vmie_bin, emu_env, control, ec2, tmp_path):
    rows = [[f"vm{i}", str(disk(tmp_path / f"vm{i}.raw", i))] for i in range(9)]
    manifest = write_csv(tmp_path / "vms.csv", ["name", "source"], rows)
    out = tmp_path / "shared"
    procs = [subprocess.Popen([vmie_bin, "batch", "--s3-bucket", BUCKET, "--shard", f"{i}/3",
                               "--max-tasks", str(QUOTA), "--max-uploads", "3",
                               "--results", str(out), "--json", str(manifest)],
                              env=emu_env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True) for i in range(3)]
    outs = [p.communicate(timeout=300) for p in procs]
    for p, (stdout, stderr) in zip(procs, outs):
        assert "Sanitizer" not in stderr, stderr
        assert p.returncode == 0, stderr
    lines_of = {}
    for i in range(3):
        shard = results(out, f"results-shard-{i}-of-3.json")
        for line, row in shard.items():
            assert line not in lines_of, line  # each row in one shard only
            lines_of[line] = i
            assert row["status"] == "succeeded"
            assert shard_of(row["source"], "", 3) == i, row
    assert sorted(lines_of) == list(range(2, 11))
    tasks = tasks_by_key(ec2)
    assert sorted(len(v) for v in tasks.values()) == [1] * 9  # each row imported once
    q = quota(control)  # the three shared one quota through S3
    assert q["high_water"]["us-west-2"] <= QUOTA and q["refused"] == {}, q
    # The leases are gone once the tasks are.
    listing = [q for q in control("GET", "requests") if q.get("operation") == "PutObject"
               and "vmie-leases/tasks/slot-" in q.get("path", "")]
    assert listing and all(q["headers"].get("If-None-Match") == "*" for q in listing)
