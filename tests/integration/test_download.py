"""vmie download S3_URL PATH against the emulator: many chunks written at
their offsets with holes for zeros, every way S3 lets the bytes be checked
(plain and multipart ETags, full-object and composite CRC32C), resume after
a failure, damage detected, refusals, and a block device (a loop device,
when this machine lets us make one)."""
import base64
import json
import os
import pathlib
import shutil
import subprocess
import sys

import pytest

import emu_s3_client as raw
from conftest import EMU_ACCESS_KEY, EMU_SECRET_KEY, ROOT, run

sys.path.insert(0, str(ROOT))
from emulator.services import s3_checksums as ck  # noqa: E402

MIB = 1 << 20
BUCKET = "vmie-dl-test"


def image(size_mib=40, seed=1):
    """Random blocks and long zero runs (the holes to be)."""
    rnd = __import__("random").Random(seed)
    out = bytearray()
    while len(out) < size_mib * MIB:
        n = rnd.choice([MIB // 2, MIB, 3 * MIB])
        out += bytes(n) if rnd.random() < 0.5 else rnd.randbytes(n)
    return bytes(out[:size_mib * MIB - 12345])  # not a multiple of anything


@pytest.fixture
def s3(aws):
    aws("s3api", "create-bucket", "--bucket", BUCKET,
        "--create-bucket-configuration", "LocationConstraint=us-west-2")
    return aws


def put(s3, tmp_path, key, data, *extra):
    src = tmp_path / ("src-" + key)
    src.write_bytes(data)
    return s3("s3api", "put-object", "--bucket", BUCKET, "--key", key, "--body", str(src),
              *extra)


def raw_put(emulator, key, data, query=None):
    """PUT with x-amz-checksum-crc32c, which Debian's AWS CLI cannot send."""
    import hashlib
    signer = raw.Signer(EMU_ACCESS_KEY, EMU_SECRET_KEY, "us-west-2")
    headers = {"host": raw.host_of(emulator),
               "x-amz-checksum-crc32c": ck.b64(ck.digest("crc32c", data))}
    signer.sign("PUT", f"/{BUCKET}/{key}", query or {}, headers,
                hashlib.sha256(data).hexdigest())
    status, hdrs, body = raw.request(emulator, "PUT", f"/{BUCKET}/{key}", headers, data,
                                     query=query)
    assert status == 200, body
    return hdrs


def put_multipart(s3, tmp_path, key, data, part, crc32c=False, emulator=None):
    extra = ["--checksum-algorithm", "CRC32C"] if crc32c else []
    uid = s3("s3api", "create-multipart-upload", "--bucket", BUCKET, "--key", key,
             *extra)["UploadId"]
    parts = []
    for n, off in enumerate(range(0, len(data), part), 1):
        p = tmp_path / f"part-{key}-{n}"
        p.write_bytes(data[off:off + part])
        if crc32c:
            h = raw_put(emulator, key, data[off:off + part],
                        {"partNumber": str(n), "uploadId": uid})
            parts.append({"PartNumber": n, "ETag": h["etag"],
                          "ChecksumCRC32C": h["x-amz-checksum-crc32c"]})
            continue
        r = s3("s3api", "upload-part", "--bucket", BUCKET, "--key", key, "--upload-id", uid,
               "--part-number", str(n), "--body", str(p))
        parts.append({"PartNumber": n, "ETag": r["ETag"]})
    return s3("s3api", "complete-multipart-upload", "--bucket", BUCKET, "--key", key,
              "--upload-id", uid, "--multipart-upload", json.dumps({"Parts": parts}))


def download(vmie_bin, env, key, path, *args, chunk=None, timeout=120):
    e = dict(env)
    if chunk:
        e["VMIE_DOWNLOAD_CHUNK_SIZE"] = str(chunk)
    r = run(vmie_bin, ["download", "--json", *args, f"s3://{BUCKET}/{key}", str(path)], e,
            timeout=timeout)
    assert "Sanitizer" not in r.stderr, r.stderr
    try:
        out = json.loads(r.stdout)
    except ValueError:
        out = None
    return r, out


def ok(r, out):
    assert r.returncode == 0, r.stderr
    assert out["status"] == 0
    return out


def test_many_chunks_byte_equal_and_sparse(vmie_bin, emu_env, s3, tmp_path):
    data = image()
    put(s3, tmp_path, "disk.raw", data)
    target = tmp_path / "disk.raw"
    out = ok(*download(vmie_bin, emu_env, "disk.raw", target, chunk=MIB))
    assert target.read_bytes() == data
    st = target.stat()
    assert st.st_size == len(data)
    assert st.st_mode & 0o777 == 0o600, "a disk image holds the guest's secrets"
    assert st.st_blocks * 512 < len(data) - 8 * MIB, "zero runs should be holes"
    assert out["download_verified"] is True
    # S3's default for an object stored without a checksum: CRC-64/NVME.
    assert out["verified_with"] == "crc64nvme"
    assert out["downloaded_bytes"] == len(data)
    assert out["zero_skipped"] > 8 * MIB
    assert out["download_path"] == str(target)
    assert not (tmp_path / "disk.raw.vmie-download").exists(), "state removed when verified"


@pytest.mark.parametrize("chunk", [None, 1000 * 1000])
def test_multipart_etag(vmie_bin, emu_env, s3, control, tmp_path, chunk):
    """An object S3 stored before it gave every object a checksum (late
    2024): the multipart ETag is what there is to check."""
    control("POST", "s3/legacy-objects", {"enabled": True})
    data = image(17, seed=2)
    done = put_multipart(s3, tmp_path, "mp.raw", data, 5 * MIB)
    assert done["ETag"].endswith('-4"')
    target = tmp_path / "mp.raw"
    out = ok(*download(vmie_bin, emu_env, "mp.raw", target, chunk=chunk))
    assert target.read_bytes() == data
    assert out["verified_with"] == "etag-multipart-md5"


def test_crc32c_full_object(vmie_bin, emu_env, s3, emulator, tmp_path):
    data = image(9, seed=3)
    raw_put(emulator, "c.raw", data)
    target = tmp_path / "c.raw"
    out = ok(*download(vmie_bin, emu_env, "c.raw", target, chunk=777777))
    assert target.read_bytes() == data
    assert out["verified_with"] == "crc32c"


def test_crc32c_composite(vmie_bin, emu_env, s3, emulator, tmp_path):
    data = image(13, seed=4)
    done = put_multipart(s3, tmp_path, "cc.raw", data, 5 * MIB, crc32c=True,
                         emulator=emulator)
    assert done["ChecksumCRC32C"].endswith("-3")
    for chunk in (None, 3 * MIB):
        target = tmp_path / f"cc-{chunk}.raw"
        out = ok(*download(vmie_bin, emu_env, "cc.raw", target, chunk=chunk))
        assert target.read_bytes() == data
        assert out["verified_with"] == "crc32c"


def test_resume_after_failure(vmie_bin, emu_env, s3, control, tmp_path):
    data = image(24, seed=5)
    put(s3, tmp_path, "r.raw", data)
    target = tmp_path / "r.raw"
    # Six GETs go through, then S3 refuses (not retryable): the run fails
    # with part of the object on disk.
    control("POST", "faults", {"operation": "GetObject", "count": 6})
    control("POST", "faults", {"operation": "GetObject", "count": 1000, "status": 403,
                               "code": "AccessDenied", "message": "Access Denied"})
    r, out = download(vmie_bin, emu_env, "r.raw", target, chunk=MIB)
    assert r.returncode == 4, r.stderr
    assert "AccessDenied" in r.stderr or "Access Denied" in r.stderr
    state = tmp_path / "r.raw.vmie-download"
    assert state.exists()
    assert oct(state.stat().st_mode & 0o777) == "0o600"
    assert json.loads(state.read_text())["done"], "some chunks were saved as done"
    control("DELETE", "faults")
    # Again, without --overwrite: the state says the file is ours.
    out = ok(*download(vmie_bin, emu_env, "r.raw", target, chunk=MIB))
    assert target.read_bytes() == data
    assert 0 < out["downloaded_bytes"] < len(data)
    # The earlier run's chunks read back for their CRC-64/NVME: combined
    # with this run's, the whole object's.
    assert out["verified_with"] == "crc64nvme"
    assert not state.exists()


def test_resume_after_ctrl_c(vmie_bin, emu_env, s3, control, tmp_path):
    import signal
    import time
    data = image(12, seed=11)
    put(s3, tmp_path, "i.raw", data)
    target = tmp_path / "i.raw"
    state = tmp_path / "i.raw.vmie-download"
    # 24 chunks, 8 at a time, 1.5 s each: the state is first saved (2 s)
    # while the second round is in flight.
    control("POST", "faults", {"operation": "GetObject", "count": 1000, "latency_ms": 1500})
    env = dict(emu_env, VMIE_DOWNLOAD_CHUNK_SIZE=str(MIB // 2))
    p = subprocess.Popen([vmie_bin, "download", f"s3://{BUCKET}/i.raw", str(target)], env=env,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 30
    while time.time() < deadline:
        try:
            if json.loads(state.read_text())["done"]:
                break
        except (OSError, ValueError, KeyError):
            pass
        time.sleep(0.05)
    p.send_signal(signal.SIGINT)
    _, err = p.communicate(timeout=30)
    assert p.returncode == 130, err
    assert "Sanitizer" not in err, err
    assert json.loads(state.read_text())["done"]
    control("DELETE", "faults")
    out = ok(*download(vmie_bin, emu_env, "i.raw", target, chunk=MIB // 2))
    assert 0 < out["downloaded_bytes"] < len(data)
    assert target.read_bytes() == data


def test_dropped_connections_are_retried(vmie_bin, emu_env, s3, control, tmp_path):
    data = image(6, seed=6)
    put(s3, tmp_path, "d.raw", data)
    control("POST", "faults", {"operation": "GetObject", "count": 2,
                               "reset_after_bytes": 100000, "direction": "response"})
    target = tmp_path / "d.raw"
    out = ok(*download(vmie_bin, emu_env, "d.raw", target, chunk=MIB))
    assert target.read_bytes() == data
    assert out["download_verified"] is True


def _settle(s3, key):
    """S3 keeps an object's checksum from when it stored it; the emulator
    works its CRC-64/NVME out at the first HeadObject that asks: ask before
    the bytes are damaged, as S3 would have."""
    s3("s3api", "head-object", "--bucket", BUCKET, "--key", key, "--checksum-mode", "ENABLED")


def _blob_of(emu_state, data):
    for root, _, files in os.walk(emu_state):
        for f in files:
            p = os.path.join(root, f)
            if os.path.getsize(p) == len(data) and open(p, "rb").read(4096) == data[:4096]:
                return p
    raise AssertionError("the object's blob was not found")


def test_damaged_object_detected(vmie_bin, emu_env, s3, tmp_path):
    data = image(5, seed=7)
    put(s3, tmp_path, "bad.raw", data)
    _settle(s3, "bad.raw")
    blob = _blob_of(tmp_path / "emu-state", data)
    with open(blob, "r+b") as f:  # bit rot under an unchanged ETag
        f.seek(len(data) // 2)
        b = f.read(1)
        f.seek(len(data) // 2)
        f.write(bytes([b[0] ^ 1]))
    target = tmp_path / "bad.raw"
    r, out = download(vmie_bin, emu_env, "bad.raw", target, chunk=MIB)
    assert r.returncode == 4, r.stderr
    assert "do not match" in r.stderr


def test_damaged_download_reruns_without_overwrite(vmie_bin, emu_env, s3, tmp_path):
    """The hint after a failed check says "run the download again": the
    target is ours (the state says so), so that run needs no --overwrite."""
    data = image(3, seed=17)
    put(s3, tmp_path, "rerun.raw", data)
    _settle(s3, "rerun.raw")
    blob = pathlib.Path(_blob_of(tmp_path / "emu-state", data))
    good = blob.read_bytes()
    blob.write_bytes(good[:100] + bytes([good[100] ^ 1]) + good[101:])
    target = tmp_path / "rerun.raw"
    r, out = download(vmie_bin, emu_env, "rerun.raw", target, chunk=MIB)
    assert r.returncode == 4 and "run the download again" in r.stderr, r.stderr
    blob.write_bytes(good)  # the object is whole again
    out = ok(*download(vmie_bin, emu_env, "rerun.raw", target, chunk=MIB))
    assert target.read_bytes() == data
    assert out["downloaded_bytes"] == len(data)
    assert out["download_verified"]


def _fail_half_way(vmie_bin, emu_env, control, key, target):
    """Six GETs go through, then S3 refuses: half a download on disk."""
    control("POST", "faults", {"operation": "GetObject", "count": 6})
    control("POST", "faults", {"operation": "GetObject", "count": 1000, "status": 403,
                               "code": "AccessDenied", "message": "Access Denied"})
    r, _ = download(vmie_bin, emu_env, key, target, chunk=MIB)
    assert r.returncode == 4, r.stderr
    control("DELETE", "faults")
    state = json.loads((target.parent / (target.name + ".vmie-download")).read_text())
    return [d[0] for d in state["done"]]


def test_resume_checks_the_file_not_the_state(vmie_bin, emu_env, s3, control, tmp_path):
    """An emptied target is not 'verified' from the state: what the earlier
    run wrote is read back, and what is gone is fetched again."""
    data = image(12, seed=21)
    put(s3, tmp_path, "t.raw", data)
    target = tmp_path / "t.raw"
    done = _fail_half_way(vmie_bin, emu_env, control, "t.raw", target)
    assert done
    os.truncate(target, 0)
    r, out = download(vmie_bin, emu_env, "t.raw", target, chunk=MIB)
    out = ok(r, out)
    assert "no longer match" in r.stderr
    assert target.read_bytes() == data
    # Every chunk that holds anything but zeros had to come again.
    refetched = sum(1 for i in done if data[i * MIB:(i + 1) * MIB].count(0) != MIB)
    assert out["downloaded_bytes"] >= len(data) - (len(done) - refetched) * MIB


def test_resume_refetches_only_damaged_chunks(vmie_bin, emu_env, s3, control, tmp_path):
    # Random bytes throughout: whichever chunks the first run finished
    # (the order of parallel GETs varies), each has bytes to damage.
    data = __import__("random").Random(22).randbytes(12 * MIB - 12345)
    put(s3, tmp_path, "d.raw", data)
    target = tmp_path / "d.raw"
    done = _fail_half_way(vmie_bin, emu_env, control, "d.raw", target)
    assert done
    victim = done[0]
    with open(target, "r+b") as f:  # one byte of a finished chunk changes
        f.seek(victim * MIB + 5)
        f.write(bytes([data[victim * MIB + 5] ^ 0xFF]))
    missing = len(data) - sum(min(MIB, len(data) - i * MIB) for i in done)
    r, out = download(vmie_bin, emu_env, "d.raw", target, chunk=MIB)
    out = ok(r, out)
    assert target.read_bytes() == data
    assert out["downloaded_bytes"] == missing + MIB, (out, missing)


def test_stale_state_for_another_etag_starts_over(vmie_bin, emu_env, s3, tmp_path):
    data = image(3, seed=8)
    put(s3, tmp_path, "s.raw", data)
    target = tmp_path / "s.raw"
    target.write_bytes(b"x" * 100)
    st = target.stat()
    (tmp_path / "s.raw.vmie-download").write_text(json.dumps({
        "version": 1, "bucket": BUCKET, "key": "s.raw", "etag": '"' + "0" * 32 + '"',
        "size": len(data), "chunk_size": MIB, "chunks": 3, "target_dev": st.st_dev,
        "target_ino": st.st_ino, "done": [[0, 0, None], [1, 0, None], [2, 0, None]]}))
    r, out = download(vmie_bin, emu_env, "s.raw", target, chunk=MIB)
    ok(r, out)
    assert "starting over" in r.stderr
    assert target.read_bytes() == data
    assert out["downloaded_bytes"] == len(data)


def test_existing_file_refused_without_overwrite(vmie_bin, emu_env, s3, tmp_path):
    data = image(2, seed=9)
    put(s3, tmp_path, "e.raw", data)
    target = tmp_path / "e.raw"
    target.write_bytes(b"precious")
    r, _ = download(vmie_bin, emu_env, "e.raw", target)
    assert r.returncode == 2, r.stderr
    assert "already exists" in r.stderr and "--overwrite" in r.stderr
    assert target.read_bytes() == b"precious"
    ok(*download(vmie_bin, emu_env, "e.raw", target, "--overwrite"))
    assert target.read_bytes() == data


def test_missing_key(vmie_bin, emu_env, s3, tmp_path):
    target = tmp_path / "none.raw"
    r, out = download(vmie_bin, emu_env, "no/such/key.raw", target)
    assert r.returncode == 3, r.stderr
    assert "no such object" in r.stderr
    assert not target.exists()


def test_bucket_in_another_region_is_followed(vmie_bin, emu_env, aws, tmp_path):
    """As `aws s3 cp` does: the bucket's region comes from S3's answer."""
    aws("--region", "eu-west-1", "s3api", "create-bucket", "--bucket", "vmie-dl-far",
        "--create-bucket-configuration", "LocationConstraint=eu-west-1")
    data = image(4)
    src = tmp_path / "far.bin"
    src.write_bytes(data)
    aws("--region", "eu-west-1", "s3api", "put-object", "--bucket", "vmie-dl-far", "--key",
        "far.raw", "--body", str(src))
    target = tmp_path / "far.raw"
    r = run(vmie_bin, ["download", "--json", "s3://vmie-dl-far/far.raw", str(target)], emu_env,
            timeout=120)
    assert r.returncode == 0, r.stderr
    assert "bucket vmie-dl-far is in eu-west-1: downloading from there" in r.stderr
    assert target.read_bytes() == data


@pytest.fixture
def loop_device(tmp_path):
    if os.geteuid() != 0 or not shutil.which("losetup"):
        pytest.skip("a loop device needs root and losetup")
    backing = tmp_path / "loop-backing"
    with open(backing, "wb") as f:
        f.truncate(12 * MIB)
    r = subprocess.run(["losetup", "--find", "--show", str(backing)], capture_output=True,
                       text=True)
    if r.returncode != 0:
        pytest.skip(f"losetup cannot make a loop device here: {r.stderr.strip()}")
    dev = r.stdout.strip()
    try:
        yield dev, backing
    finally:
        subprocess.run(["losetup", "--detach", dev], capture_output=True)


def test_block_device(vmie_bin, emu_env, s3, tmp_path, loop_device):
    dev, backing = loop_device
    data = image(9, seed=10)
    put(s3, tmp_path, "dev.raw", data)
    with open(dev, "r+b") as f:  # old contents that must not survive
        f.write(b"\xff" * (12 * MIB))
    out = ok(*download(vmie_bin, emu_env, "dev.raw", dev, chunk=MIB))
    assert out["zero_skipped"] == 0, "a device without --sparse is written in full"
    with open(dev, "rb") as f:
        assert f.read(len(data)) == data
    # --sparse on a zeroed device: zeros are not written.
    with open(dev, "r+b") as f:
        f.write(bytes(12 * MIB))
    out = ok(*download(vmie_bin, emu_env, "dev.raw", dev, "--sparse", chunk=MIB))
    assert out["zero_skipped"] > 0
    with open(dev, "rb") as f:
        assert f.read(len(data)) == data
    # Too small a device is refused.
    put(s3, tmp_path, "big.raw", bytes(13 * MIB))
    r, _ = download(vmie_bin, emu_env, "big.raw", dev)
    assert r.returncode == 2 and "smaller than the object" in r.stderr
