"""A streamOptimized VMDK written as the RAW disk it holds while it
downloads (vmie download --download-format raw; export --export-format
VMDK --download; convert --download), with qemu-img as the oracle: its own
streamOptimized output, and the emulator's (VMware's layout, ExportImage's
kind), decode to the disk they were made from, byte for byte, the zeros
left as holes, every way S3 lets the bytes be checked; a damaged VMDK
fails, one that does not decode so is downloaded as it is and the run
says so; an interrupted download resumes.

Skipped, naming the package, without qemu-img."""
import json
import os
import random
import re
import shutil
import subprocess
import sys

import pytest

from conftest import ROOT, run
from images import MIB, make_raw
from test_download import (BUCKET, _blob_of, _settle, download, loop_device, ok,  # noqa: F401
                           put, put_multipart, raw_put, s3)  # (s3, loop_device: fixtures)

sys.path.insert(0, str(ROOT))
from emulator import vmdk_stream  # noqa: E402

GRAIN = 64 * 1024


@pytest.fixture(autouse=True)
def need_qemu_img():
    if not shutil.which("qemu-img"):
        pytest.skip("qemu-img not found: install qemu-utils (scripts/bootstrap.sh does)")


def sh(*args):
    return subprocess.run([str(a) for a in args], check=True, capture_output=True,
                          text=True, timeout=300)


def sparse_disk(path, size, seed, runs=None):
    """A sparse file of `size` bytes with random runs of data (noise,
    text, single bytes), some straddling grains, one at the very end."""
    rng = random.Random(seed)
    with open(path, "wb") as f:
        f.truncate(size)
        for _ in range(rng.randint(10, 40) if runs is None else runs):
            off = rng.randrange(0, size)
            n = min(size - off, rng.choice([1, 512, 4096, GRAIN - 7, GRAIN + 13, 300000]))
            kind = rng.randrange(3)
            data = (os.urandom(n) if kind == 0 else
                    (b"vmie download " * (n // 14 + 1))[:n] if kind == 1 else
                    bytes([rng.randrange(1, 256)]) * n)
            f.seek(off)
            f.write(data)
        if runs is None and size:
            f.seek(size - 3)
            f.write(b"end")
    return path


def noisy_disk(path, size, seed, noise_mib):
    """A sparse disk with noise_mib MiB of random data (that does not
    compress) in runs of 1 MiB or less, at random places."""
    sparse_disk(path, size, seed)
    rng = random.Random(seed)
    with open(path, "r+b") as f:
        for _ in range(noise_mib):
            f.seek(rng.randrange(0, size - MIB) // 512 * 512 + rng.choice([0, 4096, 777]))
            f.write(rng.randbytes(rng.choice([MIB, MIB - GRAIN, MIB // 3])))
    return path


def qemu_vmdk(raw, out):
    sh("qemu-img", "convert", "-f", "raw", "-O", "vmdk", "-o", "subformat=streamOptimized",
       raw, out)
    return out


def padded(path):
    """The disk a VMDK holds: the file to whole sectors."""
    data = path.read_bytes()
    return data + bytes(-len(data) % 512)


def allocated(path):
    return path.stat().st_blocks * 512


def to_raw(vmie_bin, env, key, target, *extra, chunk=None):
    return download(vmie_bin, env, key, target, "--download-format", "raw", *extra,
                    chunk=chunk)


def check_decoded(out, target, source, vmdk, chunk=None):
    """The target is the source's disk, qemu-img agrees, its zeros are
    holes, and the summary says what happened.  What is fetched is the
    object, plus its ends, directory and tables read first, plus at each
    chunk's end the rest of the grain that starts in it."""
    want = padded(source)
    assert target.read_bytes() == want
    sh("qemu-img", "compare", "-q", "-f", "raw", "-F", "vmdk", target, vmdk)
    assert out["download_format"] == "raw"
    assert out["download_size"] == len(want)
    size = vmdk.stat().st_size
    chunks = -(-size // chunk) if chunk else 1
    assert size <= out["downloaded_bytes"] <= size * 1.05 + chunks * 2 * GRAIN + 64 * 1024
    assert out["download_verified"] is True
    assert oct(target.stat().st_mode & 0o777) == "0o600"
    assert not (target.parent / (target.name + ".vmie-download")).exists()
    # What the disk holds is allocated (to the filesystem's block), not more.
    assert allocated(target) <= allocated(source) + 64 * 1024


@pytest.mark.parametrize("size,seed,chunk", [
    (24 * MIB, 1, MIB),               # many chunks, grains across their ends
    (24 * MIB + 12345, 2, 777777),    # not a multiple of a grain nor a sector
    (33 * MIB + GRAIN // 2, 3, None),  # one GET (below the threshold)
    (5 * MIB + 512, 4, 300000),        # chunks smaller than some records
])
def test_qemu_img_stream_optimized(vmie_bin, emu_env, s3, tmp_path, size, seed, chunk):
    src = sparse_disk(tmp_path / "disk.raw", size, seed)
    vmdk = qemu_vmdk(src, tmp_path / "disk.vmdk")
    put(s3, tmp_path, "q.vmdk", vmdk.read_bytes())
    target = tmp_path / "out.raw"
    out = ok(*to_raw(vmie_bin, emu_env, "q.vmdk", target, chunk=chunk))
    check_decoded(out, target, src, vmdk, chunk)
    assert allocated(target) < size // 2, "the disk's zeros should be holes"
    assert out["verified_with"] == "crc64nvme"


@pytest.mark.parametrize("chunk", [MIB, None])
def test_vmware_layout_export_kind(vmie_bin, emu_env, s3, tmp_path, chunk):
    """ExportImage's kind: the directory at the end, found through the
    footer; tables after their grains (the emulator writes it so)."""
    src = sparse_disk(tmp_path / "disk.raw", 70 * MIB + 4096, 5)  # 2 tables and a bit
    vmdk = vmdk_stream.write(str(src), str(tmp_path / "disk.vmdk"))
    vmdk = tmp_path / "disk.vmdk"
    assert vmdk.read_bytes()[56:64] == b"\xff" * 8
    put(s3, tmp_path, "e.vmdk", vmdk.read_bytes())
    target = tmp_path / "out.raw"
    out = ok(*to_raw(vmie_bin, emu_env, "e.vmdk", target, chunk=chunk))
    check_decoded(out, target, src, vmdk, chunk)


def test_empty_disk(vmie_bin, emu_env, s3, tmp_path):
    src = tmp_path / "empty.raw"
    with open(src, "wb") as f:
        f.truncate(8 * MIB)
    vmdk = qemu_vmdk(src, tmp_path / "empty.vmdk")
    put(s3, tmp_path, "z.vmdk", vmdk.read_bytes())
    target = tmp_path / "out.raw"
    out = ok(*to_raw(vmie_bin, emu_env, "z.vmdk", target))
    check_decoded(out, target, src, vmdk)
    assert allocated(target) == 0
    assert out["zero_skipped"] == 8 * MIB


def test_many_tables_few_grains(vmie_bin, emu_env, s3, tmp_path):
    """A 3 GiB disk (more than one window of 64 tables) holding a few
    grains: a few KiB travel, the rest stays holes."""
    src = sparse_disk(tmp_path / "big.raw", 3 << 30, 6, runs=12)
    vmdk = qemu_vmdk(src, tmp_path / "big.vmdk")
    put(s3, tmp_path, "b.vmdk", vmdk.read_bytes())
    target = tmp_path / "out.raw"
    out = ok(*to_raw(vmie_bin, emu_env, "b.vmdk", target, chunk=MIB))
    assert out["download_size"] == 3 << 30
    size = vmdk.stat().st_size
    # The object once, its tables twice (first to map the grains).
    assert size <= out["downloaded_bytes"] <= size + 96 * 2048 + 64 * 1024 < 2 * MIB
    sh("qemu-img", "compare", "-q", "-f", "raw", "-F", "raw", src, target)
    assert allocated(target) <= allocated(src) + 64 * 1024


def test_checks_legacy_etags_and_composite_crc(vmie_bin, emu_env, s3, control, emulator,
                                               tmp_path):
    """A multipart VMDK: each chunk is a whole part, so its MD5 (a legacy
    object's multipart ETag) or its part CRC32C (composite) is checked
    without reading anything back."""
    src = noisy_disk(tmp_path / "disk.raw", 40 * MIB, 7, 16)
    vmdk = qemu_vmdk(src, tmp_path / "disk.vmdk")
    data = vmdk.read_bytes()
    assert len(data) > 11 * MIB, "at least three parts"
    put_multipart(s3, tmp_path, "cc.vmdk", data, 5 * MIB, crc32c=True, emulator=emulator)
    target = tmp_path / "cc.raw"
    out = ok(*to_raw(vmie_bin, emu_env, "cc.vmdk", target, chunk=3 * MIB))
    check_decoded(out, target, src, vmdk, 3 * MIB)
    assert out["verified_with"] == "crc32c"
    control("POST", "s3/legacy-objects", {"enabled": True})
    put_multipart(s3, tmp_path, "mp.vmdk", data, 5 * MIB)
    target = tmp_path / "mp.raw"
    out = ok(*to_raw(vmie_bin, emu_env, "mp.vmdk", target))
    check_decoded(out, target, src, vmdk, 5 * MIB)
    assert out["verified_with"] == "etag-multipart-md5"
    raw_put(emulator, "c.vmdk", data)
    target = tmp_path / "c.raw"
    out = ok(*to_raw(vmie_bin, emu_env, "c.vmdk", target, chunk=MIB))
    assert out["verified_with"] == "crc32c"
    check_decoded(out, target, src, vmdk, MIB)


def test_resume_after_failure(vmie_bin, emu_env, s3, control, tmp_path):
    src = noisy_disk(tmp_path / "disk.raw", 40 * MIB, 8, 12)
    vmdk = qemu_vmdk(src, tmp_path / "disk.vmdk")
    put(s3, tmp_path, "r.vmdk", vmdk.read_bytes())
    target = tmp_path / "out.raw"
    state = tmp_path / "out.raw.vmie-download"
    # The two ends, the directory, a few tables and chunks, then S3
    # refuses: part of the disk is written.
    # (The refusals come late: the chunks under way finish first.)
    control("POST", "faults", {"operation": "GetObject", "count": 9})
    control("POST", "faults", {"operation": "GetObject", "count": 1000, "status": 403,
                               "code": "AccessDenied", "message": "Access Denied",
                               "latency_ms": 1000})
    r, _ = to_raw(vmie_bin, emu_env, "r.vmdk", target, chunk=MIB // 2)
    assert r.returncode == 4, r.stderr
    saved = json.loads(state.read_text())
    assert saved["mode"] == "vmdk-to-raw" and saved["done"], saved
    control("DELETE", "faults")
    r, out = to_raw(vmie_bin, emu_env, "r.vmdk", target, chunk=MIB // 2)
    ok(r, out)
    # The chunks the state names are not fetched again.
    m = re.search(r"(\d+) resumed from an earlier run", r.stderr)
    assert m and int(m.group(1)) == len(saved["done"]) * (MIB // 2), r.stderr
    assert out["downloaded_bytes"] < vmdk.stat().st_size
    assert target.read_bytes() == padded(src)
    assert out["download_verified"] is True and out["verified_with"] == "crc64nvme"
    assert not state.exists()


def test_resume_after_ctrl_c(vmie_bin, emu_env, s3, control, tmp_path):
    import signal
    import time
    src = noisy_disk(tmp_path / "disk.raw", 24 * MIB, 17, 8)
    vmdk = qemu_vmdk(src, tmp_path / "disk.vmdk")
    put(s3, tmp_path, "i.vmdk", vmdk.read_bytes())
    target = tmp_path / "out.raw"
    state = tmp_path / "out.raw.vmie-download"
    control("POST", "faults", {"operation": "GetObject", "count": 1000, "latency_ms": 700})
    env = dict(emu_env, VMIE_DOWNLOAD_CHUNK_SIZE=str(MIB // 2))
    p = subprocess.Popen([vmie_bin, "download", "--download-format", "raw",
                          f"s3://{BUCKET}/i.vmdk", str(target)], env=env,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 60
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
    control("DELETE", "faults")
    r, out = to_raw(vmie_bin, emu_env, "i.vmdk", target, chunk=MIB // 2)
    ok(r, out)
    assert "resumed from an earlier run" in r.stderr, r.stderr
    assert target.read_bytes() == padded(src)
    assert out["download_verified"] is True


def test_resume_rechecks_what_was_written(vmie_bin, emu_env, s3, control, tmp_path):
    """The disk bytes an earlier run wrote are read back: damaged ones
    are fetched and decoded again."""
    src = noisy_disk(tmp_path / "disk.raw", 40 * MIB, 9, 12)
    vmdk = qemu_vmdk(src, tmp_path / "disk.vmdk")
    put(s3, tmp_path, "d.vmdk", vmdk.read_bytes())
    target = tmp_path / "out.raw"
    control("POST", "faults", {"operation": "GetObject", "count": 12})
    control("POST", "faults", {"operation": "GetObject", "count": 1000, "status": 403,
                               "code": "AccessDenied", "message": "Access Denied",
                               "latency_ms": 1000})
    r, _ = to_raw(vmie_bin, emu_env, "d.vmdk", target, chunk=MIB // 2)
    assert r.returncode == 4, r.stderr
    control("DELETE", "faults")
    # Scribble over every MiB the earlier run wrote data into.
    with open(target, "r+b") as f:
        off = 0
        size = os.path.getsize(target)
        while True:
            try:
                off = os.lseek(f.fileno(), off, os.SEEK_DATA)
            except OSError:
                break
            f.seek(off)
            f.write(b"\xAA" * 100)
            off = (off // MIB + 1) * MIB
            if off >= size:
                break
    out = ok(*to_raw(vmie_bin, emu_env, "d.vmdk", target, chunk=MIB // 2))
    assert target.read_bytes() == padded(src)
    assert out["download_verified"] is True


def test_not_stream_optimized_is_downloaded_as_it_is(vmie_bin, emu_env, s3, tmp_path):
    src = sparse_disk(tmp_path / "disk.raw", 4 * MIB, 10)
    vmdk = tmp_path / "sparse.vmdk"
    sh("qemu-img", "convert", "-f", "raw", "-O", "vmdk", "-o", "subformat=monolithicSparse",
       src, vmdk)
    put(s3, tmp_path, "m.vmdk", vmdk.read_bytes())
    target = tmp_path / "out.vmdk"
    r, out = to_raw(vmie_bin, emu_env, "m.vmdk", target)
    ok(r, out)
    assert target.read_bytes() == vmdk.read_bytes()
    assert out["download_format"] == "as-is"
    assert "downloading it as it is" in r.stderr and "qemu-img convert" in r.stderr


def test_truncated_vmdk_is_downloaded_as_it_is(vmie_bin, emu_env, s3, tmp_path):
    """No footer, no end-of-stream marker: not decodable while it
    downloads, so the object comes as it is, and the run says why."""
    src = sparse_disk(tmp_path / "disk.raw", 6 * MIB, 11)
    vmdk = vmdk_stream.write(str(src), str(tmp_path / "disk.vmdk"))
    data = open(vmdk, "rb").read()
    cut = data[:len(data) - 1536 - 4096]
    put(s3, tmp_path, "t.vmdk", cut)
    target = tmp_path / "out.vmdk"
    r, out = to_raw(vmie_bin, emu_env, "t.vmdk", target)
    ok(r, out)
    assert target.read_bytes() == cut
    assert out["download_format"] == "as-is"
    assert "downloading it as it is" in r.stderr


def test_damaged_grain_fails(vmie_bin, emu_env, s3, tmp_path):
    """A grain that does not inflate, under a checksum that matches (S3
    holds it so): the run fails, saying what and what to do."""
    src = sparse_disk(tmp_path / "disk.raw", 6 * MIB, 12, runs=30)
    vmdk = qemu_vmdk(src, tmp_path / "disk.vmdk")
    data = bytearray(vmdk.read_bytes())
    le = int.from_bytes
    gd = le(data[56:64], "little") * 512
    gt = le(data[gd:gd + 4], "little") * 512
    first = min(x for x in (le(data[gt + 4 * i:gt + 4 * i + 4], "little") for i in range(512))
                if x)
    n = le(data[first * 512 + 8:first * 512 + 12], "little")
    data[first * 512 + 12 + n - 1] ^= 0xFF  # its Adler-32
    put(s3, tmp_path, "bad.vmdk", bytes(data))
    target = tmp_path / "out.raw"
    r, out = to_raw(vmie_bin, emu_env, "bad.vmdk", target)
    assert r.returncode == 4, r.stderr
    assert "damaged VMDK" in r.stderr and "qemu-img check" in r.stderr


def test_bit_rot_under_the_checksum_fails(vmie_bin, emu_env, s3, tmp_path):
    """The object changed after S3 stored its checksum: the check fails
    and the hint says to run it again."""
    src = sparse_disk(tmp_path / "disk.raw", 6 * MIB, 13, runs=30)
    vmdk = qemu_vmdk(src, tmp_path / "disk.vmdk")
    data = vmdk.read_bytes()
    put(s3, tmp_path, "rot.vmdk", data)
    _settle(s3, "rot.vmdk")
    blob = _blob_of(tmp_path / "emu-state", data)
    with open(blob, "r+b") as f:  # in the descriptor: still decodes
        f.seek(600)
        b = f.read(1)
        f.seek(600)
        f.write(bytes([b[0] ^ 1]))
    r, _ = to_raw(vmie_bin, emu_env, "rot.vmdk", tmp_path / "out.raw", chunk=MIB)
    assert r.returncode == 4, r.stderr
    assert "do not match" in r.stderr or "differ" in r.stderr, r.stderr


def test_as_is_is_the_default_of_vmie_download(vmie_bin, emu_env, s3, tmp_path):
    src = sparse_disk(tmp_path / "disk.raw", 4 * MIB, 14)
    vmdk = qemu_vmdk(src, tmp_path / "disk.vmdk")
    put(s3, tmp_path, "a.vmdk", vmdk.read_bytes())
    target = tmp_path / "a.vmdk"
    out = ok(*download(vmie_bin, emu_env, "a.vmdk", target))
    assert target.read_bytes() == vmdk.read_bytes()
    assert out["download_format"] == "as-is"


def test_bad_download_format(vmie_bin, emu_env, tmp_path):
    r = run(vmie_bin, ["download", "--download-format", "qcow2", f"s3://{BUCKET}/x",
                       str(tmp_path / "x")], emu_env)
    assert r.returncode == 2, r.stderr
    assert "--download-format 'qcow2' is not valid" in r.stderr


def test_block_device(vmie_bin, emu_env, s3, tmp_path, loop_device):
    """A device is written in full: the grains, and zeros where the VMDK
    has none (old contents must not survive); with --sparse the zeros
    are left to a zeroed device; a device smaller than the disk (not the
    VMDK) is refused."""
    dev, _ = loop_device
    src = noisy_disk(tmp_path / "disk.raw", 10 * MIB + 512, 15, 3)
    vmdk = qemu_vmdk(src, tmp_path / "disk.vmdk")
    put(s3, tmp_path, "dev.vmdk", vmdk.read_bytes())
    want = padded(src)
    with open(dev, "r+b") as f:
        f.write(b"\xff" * (12 * MIB))
    out = ok(*to_raw(vmie_bin, emu_env, "dev.vmdk", dev, chunk=MIB // 2))
    assert out["zero_skipped"] == 0, "a device without --sparse is written in full"
    with open(dev, "rb") as f:
        assert f.read(len(want)) == want
    with open(dev, "r+b") as f:
        f.write(bytes(12 * MIB))
    out = ok(*to_raw(vmie_bin, emu_env, "dev.vmdk", dev, "--sparse", chunk=MIB // 2))
    assert out["zero_skipped"] > 4 * MIB
    with open(dev, "rb") as f:
        assert f.read(len(want)) == want
    big = sparse_disk(tmp_path / "big.raw", 13 * MIB, 16)
    put(s3, tmp_path, "big.vmdk", qemu_vmdk(big, tmp_path / "big.vmdk").read_bytes())
    r, _ = to_raw(vmie_bin, emu_env, "big.vmdk", dev)
    assert r.returncode == 2 and "smaller than the disk the VMDK holds" in r.stderr, r.stderr


# --- export and convert, against the emulator's VM Import/Export -------------

EXPORT_SPEED = 900.0


@pytest.fixture
def emulator_speed():
    return EXPORT_SPEED


@pytest.fixture
def emu_env(emu_env):
    return dict(emu_env, VMIE_POLL_SCALE="0.1")


def result_of(r):
    assert r.returncode == 0, f"exit {r.returncode}\nstdout: {r.stdout}\nstderr: {r.stderr}"
    assert "Sanitizer" not in r.stderr and "runtime error:" not in r.stderr, r.stderr
    return json.loads(r.stdout)


def linux_disk(path, size, seed):
    make_raw(path, size)
    rng = random.Random(seed)
    with open(path, "r+b") as f:
        for _ in range(30):
            off = rng.randrange(2 * MIB, size - 4096)
            f.seek(off)
            f.write(os.urandom(rng.choice([512, 4096, GRAIN + 13])))
    return path


def test_export_vmdk_download_round_trip(vmie_bin, emu_env, control, tmp_path):
    """RAW in as it is, exported as a VMDK, written back as RAW: the
    object is a VMDK, the file the disk, the VMDK smaller than the disk."""
    disk = linux_disk(tmp_path / "disk.raw", 24 * MIB, 20)
    res = result_of(run(vmie_bin, ["import", "-b", BUCKET, "-s", str(disk), "--json",
                                   "--upload-format", "as-is"], emu_env, timeout=180))
    back = tmp_path / "back.raw"
    out = result_of(run(vmie_bin, ["export", "-b", BUCKET, "-a", res["ami_id"], "--json",
                                   "--export-format", "VMDK", "--download", str(back)],
                        emu_env, timeout=180))
    assert out["export_url"].endswith(".vmdk")
    assert out["download_format"] == "raw" and out["download_verified"] is True
    assert out["downloaded_bytes"] < 24 * MIB // 2
    assert back.read_bytes() == disk.read_bytes()
    assert allocated(back) < 24 * MIB // 2


@pytest.mark.parametrize("upload_format", [None, "as-is"])
def test_convert_sanbootable_download_round_trip(vmie_bin, emu_env, control, tmp_path,
                                                 upload_format):
    """convert --install-sanbootable --download X.raw: RAW sent as a VMDK
    (or as it is), the export a VMDK written back as RAW: what the
    emulator holds for the new AMI's snapshot, byte for byte."""
    disk = linux_disk(tmp_path / "disk.raw", 24 * MIB, 21)
    back = tmp_path / "back.raw"
    extra = ["--upload-format", upload_format] if upload_format else []
    res = result_of(run(vmie_bin, ["convert", "-b", BUCKET, "-s", str(disk),
                                   "--install-sanbootable", "--download", str(back),
                                   "--json", *extra], emu_env, timeout=240))
    assert res["export_url"].endswith(".vmdk"), res
    assert res["download_format"] == "raw"
    assert res["download_size"] == 24 * MIB
    assert back.read_bytes() == disk.read_bytes()
    assert allocated(back) < 24 * MIB // 2


def test_convert_download_as_is_exports_raw(vmie_bin, emu_env, control, tmp_path):
    disk = linux_disk(tmp_path / "disk.raw", 16 * MIB, 22)
    back = tmp_path / "back.raw"
    res = result_of(run(vmie_bin, ["convert", "-b", BUCKET, "-s", str(disk), "--download",
                                   str(back), "--download-format", "as-is", "--json"],
                        emu_env, timeout=240))
    assert res["export_url"].endswith(".raw")
    assert res["download_format"] == "as-is"
    assert back.read_bytes() == disk.read_bytes()
