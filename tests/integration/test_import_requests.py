"""What vmie import asks ImportImage for, checked before AWS would refuse
it (issue 12): a JSON container's Url, the boot mode against the disk's
partition table, the tag limit."""
import gzip
import json
import struct
import uuid
import zlib

import pytest

from conftest import run
from images import MIB, make_raw

BUCKET = "vmie-requests-test"
SIZE = 16 * MIB
ESP = "C12A7328-F81F-11D2-BA4B-00A0C93EC93B"
LINUX = "0FC63DAF-8483-4772-8E79-3D69D8477DE4"


@pytest.fixture
def emulator_speed():
    return 900.0


@pytest.fixture
def emu_env(emu_env):
    return dict(emu_env, VMIE_POLL_SCALE="0.1")


def vmie_import(vmie_bin, env, *args, timeout=120):
    return run(vmie_bin, ["import", "--s3-bucket", BUCKET, *args], env, timeout=timeout)


def make_gpt(path, size, parts):
    """A GPT disk (protective MBR, primary header and entries, backup at
    the end) with parts [(type GUID, first LBA, last LBA)]; a Linux
    partition gets an ext4 superblock so the OS probe sees Linux."""
    sectors = size // 512
    entries = bytearray(128 * 128)
    for i, (guid, first, last) in enumerate(parts):
        entries[i * 128:i * 128 + 56] = (uuid.UUID(guid).bytes_le + uuid.uuid4().bytes_le +
                                         struct.pack("<QQQ", first, last, 0))
    ecrc = zlib.crc32(entries)

    def header(lba, alt, entries_lba):
        h = bytearray(struct.pack("<8sIIIIQQQQ16sQIII", b"EFI PART", 0x10000, 92, 0, 0,
                                  lba, alt, 34, sectors - 34, uuid.uuid4().bytes_le,
                                  entries_lba, 128, 128, ecrc))
        struct.pack_into("<I", h, 16, zlib.crc32(h[:92]))
        return bytes(h)

    with open(path, "wb") as f:
        f.truncate(size)
        mbr = bytearray(512)
        mbr[446:462] = struct.pack("<B3sB3sII", 0, b"\0\x02\0", 0xEE, b"\xff\xff\xff", 1,
                                   min(sectors - 1, 0xFFFFFFFF))
        mbr[510:512] = b"\x55\xaa"
        f.write(mbr)
        f.write(header(1, sectors - 1, 2))
        f.write(entries)
        f.seek((sectors - 33) * 512)
        f.write(entries)
        f.seek((sectors - 1) * 512)
        f.write(header(sectors - 1, 1, sectors - 33))
        for guid, first, _last in parts:
            if guid == LINUX:
                f.seek(first * 512 + 1024 + 56)
                f.write(struct.pack("<H", 0xEF53))
                f.seek(first * 512 + 1024 + 0x60)
                f.write(struct.pack("<I", 0x40))
            elif guid == ESP:
                f.seek(first * 512 + 54)
                f.write(b"FAT16   ")
                f.seek(first * 512 + 510)
                f.write(b"\x55\xaa")


@pytest.fixture
def mbr_disk(tmp_path):
    p = tmp_path / "mbr.raw"
    make_raw(p, SIZE, MIB)
    return p


@pytest.fixture
def uefi_disk(tmp_path):
    """GPT with an ESP and a Linux root, no BIOS boot partition."""
    p = tmp_path / "uefi.raw"
    make_gpt(p, SIZE, [(ESP, 2048, 4095), (LINUX, 4096, SIZE // 512 - 34)])
    return p


def state(control):
    return control("GET", "state")


def import_tasks(control):
    return sum(len(v) for v in state(control)["ec2"]["import_tasks"].values())


# --- defect 1: a JSON container's Url -----------------------------------------

def test_json_url_container_is_sent(vmie_bin, emu_env, aws, control, mbr_disk, tmp_path):
    """{"Format": "raw", "Url": "s3://B/K"}: ImportImage gets the Url (it
    used to go out with neither Url nor UserBucket: MissingParameter)."""
    aws("s3api", "create-bucket", "--bucket", BUCKET,
        "--create-bucket-configuration", "LocationConstraint=us-west-2")
    aws("s3api", "put-object", "--bucket", BUCKET, "--key", "disks/boot.raw",
        "--body", str(mbr_disk))
    spec = tmp_path / "disks.json"
    url = f"s3://{BUCKET}/disks/boot.raw"
    spec.write_text(json.dumps([{"Format": "raw", "Url": url, "Description": "boot"}]))
    r = vmie_import(vmie_bin, emu_env, "--source", str(spec), "--json")
    assert r.returncode == 0, r.stderr
    res = json.loads(r.stdout)
    assert res["ami_id"].startswith("ami-")
    assert res["s3_url"] == url
    task = aws("ec2", "describe-import-image-tasks",
               "--import-task-ids", res["import_task_id"])["ImportImageTasks"][0]
    detail = task["SnapshotDetails"][0]
    assert detail["Url"] == url
    assert detail["UserBucket"] == {"S3Bucket": BUCKET, "S3Key": "disks/boot.raw"}


def test_json_url_container_missing_object(vmie_bin, emu_env, aws, control, tmp_path):
    """An s3:// Url is checked with HeadObject like a UserBucket."""
    aws("s3api", "create-bucket", "--bucket", BUCKET,
        "--create-bucket-configuration", "LocationConstraint=us-west-2")
    spec = tmp_path / "disks.json"
    spec.write_text(json.dumps([{"Format": "raw", "Url": f"s3://{BUCKET}/nowhere.raw"}]))
    r = vmie_import(vmie_bin, emu_env, "--source", str(spec))
    assert r.returncode == 4, r.stderr
    assert f"s3://{BUCKET}/nowhere.raw does not exist" in r.stderr
    assert import_tasks(control) == 0


@pytest.mark.parametrize("container,fragment", [
    ({"Format": "raw", "Url": "s3://other-bucket/k.raw"}, "is not in the --s3-bucket"),
    ({"Format": "raw", "Url": "ftp://h/k.raw"}, "is not an s3:// or https:// URL"),
    ({"Format": "raw", "Url": f"s3://{BUCKET}/"}, "names no object"),
    ({"Format": "raw", "Url": f"s3://{BUCKET}/a", "UserBucket": {
        "S3Bucket": BUCKET, "S3Key": "a"}}, "has both UserBucket and Url"),
])
def test_json_url_container_checked(vmie_bin, emu_env, tmp_path, container, fragment):
    spec = tmp_path / "disks.json"
    spec.write_text(json.dumps([container]))
    r = vmie_import(vmie_bin, emu_env, "--source", str(spec))
    assert r.returncode == 4, r.stderr
    assert fragment in r.stderr


# --- defect 2: the boot mode ------------------------------------------------------

def test_uefi_preferred_refused_before_anything(vmie_bin, emu_env, control, mbr_disk):
    r = vmie_import(vmie_bin, emu_env, "--source", str(mbr_disk), "--boot-mode",
                    "uefi-preferred")
    assert r.returncode == 2, r.stderr
    assert "uefi-preferred is not supported for importing images" in r.stderr
    assert state(control)["s3"]["objects"] == 0


def test_uefi_on_a_disk_without_esp_is_a_preflight_error(vmie_bin, emu_env, control,
                                                         mbr_disk):
    r = vmie_import(vmie_bin, emu_env, "--source", str(mbr_disk), "--boot-mode", "uefi")
    assert r.returncode == 4, r.stderr
    assert "would not import: uefi-without-esp" in r.stderr
    assert "no EFI system partition" in r.stderr
    assert state(control)["s3"]["objects"] == 0
    # --force overrides it, as every preflight finding.
    r = vmie_import(vmie_bin, emu_env, "--source", str(mbr_disk), "--boot-mode", "uefi",
                    "--force", "--upload-only")
    assert r.returncode == 0, r.stderr
    assert "--force: going on despite 1 preflight error" in r.stderr


def test_uefi_on_a_uefi_disk_passes(vmie_bin, emu_env, uefi_disk):
    r = vmie_import(vmie_bin, emu_env, "--source", str(uefi_disk), "--boot-mode", "uefi",
                    "--upload-only")
    assert r.returncode == 0, r.stderr
    assert "uefi-only" not in r.stderr and "EFI system partition" not in r.stderr


def test_legacy_bios_on_a_uefi_only_disk_is_a_warning(vmie_bin, emu_env, uefi_disk):
    r = vmie_import(vmie_bin, emu_env, "--source", str(uefi_disk), "--boot-mode",
                    "legacy-bios", "--upload-only")
    assert r.returncode == 0, r.stderr
    assert "legacy-bios-uefi-disk" in r.stderr
    assert "vmie: warning:" in r.stderr


def test_uefi_checked_on_the_stream(vmie_bin, emu_env, control, mbr_disk, tmp_path):
    """A compressed source is checked as it streams: the head holds the
    MBR, so the boot mode is refused after the first part, nothing left."""
    gz = tmp_path / "mbr.raw.gz"
    gz.write_bytes(gzip.compress(mbr_disk.read_bytes(), 1))
    r = vmie_import(vmie_bin, emu_env, "--source", str(gz), "--boot-mode", "uefi")
    assert r.returncode == 4, r.stderr
    assert "no EFI system partition" in r.stderr
    st = state(control)
    assert st["s3"]["multipart_uploads_open"] == []
    assert st["s3"]["objects"] == 0


def test_uefi_checked_on_an_s3_object(vmie_bin, emu_env, aws, control, mbr_disk):
    aws("s3api", "create-bucket", "--bucket", BUCKET,
        "--create-bucket-configuration", "LocationConstraint=us-west-2")
    aws("s3api", "put-object", "--bucket", BUCKET, "--key", "mbr.raw",
        "--body", str(mbr_disk))
    r = vmie_import(vmie_bin, emu_env, "--source", f"s3://{BUCKET}/mbr.raw",
                    "--boot-mode", "uefi")
    assert r.returncode == 4, r.stderr
    assert "no EFI system partition" in r.stderr
    assert import_tasks(control) == 0


# --- defect 3: at most 50 tags ------------------------------------------------------

def test_more_than_50_tags_refused(vmie_bin, emu_env, control, mbr_disk):
    tags = [a for i in range(51) for a in ("--tag", f"k{i}=v")]
    r = vmie_import(vmie_bin, emu_env, "--source", str(mbr_disk), *tags)
    assert r.returncode == 2, r.stderr
    assert "--tag given 51 times" in r.stderr
    assert state(control)["s3"]["objects"] == 0
    r = run(vmie_bin, ["export", "-b", BUCKET, "-a", "ami-0123456789abcdef0", *tags], emu_env)
    assert r.returncode == 2, r.stderr
    assert "at most 50 tags" in r.stderr
