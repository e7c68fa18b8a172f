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
import pty
import re
import select
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


def assert_clean(r, out=None):
    """No sanitizer report from the batch, nor in any VM's log (each VM's
    vmie writes its stderr there)."""
    assert "Sanitizer" not in r.stderr and "runtime error" not in r.stderr, r.stderr
    for log in (out / "rows").glob("*.log") if out else ():
        text = log.read_text(errors="replace")
        assert "Sanitizer" not in text and "runtime error" not in text, (log, text)


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
    assert_clean(r, out)
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
    # The blank disk went up as a VMDK made from it (the default upload format).
    assert [s for s, _ in tasks["blank.vmdk"]] == ["deleted"]
    assert sum(len(v) for v in tasks.values()) == 11
    # One bucket step and one role step for the whole batch.
    assert len(ops(control, "GetRole")) == 1 and len(ops(control, "HeadBucket")) == 1
    # Each VM kept its own log.
    assert all(os.path.exists(res[line]["log"]) for line in good)
    assert control("GET", "state")["s3"]["multipart_uploads_open"] == []

    # --retry-failed runs the failed row anew (--restart: a new task, not
    # its journal's failure reported again); the done rows are skipped.
    imports, tries = len(ops(control, "ImportImage")), res[13]["attempts"]
    r = run_batch(vmie_bin, emu_env, "--max-tasks", str(QUOTA), "--skip-invalid",
                  "--retry-failed", "--results", str(out), "--json", str(manifest))
    assert_clean(r, out)
    assert r.returncode == 1, r.stderr
    res = results(out)
    assert res[13]["status"] == "failed" and res[13]["attempts"] == tries + 1, res[13]
    assert "Unknown OS" in res[13]["error"]["message"], res[13]
    assert "earlier run" not in res[13]["error"]["message"], res[13]
    assert len(ops(control, "ImportImage")) == imports + 1
    assert [s for s, _ in tasks_by_key(ec2)["blank.vmdk"]] == ["deleted", "deleted"]


def test_quota_lower_than_max_tasks_waits(vmie_bin, emu_env, control, ec2, tmp_path):
    """--max-tasks 5 against a quota of 3: AWS refuses the extra starts
    (ResourceLimitExceeded), the VMs wait instead of failing, and the
    lowered ceiling keeps the refusals few."""
    rows = [[f"vm{i}", str(disk(tmp_path / f"vm{i}.raw", i))] for i in range(6)]
    manifest = write_csv(tmp_path / "vms.csv", ["name", "source"], rows)
    r = run_batch(vmie_bin, emu_env, "--max-tasks", "5", "--max-uploads", "6",
                  "--results", str(tmp_path / "out"), "--json-events", str(manifest))
    assert_clean(r, tmp_path / "out")
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
    assert_clean(r, out)  # the killed VMs' logs too
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
        assert_clean(subprocess.CompletedProcess(p.args, p.returncode, stdout, stderr), out)
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


# --- plain imports in a shell loop share the slots too ----------------------

def test_plain_imports_share_task_slots(vmie_bin, emu_env, control, tmp_path):
    """Three vmie import at once with --max-tasks 1: one task at a time,
    the others queued, none refused."""
    procs = [subprocess.Popen([vmie_bin, "import", "--s3-bucket", BUCKET, "--source",
                               str(disk(tmp_path / f"p{i}.raw", i)), "--max-tasks", "1",
                               "--json-events"], env=emu_env, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for i in range(3)]
    outs = [p.communicate(timeout=300) for p in procs]
    for p, (stdout, stderr) in zip(procs, outs):
        assert "Sanitizer" not in stderr and p.returncode == 0, stderr
    queued = [e for stdout, _ in outs for e in map(json.loads, stdout.splitlines())
              if e.get("status") == "queued"]
    assert queued and "waiting for a task slot: 1 of 1 in use" in queued[0]["message"]
    q = quota(control)
    assert q["high_water"]["us-west-2"] == 1 and q["refused"] == {}, q
    leases = [k for k in control("GET", "requests") if k.get("operation") == "DeleteObject"
              and "/vmie-leases/tasks/slot-00/" in k.get("path", "")]
    assert leases  # each gave its slot back


# --- what a terminal shows ------------------------------------------------------

def test_terminal_block(vmie_bin, emu_env, tmp_path):
    """On a terminal: a total line and a line per running VM, redrawn in
    place (cursor up, erase), and a line for each VM that ends."""
    rows = [[f"tty{i}", str(disk(tmp_path / f"t{i}.raw", i))] for i in range(2)]
    manifest = write_csv(tmp_path / "vms.csv", ["name", "source"], rows)
    pid, fd = pty.fork()
    if pid == 0:
        os.chdir(tmp_path)
        os.execve(vmie_bin, [vmie_bin, "batch", "--s3-bucket", BUCKET, str(manifest)], emu_env)
    out = b""
    deadline = time.time() + 120
    while time.time() < deadline:
        ready, _, _ = select.select([fd], [], [], 1)
        if not ready:
            continue
        try:
            chunk = os.read(fd, 65536)
        except OSError:
            break
        if not chunk:
            break
        out += chunk
    _, status = os.waitpid(pid, 0)
    text = out.decode(errors="replace")
    assert os.waitstatus_to_exitcode(status) == 0, text
    assert "\x1b[J" in text and re.search(r"\x1b\[\d+A", text)  # redrawn in place
    assert re.search(r"batch: \d/2 done, 0 failed, \d running, \d left; [\d.]+ \w*B "
                     r"uploaded; ETA", text), text
    assert re.search(r"  tty[01] +(upload|import)", text), text
    assert "line 2 tty0: succeeded: ami-" in text and "line 3 tty1: succeeded: ami-" in text
    assert "vmie batch: 2 of 2 VMs succeeded" in text


def test_task_that_finished_after_the_batch_stopped(vmie_bin, emu_env, control, tmp_path):
    """A batch killed as a VM's import task completed left the row
    "running" with the task's id and no AMI: the next run asks EC2, finds
    the task completed, and counts the row done instead of importing it
    a second time."""
    image = disk(tmp_path / "late.raw", 1)
    r = subprocess.run([vmie_bin, "import", "--s3-bucket", BUCKET, "--source", str(image),
                        "--json"], env=emu_env, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    done = json.loads(r.stdout)
    manifest = write_csv(tmp_path / "vms.csv", ["name", "source"], [["late", str(image)]])
    out = tmp_path / "out"
    (out / "rows").mkdir(parents=True)
    key = hashlib.sha256(f"{image}\n".encode()).hexdigest()[:16]
    (out / "results.json").write_text(json.dumps({"vmie_batch": 1, "rows": [{
        "line": 2, "key": key, "status": "running", "import_task_id": done["import_task_id"],
        "started": "2026-01-01T00:00:00Z", "attempts": 1}]}))
    imports = len(ops(control, "ImportImage"))
    r = run_batch(vmie_bin, emu_env, "--results", str(out), "--json", str(manifest))
    assert_clean(r, out)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["earlier"] == 1
    assert results(out)[2]["ami_id"] == done["ami_id"]
    assert len(ops(control, "ImportImage")) == imports  # not imported again


def test_convert_and_sanbootable_rows(vmie_bin, emu_env, control, tmp_path):
    """Rows that export (the export column) and rows with sanbootable:
    at most --max-instances temporary instances at once, each row's
    results (export URL, sanbootable AMI), nothing left running; run
    again, the rows are found done (the export object is still there)."""
    back = tmp_path / "back.raw"
    rows = [["conv", str(disk(tmp_path / "c.raw", 1)), "true", str(back), ""],
            ["sb1", str(disk(tmp_path / "s1.raw", 2)), "", "", "true"],
            ["sb2", str(disk(tmp_path / "s2.raw", 3)), "", "", "yes"]]
    manifest = write_csv(tmp_path / "vms.csv",
                         ["name", "source", "export", "download", "install-sanbootable"], rows)
    out = tmp_path / "out"
    r = run_batch(vmie_bin, emu_env, "--max-instances", "1", "--results", str(out),
                  str(manifest))
    assert_clean(r, out)
    assert r.returncode == 0, r.stderr
    res = results(out)
    assert res[2]["operation"] == "convert" and res[2]["export_url"].startswith("s3://")
    assert back.read_bytes() == (tmp_path / "c.raw").read_bytes()
    for line in (3, 4):
        assert res[line]["operation"] == "import" and res[line]["sanbootable_ami_id"], res
    # One instance at a time: each launch after the previous one's end.
    seq = [q["operation"] for q in control("GET", "requests")
           if q.get("operation") in ("RunInstances", "TerminateInstances")]
    assert seq == ["RunInstances", "TerminateInstances"] * 2, seq
    assert control("GET", "state")["ec2"]["instances_not_terminated"] == []

    def work():
        return sorted(q["operation"] for q in control("GET", "requests")
                      if q.get("operation") in ("RunInstances", "ImportImage", "ExportImage"))
    before = work()
    assert before == ["ExportImage"] + ["ImportImage"] * 3 + ["RunInstances"] * 2, before
    r = run_batch(vmie_bin, emu_env, "--max-instances", "1", "--results", str(out), "--json",
                  str(manifest))
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["earlier"] == 3
    assert work() == before  # nothing started again
