"""--upload-format vmdk (the default) end to end, with qemu-img as the
oracle: the streamOptimized VMDK vmie makes on the fly, from every source
kind and compression, passes `qemu-img check`, equals its source for
`qemu-img compare`, and `vmie inspect` of it agrees with the source; the
same input gives the same bytes; a 2 TiB disk with a few grains costs a
few grains.  The emulator imports the VMDK for real (decoded into the
snapshot: an export to RAW gives the source back byte for byte), fails a
damaged one with AWS's message, and exports a real streamOptimized VMDK.

Skipped, naming the package, without qemu-img."""
import json
import os
import shutil
import subprocess
import time

import pytest

import emu_s3_client as raw_s3
from conftest import EMU_ACCESS_KEY, EMU_SECRET_KEY, run
from images import MIB, PART_START, make_raw
from test_import import Server, sha256
from test_inspect import inspect_json, make_ova

BUCKET = "vmie-vmdk-test"
GRAIN = 64 * 1024
SIZE = 40 * MIB


@pytest.fixture(autouse=True)
def need_qemu_img():
    if not shutil.which("qemu-img"):
        pytest.skip("qemu-img not found: install qemu-utils (scripts/bootstrap.sh does)")


@pytest.fixture
def emulator_speed():
    return 900.0


@pytest.fixture
def emu_env(emu_env):
    return dict(emu_env, VMIE_POLL_SCALE="0.1")


def sh(*args):
    return subprocess.run([str(a) for a in args], check=True, capture_output=True,
                          text=True, timeout=300)


def result_of(r):
    assert r.returncode == 0, f"exit {r.returncode}\nstdout: {r.stdout}\nstderr: {r.stderr}"
    assert "Sanitizer" not in r.stderr and "runtime error:" not in r.stderr, r.stderr
    return json.loads(r.stdout)


def upload(vmie_bin, env, source, key, *extra):
    return result_of(run(vmie_bin, ["import", "--s3-bucket", BUCKET, "--source", str(source),
                                    "--s3-key", key, "--upload-only", "--json", *extra],
                         env, timeout=180))


def get_object(emulator, key):
    """(headers, body) of an object: a signed GET of our own (the AWS CLI
    takes seconds to start on a busy machine; test_import checks objects
    with it)."""
    signer = raw_s3.Signer(EMU_ACCESS_KEY, EMU_SECRET_KEY, "us-west-2")
    path = f"/{BUCKET}/{key}"
    headers = {"host": raw_s3.host_of(emulator)}
    signer.sign("GET", path, {}, headers, raw_s3.EMPTY)
    status, hdrs, body = raw_s3.request(emulator, "GET", path, headers)
    assert status == 200, (status, body[:300])
    return hdrs, body


def fetch(emulator, tmp_path, key):
    out = tmp_path / ("got-" + key.replace("/", "_"))
    out.write_bytes(get_object(emulator, key)[1])
    return out


def random_disk(path, size, seed):
    """A bootable-looking disk (images.make_raw) with random runs of data:
    noise, text, single bytes, some straddling grains, some at the end."""
    make_raw(path, size)
    rng = __import__("random").Random(seed)
    with open(path, "r+b") as f:
        for _ in range(rng.randint(20, 60)):
            off = rng.randrange(2 * MIB, size)
            n = min(size - off, rng.choice([1, 100, 4096, GRAIN - 7, GRAIN + 13, 300000]))
            kind = rng.randrange(3)
            data = (os.urandom(n) if kind == 0 else
                    (b"vmie streamOptimized " * (n // 21 + 1))[:n] if kind == 1 else
                    bytes([rng.randrange(1, 256)]) * n)
            f.seek(off)
            f.write(data)
        f.seek(size - 3)
        f.write(b"end")


# What sending the disk as a streamOptimized VMDK cures.
CURED = {"vmdk-not-stream-optimized", "raw-size-not-sector-multiple"}


def check_vmdk(vmie_bin, env, vmdk, source, source_fmt):
    """qemu-img finds the VMDK sound and equal to its source; vmie inspect
    sees the same disk in both."""
    sh("qemu-img", "check", "-q", vmdk)
    sh("qemu-img", "compare", "-q", "-f", source_fmt, "-F", "vmdk", source, vmdk)
    info = json.loads(sh("qemu-img", "info", "--output=json", vmdk).stdout)
    assert info["format"] == "vmdk"
    assert info["format-specific"]["data"]["create-type"] == "streamOptimized"
    _, (got, want) = inspect_json(vmie_bin, env, vmdk, source)
    assert got["format"] == "VMDK" and got["subformat"] == "streamOptimized", got
    assert got["virtual_size"] == (want["virtual_size"] + 511) // 512 * 512
    assert got["virtual_size"] == info["virtual-size"]
    assert got["partition_table"] == want["partition_table"]
    assert got["partitions"] == want["partitions"]
    left = {f["code"] for f in want["findings"] if f["severity"] == "error"} - CURED
    assert got["importable"] == (not left), (got, want)


@pytest.mark.parametrize("size,seed", [(SIZE, 1), (SIZE + 12345, 2), (33 * MIB + 1, 3),
                                       (5 * MIB + GRAIN // 2, 4)])
def test_random_sparse_disks(vmie_bin, emu_env, clean_env, emulator, tmp_path, size, seed):
    """Random patterns, sizes that are not a multiple of a grain (nor of
    a sector), tables full and partial."""
    disk = tmp_path / "disk.raw"
    random_disk(disk, size, seed)
    # A RAW file of part of a sector looks truncated to the preflight; the
    # VMDK pads the last sector with zeros.
    res = upload(vmie_bin, emu_env, disk, "d.vmdk", *(["--force"] if size % 512 else []))
    assert res["format"] == "VMDK" and res["disk_bytes"] == size
    assert res["uploaded_bytes"] < size
    check_vmdk(vmie_bin, clean_env, fetch(emulator, tmp_path, "d.vmdk"), disk, "raw")


@pytest.fixture(scope="module")
def kinds(tmp_path_factory):
    """The disk every kind is made from, and each kind: id -> path."""
    d = tmp_path_factory.mktemp("kinds")
    raw = d / "disk.raw"
    random_disk(raw, 16 * MIB + 512, 7)
    made = {"raw": raw}
    for sub in ["fixed", "dynamic"]:
        made[f"vhd-{sub}"] = d / f"{sub}.vhd"
        sh("qemu-img", "convert", "-f", "raw", "-O", "vpc", "-o", f"subformat={sub}",
           raw, made[f"vhd-{sub}"])
        made[f"vhdx-{sub}"] = d / f"{sub}.vhdx"
        sh("qemu-img", "convert", "-f", "raw", "-O", "vhdx", "-o", f"subformat={sub}",
           raw, made[f"vhdx-{sub}"])
    for sub in ["monolithicSparse", "monolithicFlat", "twoGbMaxExtentSparse",
                "streamOptimized"]:
        made[f"vmdk-{sub}"] = d / f"{sub}.vmdk"
        sh("qemu-img", "convert", "-f", "raw", "-O", "vmdk", "-o", f"subformat={sub}",
           raw, made[f"vmdk-{sub}"])
    ova_dir = d / "ova"
    ova_dir.mkdir()
    shutil.copyfile(made["vmdk-streamOptimized"], ova_dir / "vm-disk1.vmdk")
    made["ova"] = make_ova(ova_dir, "vm", [("file1", "vm-disk1.vmdk", raw.stat().st_size)],
                           ["vm-disk1.vmdk"])
    for tool, suffix in [("xz", "xz"), ("gzip", "gz"), ("zstd", "zst"), ("bzip2", "bz2")]:
        sh(tool, "-k", "-q", raw)
        made[f"raw.{suffix}"] = d / f"disk.raw.{suffix}"
    return made


# id, what is sent, its format for qemu-img (None: sent as it is)
KINDS = [
    ("raw", "VMDK", "raw"),
    ("raw.xz", "VMDK", "raw"),    # a local xz file states its size
    ("raw.gz", "RAW", None),      # gzip, bzip2, zstd do not: as it is
    ("raw.bz2", "RAW", None),
    ("raw.zst", "RAW", None),
    ("vhd-fixed", "VMDK", "vpc"),
    ("vhd-dynamic", "VMDK", "vpc"),
    ("vhdx-fixed", "VMDK", "vhdx"),
    ("vhdx-dynamic", "VMDK", "vhdx"),
    ("vmdk-monolithicSparse", "VMDK", "vmdk"),
    ("vmdk-monolithicFlat", "VMDK", "vmdk"),
    ("vmdk-twoGbMaxExtentSparse", "VMDK", "vmdk"),
    ("vmdk-streamOptimized", "VMDK", None),  # already what AWS takes
    ("ova", "OVA", None),
]


@pytest.mark.parametrize("kind,sent,qemu_fmt", KINDS)
def test_every_local_kind(vmie_bin, emu_env, clean_env, emulator, tmp_path, kinds, kind, sent,
                          qemu_fmt):
    src = kinds[kind]
    # A compressed file is compared with what it decodes to.
    ref = kinds["raw"] if kind.startswith("raw") else src
    res = upload(vmie_bin, emu_env, src, "k")
    assert res["format"] == sent, res
    got = fetch(emulator, tmp_path, "k")
    if qemu_fmt is None:
        assert sha256(got) == sha256(ref)
        return
    assert res["disk_bytes"] and res["uploaded_bytes"] < res["disk_bytes"]
    check_vmdk(vmie_bin, clean_env, got, ref, qemu_fmt)
    sh("qemu-img", "compare", "-q", "-f", "raw", "-F", "vmdk", kinds["raw"], got)


@pytest.mark.parametrize("name,sent", [("disk.raw", "VMDK"), ("disk.raw.xz", "RAW"),
                                       ("disk.raw.gz", "RAW")])
def test_over_http(vmie_bin, emu_env, clean_env, emulator, tmp_path, kinds, name, sent):
    """A URL with a Content-Length goes as a VMDK; a compressed one (whose
    decoded size a stream does not state) as RAW."""
    server = Server(str(kinds["raw"].parent))
    try:
        r = run(vmie_bin, ["import", "--s3-bucket", BUCKET, "--source",
                           f"{server.base}/files/{name}", "--upload-only", "--json"],
                emu_env, timeout=180)
    finally:
        server.stop()
    res = result_of(r)
    assert res["format"] == sent
    key = res["s3_url"].split("/", 3)[3]
    assert key == ("disk.vmdk" if sent == "VMDK" else "disk.raw")
    got = fetch(emulator, tmp_path, key)
    if sent == "VMDK":
        check_vmdk(vmie_bin, clean_env, got, kinds["raw"], "raw")
    else:
        assert sha256(got) == sha256(kinds["raw"])


def test_deterministic(vmie_bin, emu_env, emulator, tmp_path, kinds):
    """Same disk, same bytes: twice from the file, once over http."""
    a = upload(vmie_bin, emu_env, kinds["raw"], "a.vmdk")
    b = upload(vmie_bin, emu_env, kinds["raw"], "b.vmdk")
    server = Server(str(kinds["raw"].parent))
    try:
        c = upload(vmie_bin, emu_env, f"{server.base}/files/disk.raw", "c.vmdk")
    finally:
        server.stop()
    assert a["uploaded_bytes"] == b["uploaded_bytes"] == c["uploaded_bytes"]
    digests = {sha256(fetch(emulator, tmp_path, k)) for k in ("a.vmdk", "b.vmdk", "c.vmdk")}
    assert len(digests) == 1
    tags = {get_object(emulator, k)[0]["etag"] for k in ("a.vmdk", "b.vmdk", "c.vmdk")}
    assert len(tags) == 1  # the same parts


def test_two_tib_disk_with_a_few_grains(vmie_bin, emu_env, clean_env, emulator, tmp_path):
    """A sparse 2 TiB file: its holes are never read, its few grains are
    the upload; qemu-img maps exactly them and reads them back."""
    size = 2 << 40
    disk = tmp_path / "big.raw"
    make_raw(disk, size)
    grains = {0: None, PART_START // GRAIN: None}
    with open(disk, "r+b") as f:
        for off in (size // 2 + 5 * GRAIN, size - GRAIN):
            f.seek(off)
            f.write(os.urandom(GRAIN))
            grains[off // GRAIN] = None
    t0 = time.monotonic()
    res = upload(vmie_bin, emu_env, disk, "big.vmdk")
    took = time.monotonic() - t0
    assert res["disk_bytes"] == size
    assert res["uploaded_bytes"] < 2 * MIB, res  # the head, 4 grains, tables, directory
    got = fetch(emulator, tmp_path, "big.vmdk")
    sh("qemu-img", "check", "-q", got)
    # qemu-img map of 2 TiB walks 32 million grains (half a minute): the
    # neighbourhood of each grain is mapped instead; the upload's size
    # bounds what else could be there.
    for g in grains:
        start = max(0, g * GRAIN - MIB)
        extents = json.loads(sh("qemu-img", "map", "--output=json",
                                f"--start-offset={start}", f"--max-length={2 * MIB}",
                                got).stdout)
        data = {k for e in extents if e["data"]
                for k in range(e["start"] // GRAIN, -(-(e["start"] + e["length"]) // GRAIN))}
        assert data == {k for k in grains if start <= k * GRAIN < start + 2 * MIB}, extents
    for g in grains:
        out = tmp_path / f"g{g}"
        # qemu-img dd's count counts the skipped blocks too
        sh("qemu-img", "dd", "-f", "vmdk", "-O", "raw", f"bs={GRAIN}", f"skip={g}",
           f"count={g + 1}", f"if={got}", f"of={out}")
        with open(disk, "rb") as f:
            f.seek(g * GRAIN)
            assert out.read_bytes() == f.read(GRAIN), g
    _, (doc,) = inspect_json(vmie_bin, clean_env, got)
    assert doc["virtual_size"] == size and doc["partition_table"] == "mbr"
    print(f"2 TiB sparse disk uploaded in {took:.1f} s")


# --- the emulator imports and exports VMDK for real ---------------------------

def test_round_trip_vmdk_import_raw_export(vmie_bin, emu_env, emulator, tmp_path):
    """RAW in as a VMDK, decoded into the snapshot, exported as a VMDK
    (convert's default with --download), written back as RAW while it
    downloads: the same bytes."""
    disk = tmp_path / "disk.raw"
    random_disk(disk, SIZE + 4096, 11)
    back = tmp_path / "back.raw"
    res = result_of(run(vmie_bin, ["convert", "-b", BUCKET, "-s", str(disk), "--download",
                                   str(back), "--json"], emu_env, timeout=240))
    assert res["format"] == "VMDK" and res["s3_url"].endswith("/disk.vmdk")
    assert res["export_url"].endswith(".vmdk") and res["download_format"] == "raw"
    assert back.read_bytes() == disk.read_bytes()


def test_ova_imports_for_real(vmie_bin, emu_env, emulator, tmp_path, kinds):
    """An OVA goes as it is; its VMDK becomes the snapshot's bytes."""
    back = tmp_path / "back.raw"
    res = result_of(run(vmie_bin, ["convert", "-b", BUCKET, "-s", str(kinds["ova"]),
                                   "--download", str(back), "--json"], emu_env, timeout=240))
    assert res["format"] == "OVA"
    assert back.read_bytes() == kinds["raw"].read_bytes()


def test_export_vmdk_is_stream_optimized(vmie_bin, emu_env, clean_env, emulator, tmp_path, kinds):
    """ExportImage's VMDK is a stream-optimized ESX VMDK: VMware's layout
    (the directory at the end, in the footer), readable by qemu-img."""
    res = result_of(run(vmie_bin, ["convert", "-b", BUCKET, "-s", str(kinds["raw"]),
                                   "--export-format", "VMDK", "--json"], emu_env, timeout=240))
    key = res["export_url"].split("/", 3)[3]
    assert key.endswith(".vmdk")
    got = fetch(emulator, tmp_path, key)
    head = got.read_bytes()[:512]
    assert head[:4] == b"KDMV" and head[56:64] == b"\xff" * 8
    check_vmdk(vmie_bin, clean_env, got, kinds["raw"], "raw")


def test_damaged_vmdk_fails_the_task(vmie_bin, emu_env, control, tmp_path, kinds):
    """A grain that fails its checksum: vmie's checks do not inflate
    every grain, the import task fails as AWS's does."""
    bad = tmp_path / "bad.vmdk"
    data = bytearray(kinds["vmdk-streamOptimized"].read_bytes())
    # qemu-img's layout: the directory where the header says, the first
    # table there; its last grain is damaged (the preflight reads the
    # first ones, for the partition table).
    le = int.from_bytes
    gd = le(data[56:64], "little") * 512
    gt = le(data[gd:gd + 4], "little") * 512
    last = max(le(data[gt + 4 * i:gt + 4 * i + 4], "little") for i in range(512))
    assert last > le(data[64:72], "little")
    size = le(data[last * 512 + 8:last * 512 + 12], "little")
    data[last * 512 + 12 + size - 1] ^= 0xFF  # its Adler-32
    bad.write_bytes(bytes(data))
    r = run(vmie_bin, ["import", "-b", BUCKET, "-s", str(bad)], emu_env, timeout=180)
    assert r.returncode == 3, r.stderr
    assert "ClientError: Disk validation failed [Unsupported VMDK File Format]" in r.stderr
    assert "stream-optimized" in r.stderr  # the hint
    tasks = control("GET", "state")["ec2"]["import_tasks"]
    assert tasks.get("deleted"), tasks


def test_as_is_keeps_the_old_refusal(vmie_bin, emu_env, control, kinds):
    """--upload-format as-is: a monolithicSparse VMDK would go as it is,
    and AWS refuses those: the preflight does so first."""
    r = run(vmie_bin, ["import", "-b", BUCKET, "-s", str(kinds["vmdk-monolithicSparse"]),
                       "--upload-format", "as-is"], emu_env)
    assert r.returncode == 4, r.stderr
    assert "vmdk-not-stream-optimized" in r.stderr
    assert control("GET", "state")["s3"]["multipart_uploads_open"] == []


@pytest.mark.parametrize("emulator_args", [["--s3-bandwidth", "4"]])
def test_emulator_bandwidth_cap(vmie_bin, emu_env, tmp_path, emulator_args):
    """--s3-bandwidth 4: 10 MiB of incompressible disk cannot arrive in
    less than 2.5 s, whoever sends it (a floor, not a benchmark)."""
    disk = tmp_path / "noise.raw"
    make_raw(disk, 16 * MIB, 10 * MIB)
    t0 = time.monotonic()
    res = upload(vmie_bin, emu_env, disk, "n.vmdk", "--force")
    took = time.monotonic() - t0
    assert res["uploaded_bytes"] > 10 * MIB
    assert took >= res["uploaded_bytes"] / (4 * MIB) * 0.95, took
