"""vmie import end to end against the emulator: every source kind and
compression, the AWS side created from nothing, idempotency, failures,
interruption, and what the user sees."""
import hashlib
import http.server
import json
import os
import pty
import select
import signal
import subprocess
import threading
import time

import pytest

from conftest import run
from images import MIB, make_raw

BUCKET = "vmie-import-test"
SIZE = 24 * MIB
DATA = 6 * MIB


@pytest.fixture
def emulator_speed():
    return 900.0  # a 30-minute import task takes 2 s


@pytest.fixture
def emu_env(emu_env):
    """Polls ten times as often: the emulated clock runs 900 times faster."""
    return dict(emu_env, VMIE_POLL_SCALE="0.1")


@pytest.fixture
def disk(tmp_path):
    p = tmp_path / "disk.raw"
    make_raw(p, SIZE, DATA)
    return p


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(MIB), b""):
            h.update(block)
    return h.hexdigest()


def vmie_import(vmie_bin, env, *args, timeout=120):
    return run(vmie_bin, ["import", "--s3-bucket", BUCKET, *args], env, timeout=timeout)


def result_of(r):
    assert r.returncode == 0, f"exit {r.returncode}\nstdout: {r.stdout}\nstderr: {r.stderr}"
    return json.loads(r.stdout)


def open_uploads(control):
    return control("GET", "state")["s3"]["multipart_uploads_open"]


def object_sha256(aws, tmp_path, key):
    out = tmp_path / ("back-" + key.replace("/", "_"))
    aws("s3api", "get-object", "--bucket", BUCKET, "--key", key, str(out))
    return sha256(out)


def object_disk_sha256(aws, tmp_path, key):
    """The SHA-256 of the disk an uploaded object carries: the object for
    RAW, its disk (qemu-img convert, after qemu-img check) for the VMDK
    vmie makes."""
    out = tmp_path / ("back-" + key.replace("/", "_"))
    aws("s3api", "get-object", "--bucket", BUCKET, "--key", key, str(out))
    with open(out, "rb") as f:
        if f.read(4) != b"KDMV":
            return sha256(out)
    subprocess.run(["qemu-img", "check", "-q", str(out)], check=True)
    raw = tmp_path / "back-disk.raw"
    subprocess.run(["qemu-img", "convert", "-q", "-f", "vmdk", "-O", "raw", str(out),
                    str(raw)], check=True)
    return sha256(raw)


class Server:
    """An http server for image files, with the behaviours a source must
    survive: redirects, no Content-Length, a connection dropped mid-body
    (once, then Range requests are honoured with If-Range)."""

    def __init__(self, directory):
        self.directory = directory
        self.drop_after = None  # bytes of body before the first drop
        self.stall_after = None  # bytes of body, then nothing until stop()
        self.release = threading.Event()
        self.requests = []
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.0"

            def log_message(self, *a):
                pass

            def do_GET(self):
                server.requests.append((self.path, dict(self.headers)))
                kind, _, name = self.path.lstrip("/").partition("/")
                if kind == "redirect":
                    self.send_response(302)
                    self.send_header("Location", f"/files/{name}")
                    self.end_headers()
                    return
                path = os.path.join(server.directory, name)
                if not os.path.isfile(path):
                    self.send_error(404)
                    return
                data = open(path, "rb").read()
                etag = '"%s"' % hashlib.md5(data).hexdigest()
                rng = self.headers.get("Range")
                if rng and self.headers.get("If-Range") == etag:
                    start = int(rng.split("=")[1].rstrip("-"))
                    self.send_response(206)
                    self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
                    self.send_header("Content-Length", str(len(data) - start))
                    self.send_header("ETag", etag)
                    self.end_headers()
                    self.wfile.write(data[start:])
                    return
                self.send_response(200)
                if kind != "nolength":
                    self.send_header("Content-Length", str(len(data)))
                self.send_header("ETag", etag)
                self.send_header("Accept-Ranges", "bytes")
                self.end_headers()
                if server.stall_after is not None:
                    self.wfile.write(data[:server.stall_after])
                    self.wfile.flush()
                    server.release.wait(120)  # the server hangs, the socket stays open
                    return
                if server.drop_after is not None:
                    cut, server.drop_after = server.drop_after, None
                    self.wfile.write(data[:cut])
                    self.wfile.flush()
                    self.connection.shutdown(2)  # the network breaks
                    return
                self.wfile.write(data)

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()
        self.base = f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def stop(self):
        self.release.set()
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server(tmp_path):
    s = Server(str(tmp_path))
    yield s
    s.stop()


def test_local_file_from_nothing(vmie_bin, emu_env, aws, control, disk, tmp_path):
    """No bucket, no role: vmie creates both, uploads, imports.  The RAW
    disk goes as a streamOptimized VMDK: its zeros stay home."""
    r = vmie_import(vmie_bin, emu_env, "--source", str(disk), "--json")
    res = result_of(r)
    assert res["s3_url"] == f"s3://{BUCKET}/disk.vmdk"
    assert res["format"] == "VMDK"
    assert res["disk_bytes"] == SIZE
    # Random data does not compress; the zero grains are left out.
    assert DATA < res["uploaded_bytes"] < DATA + MIB
    assert res["upload_ratio"] == pytest.approx(res["uploaded_bytes"] / SIZE)
    assert res["import_task_id"].startswith("import-ami-")
    assert res["ami_id"].startswith("ami-")
    assert res["snapshot_ids"] and res["snapshot_ids"][0].startswith("snap-")
    assert set(res["phase_seconds"]) >= {"bucket", "role", "upload", "import"}
    # The bucket as a careful user would set it up.
    block = aws("s3api", "get-public-access-block", "--bucket", BUCKET)
    assert all(block["PublicAccessBlockConfiguration"].values())
    enc = aws("s3api", "get-bucket-encryption", "--bucket", BUCKET)
    rule = enc["ServerSideEncryptionConfiguration"]["Rules"][0]
    assert rule["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"
    head = aws("s3api", "head-object", "--bucket", BUCKET, "--key", "disk.vmdk")
    assert head["ContentLength"] == res["uploaded_bytes"]
    assert head.get("StorageClass") == "STANDARD_IA"
    assert head["Metadata"].get("uploaded-by", "").startswith("vmie/")
    assert object_disk_sha256(aws, tmp_path, "disk.vmdk") == sha256(disk)
    state = control("GET", "state")
    assert "vmimport" in state["iam"]["roles"]
    assert state["s3"]["multipart_uploads_open"] == []
    assert len(state["ec2"]["import_tasks"].get("completed", [])) == 1


def test_local_file_as_is(vmie_bin, emu_env, aws, disk, tmp_path):
    """--upload-format as-is: the file, byte for byte, named as it is."""
    res = result_of(vmie_import(vmie_bin, emu_env, "--source", str(disk),
                                "--upload-format", "as-is", "--upload-only", "--json"))
    assert res["s3_url"] == f"s3://{BUCKET}/disk.raw"
    assert res["format"] == "RAW"
    assert res["uploaded_bytes"] == SIZE and res["disk_bytes"] == SIZE
    assert res["upload_ratio"] == 1.0
    assert object_sha256(aws, tmp_path, "disk.raw") == sha256(disk)


def test_new_role_not_yet_visible_is_waited_for(vmie_bin, emu_env, control, disk):
    """A first import: the role vmie just created is not visible to VM
    Import for a few seconds; ImportImage is retried with the same
    ClientToken until it is, and one task starts."""
    control("POST", "iam/propagation", {"seconds": 3})
    r = vmie_import(vmie_bin, emu_env, "--source", str(disk), "--json")
    res = result_of(r)
    assert res["ami_id"].startswith("ami-")
    assert "waiting for IAM to make the new role visible to VM Import" in r.stderr
    calls = [q for q in control("GET", "requests") if q.get("operation") == "ImportImage"]
    assert len(calls) >= 2, calls
    tasks = control("GET", "state")["ec2"]["import_tasks"]
    assert sum(len(v) for v in tasks.values()) == 1, tasks


@pytest.mark.parametrize("tool,suffix", [("gzip", "gz"), ("xz", "xz"), ("bzip2", "bz2"),
                                         ("zstd", "zst")])
def test_compressed_over_http(vmie_bin, emu_env, aws, control, disk, server, tmp_path,
                              tool, suffix):
    """Decoded as a stream: the object is the decompressed image, named
    without the suffix.  Its decoded size is not known before its end
    (over http not even xz's), and a VMDK's header needs it: RAW, and
    the run says why."""
    subprocess.run([tool, "-k", "-q", str(disk)] if tool != "zstd"
                   else [tool, "-q", "-k", str(disk)], check=True)
    url = f"{server.base}/files/disk.raw.{suffix}"
    r = vmie_import(vmie_bin, emu_env, "--source", url, "--json")
    res = result_of(r)
    assert "sending " + url + " as it is (RAW)" in r.stderr
    assert res["s3_url"] == f"s3://{BUCKET}/disk.raw"
    assert res["format"] == "RAW"
    assert res["uploaded_bytes"] == SIZE
    assert res["ami_id"].startswith("ami-")
    assert object_sha256(aws, tmp_path, "disk.raw") == sha256(disk)
    assert open_uploads(control) == []


@pytest.mark.parametrize("tool,suffix,fmt", [("xz", "xz", "VMDK"), ("gzip", "gz", "RAW")])
def test_compressed_local_file(vmie_bin, emu_env, aws, disk, tmp_path, tool, suffix, fmt):
    """A local xz file says its decoded size (its index): it goes as a
    VMDK named disk.vmdk.  gzip does not: RAW, named disk.raw."""
    subprocess.run([tool, "-k", "-q", str(disk)], check=True)
    res = result_of(vmie_import(vmie_bin, emu_env, "--source", f"{disk}.{suffix}",
                                "--upload-only", "--json"))
    key = "disk.vmdk" if fmt == "VMDK" else "disk.raw"
    assert res["s3_url"] == f"s3://{BUCKET}/{key}"
    assert res["format"] == fmt and res["disk_bytes"] == SIZE
    assert (res["uploaded_bytes"] < SIZE) == (fmt == "VMDK")
    assert object_disk_sha256(aws, tmp_path, key) == sha256(disk)


def test_http_redirect_no_length_and_resume(vmie_bin, emu_env, aws, disk, server, tmp_path):
    # A redirect: the length is known, the disk goes as a VMDK.
    res = result_of(vmie_import(vmie_bin, emu_env, "--source",
                                f"{server.base}/redirect/disk.raw", "--s3-key", "a.raw",
                                "--upload-only", "--json"))
    assert res["format"] == "VMDK" and res["disk_bytes"] == SIZE
    assert object_disk_sha256(aws, tmp_path, "a.raw") == sha256(disk)
    # No Content-Length: no size before the end, so RAW.
    r = vmie_import(vmie_bin, emu_env, "--source", f"{server.base}/nolength/disk.raw",
                    "--s3-key", "b.raw", "--upload-only", "--json")
    res = result_of(r)
    assert res["format"] == "RAW" and res["uploaded_bytes"] == SIZE
    assert "Content-Length" in r.stderr
    # The connection drops after 5 MiB: resumed with a Range request.
    server.drop_after = 5 * MIB
    server.requests.clear()
    r = vmie_import(vmie_bin, emu_env, "--source", f"{server.base}/files/disk.raw",
                    "--s3-key", "c.raw", "--upload-only", "--json")
    res = result_of(r)
    assert res["format"] == "VMDK" and res["disk_bytes"] == SIZE
    ranged = [h for _, h in server.requests if "Range" in h]
    assert ranged and ranged[0]["Range"].startswith("bytes=")
    assert "If-Range" in ranged[0]
    assert "resuming" in r.stderr
    assert object_disk_sha256(aws, tmp_path, "c.raw") == sha256(disk)


def test_s3_source_in_place(vmie_bin, emu_env, aws, control, disk):
    aws("s3api", "create-bucket", "--bucket", BUCKET,
        "--create-bucket-configuration", "LocationConstraint=us-west-2")
    aws("s3api", "put-object", "--bucket", BUCKET, "--key", "images/disk.img",
        "--body", str(disk))
    before = control("GET", "state")["s3"]["objects"]
    res = result_of(vmie_import(vmie_bin, emu_env, "--source",
                                f"s3://{BUCKET}/images/disk.img", "--json"))
    assert res["s3_url"] == f"s3://{BUCKET}/images/disk.img"
    assert res["format"] == "RAW"  # read from the object's bytes
    assert res["uploaded_bytes"] == 0
    assert res["ami_id"].startswith("ami-")
    assert control("GET", "state")["s3"]["objects"] == before  # no copy


def test_s3_source_in_another_region(vmie_bin, emu_env, aws, control, disk):
    aws("--region", "eu-west-1", "s3api", "create-bucket", "--bucket", "vmie-far-b",
        "--create-bucket-configuration", "LocationConstraint=eu-west-1")
    aws("--region", "eu-west-1", "s3api", "put-object", "--bucket", "vmie-far-b", "--key",
        "disk.raw", "--body", str(disk))
    r = run(vmie_bin, ["import", "--s3-bucket", "vmie-far-b", "--source",
                       "s3://vmie-far-b/disk.raw"], emu_env)
    assert r.returncode == 3, r.stderr
    assert "the bucket is in eu-west-1, not in us-west-2" in r.stderr
    assert "--region eu-west-1" in r.stderr
    assert control("GET", "state")["ec2"]["import_tasks"] == {}


def test_json_multi_disk(vmie_bin, emu_env, aws, control, disk, tmp_path):
    aws("s3api", "create-bucket", "--bucket", BUCKET,
        "--create-bucket-configuration", "LocationConstraint=us-west-2")
    data = tmp_path / "data.raw"
    make_raw(data, 8 * MIB)
    for key, path in (("boot.raw", disk), ("data.raw", data)):
        aws("s3api", "put-object", "--bucket", BUCKET, "--key", key, "--body", str(path))
    spec = tmp_path / "disks.json"
    spec.write_text(json.dumps([
        {"Format": "raw", "Description": "boot", "UserBucket": {"S3Bucket": BUCKET,
                                                                "S3Key": "boot.raw"}},
        {"Format": "RAW", "UserBucket": {"S3Bucket": BUCKET, "S3Key": "data.raw"}},
    ]))
    res = result_of(vmie_import(vmie_bin, emu_env, "--source", str(spec), "--json"))
    assert res["ami_id"].startswith("ami-")
    assert len(res["snapshot_ids"]) == 2


def test_json_missing_object_starts_no_task(vmie_bin, emu_env, aws, control, tmp_path):
    aws("s3api", "create-bucket", "--bucket", BUCKET,
        "--create-bucket-configuration", "LocationConstraint=us-west-2")
    spec = tmp_path / "disks.json"
    spec.write_text(json.dumps([{"Format": "VMDK", "UserBucket": {
        "S3Bucket": BUCKET, "S3Key": "nowhere.vmdk"}}]))
    r = vmie_import(vmie_bin, emu_env, "--source", str(spec))
    assert r.returncode == 4, r.stderr
    assert f"s3://{BUCKET}/nowhere.vmdk does not exist" in r.stderr
    assert control("GET", "state")["ec2"]["import_tasks"] == {}


def test_client_token_survives_a_retry(vmie_bin, emu_env, control, disk):
    """ImportImage's answer is lost on the way back: the retry carries the
    same ClientToken and EC2 (here the emulator) starts no second task."""
    control("POST", "faults", {"operation": "ImportImage", "reset_after_bytes": 0,
                               "direction": "response"})
    res = result_of(vmie_import(vmie_bin, emu_env, "--source", str(disk), "--json"))
    assert res["ami_id"].startswith("ami-")
    tasks = control("GET", "state")["ec2"]["import_tasks"]
    assert sum(len(v) for v in tasks.values()) == 1, tasks
    calls = [q for q in control("GET", "requests") if q.get("operation") == "ImportImage"]
    assert len(calls) == 2, calls


def test_failed_task_shows_message_and_hint(vmie_bin, emu_env, control, tmp_path):
    blank = tmp_path / "blank.raw"
    with open(blank, "wb") as f:
        f.truncate(8 * MIB)
    r = vmie_import(vmie_bin, emu_env, "--source", str(blank), "--force")
    assert r.returncode == 3, r.stderr
    assert "ClientError: Unknown OS / Missing OS files." in r.stderr
    assert "vmie inspect" in r.stderr  # the hint


def test_doomed_image_refused_before_upload(vmie_bin, emu_env, aws, control, server,
                                            tmp_path):
    """A qcow2 behind a URL: the preflight cannot read it first, the
    stream check stops it at its first part."""
    q = tmp_path / "vm.qcow2"
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", str(q), "1G"], check=True)
    with open(q, "ab") as f:
        f.write(os.urandom(12 * MIB))  # more than one part
    r = vmie_import(vmie_bin, emu_env, "--source", f"{server.base}/files/vm.qcow2")
    assert r.returncode == 4, r.stderr
    assert "QCOW2" in r.stderr and "--force" in r.stderr
    assert open_uploads(control) == []
    listed = aws("s3api", "list-objects-v2", "--bucket", BUCKET)
    assert not listed.get("Contents")
    assert control("GET", "state")["ec2"]["import_tasks"] == {}


def test_interrupted_upload_is_kept_for_the_same_command(vmie_bin, emu_env, control,
                                                          tmp_path):
    """Ctrl-C mid-upload keeps the parts in S3 (test_resume.py: the same
    command goes on from them); --restart throws them away first."""
    big = tmp_path / "big.raw"
    make_raw(big, 64 * MIB, 40 * MIB)
    # Slow parts: the upload is surely under way when the signal comes.
    control("POST", "faults", {"operation": "UploadPart", "latency_ms": 1500, "count": 50})
    p = subprocess.Popen([vmie_bin, "import", "--s3-bucket", BUCKET, "--source", str(big)],
                         env=emu_env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 30
    while time.time() < deadline and not open_uploads(control):
        time.sleep(0.1)
    assert open_uploads(control), "the upload never started"
    p.send_signal(signal.SIGINT)
    out, err = p.communicate(timeout=60)
    assert p.returncode == 130, err
    assert "interrupted" in err and "kept: the multipart upload" in err
    control("DELETE", "faults")
    (kept,) = open_uploads(control)
    r = vmie_import(vmie_bin, emu_env, "--source", str(big), "--restart")
    assert r.returncode == 0, r.stderr
    assert "aborted the unfinished upload" in r.stderr
    assert open_uploads(control) == []


def test_ctrl_c_with_a_stalled_server_is_prompt(vmie_bin, emu_env, control, server, tmp_path):
    """The server sends more than a part, then nothing, connection open:
    Ctrl-C must not wait for the read to time out (a minute)."""
    big = tmp_path / "stall.raw"
    make_raw(big, 64 * MIB, 40 * MIB)
    server.stall_after = 20 * MIB
    p = subprocess.Popen([vmie_bin, "import", "--s3-bucket", BUCKET, "--source",
                          f"{server.base}/files/stall.raw"],
                         env=emu_env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 30
    while time.time() < deadline and not open_uploads(control):
        time.sleep(0.1)
    assert open_uploads(control), "the upload never started"
    time.sleep(1)
    t0 = time.time()
    p.send_signal(signal.SIGINT)
    out, err = p.communicate(timeout=60)
    took = time.time() - t0
    assert p.returncode == 130, err
    assert took < 10, f"Ctrl-C took {took:.1f} s with a stalled server"
    assert len(open_uploads(control)) == 1  # kept for the same command


def test_upload_only(vmie_bin, emu_env, control, disk):
    res = result_of(vmie_import(vmie_bin, emu_env, "--source", str(disk), "--upload-only",
                                "--s3-key", "staged/disk.raw", "--json"))
    assert res["s3_url"] == f"s3://{BUCKET}/staged/disk.raw"
    assert res["import_task_id"] is None and res["ami_id"] is None
    assert control("GET", "state")["ec2"]["import_tasks"] == {}
    assert "vmimport" not in control("GET", "state")["iam"]["roles"]


def test_text_summary_and_plain_progress_lines(vmie_bin, emu_env, disk):
    r = vmie_import(vmie_bin, emu_env, "--source", str(disk), "--tag", "Project=test")
    assert r.returncode == 0, r.stderr
    assert "vmie import: done" in r.stdout
    for label in ("Source:", "Uploaded to:", "Import task:", "AMI:", "Snapshots:", "Time:"):
        assert label in r.stdout, r.stdout
    # Not a terminal: plain lines, no carriage returns.
    assert "upload   started" in r.stderr and "upload   done" in r.stderr
    assert "\r" not in r.stderr


def test_json_events(vmie_bin, emu_env, disk):
    r = vmie_import(vmie_bin, emu_env, "--source", str(disk), "--json-events")
    assert r.returncode == 0, r.stderr
    events = [json.loads(line) for line in r.stdout.splitlines()]
    kinds = [(e["event"], e["phase"]) for e in events]
    assert ("phase_begin", "upload") in kinds and ("phase_end", "import") in kinds
    assert any(e["event"] == "status" and e["phase"] == "import" for e in events)
    assert any(e["event"] == "result" and "ami_id" in e for e in events)


def test_progress_bar_on_a_terminal(vmie_bin, emu_env, disk):
    """Under a pseudo-terminal: a bar redrawn in place, then a done line."""
    pid, fd = pty.fork()
    if pid == 0:
        os.execve(vmie_bin, [vmie_bin, "import", "--s3-bucket", BUCKET, "--source",
                             str(disk), "--upload-only"], emu_env)
    out = b""
    deadline = time.time() + 60
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
    assert "\r\x1b[K" in text  # redrawn in place
    assert "upload   [" in text and "%" in text
    assert "upload   done:" in text


def test_interrupted_wait_keeps_the_task(vmie_bin, emu_env, control, disk):
    """Ctrl-C while the task runs: AWS converts on anyway, so the task is
    kept for the same command to follow (test_resume.py), and the run
    says how to cancel it instead."""
    control("POST", "force", {"kind": "import", "outcome": "stall"})
    p = subprocess.Popen([vmie_bin, "import", "--s3-bucket", BUCKET, "--source", str(disk)],
                         env=emu_env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    def active():
        return control("GET", "state")["ec2"]["import_tasks"].get("active", [])
    deadline = time.time() + 60
    while time.time() < deadline and not active():
        time.sleep(0.2)
    assert active(), "the import task never started"
    time.sleep(1)
    p.send_signal(signal.SIGINT)
    out, err = p.communicate(timeout=60)
    assert p.returncode == 130, err
    assert "kept: import task import-ami-" in err
    assert "which goes on in AWS; run the same command again" in err
    assert "vmie runs --discard" in err
    assert active()
    # --restart cancels it; the new run's task (no stall forced) completes.
    r = vmie_import(vmie_bin, emu_env, "--source", str(disk), "--restart")
    assert r.returncode == 0, r.stderr
    assert "cancelled import task" in r.stderr
    tasks = control("GET", "state")["ec2"]["import_tasks"]
    assert not tasks.get("active") and len(tasks["completed"]) == 1, tasks
