"""vmie inspect against real images: qemu-img builds every format and
subformat AWS imports (and the ones it refuses) at test time, and vmie's
format and virtual size must agree with `qemu-img info`.  Broken inputs
must each give one clear finding and a non-zero exit, never a crash (these
tests also run against the ASan/UBSan binary: scripts/check.sh).

Skipped, with the package to install, when qemu-img is not there."""
import hashlib
import json
import os
import shutil
import subprocess

import pytest

from conftest import run as _run
from images import make_raw

MIB = 1 << 20
DISK_SIZE = 64 * MIB          # the small disk most images are made from
BIG_SIZE = 2560 * MIB         # > 2 GiB: twoGbMaxExtent* get several extents
PART_START = 2048 * 512       # the partition qemu-made images carry
QEMU_FORMATS = {"raw": "RAW", "vmdk": "VMDK", "vpc": "VHD", "vhdx": "VHDX",
                "qcow2": "QCOW2", "vdi": "VDI"}
KEYS = ["source", "format", "subformat", "compression", "virtual_size", "total_virtual_size",
        "file_size",
        "image_size", "partition_table", "partitions", "disks", "findings", "importable"]


def run(vmie_bin, args, env, **kw):
    """conftest.run, and neither a sanitizer report nor a crash."""
    r = _run(vmie_bin, args, env, **kw)
    assert "Sanitizer" not in r.stderr and "runtime error:" not in r.stderr, r.stderr
    assert r.returncode >= 0 and r.returncode < 128, (r.returncode, r.stderr)
    return r


def need(tool, package):
    if not shutil.which(tool):
        pytest.skip(f"{tool} not found: install {package} (scripts/bootstrap.sh does)")


def sh(*args):
    subprocess.run(args, check=True, capture_output=True, timeout=300)


def qemu_info(path, fmt=None):
    args = ["qemu-img", "info", "--output=json"] + (["-f", fmt] if fmt else []) + [str(path)]
    r = subprocess.run(args, check=True, capture_output=True, text=True, timeout=60)
    return json.loads(r.stdout)


def vmfs_descriptor(flat_name, sectors):
    return ("# Disk DescriptorFile\nversion=1\nCID=fffffffe\nparentCID=ffffffff\n"
            'createType="vmfs"\n\n# Extent description\n'
            f'RW {sectors} VMFS "{flat_name}"\n\n# The Disk Data Base\n#DDB\n\n'
            'ddb.virtualHWVersion = "4"\nddb.geometry.cylinders = "8"\n'
            'ddb.geometry.heads = "255"\nddb.geometry.sectors = "63"\n'
            'ddb.adapterType = "lsilogic"\n')


def ovf_descriptor(disks):
    """An OVF 1.0 envelope naming disks: [(file id, href, capacity bytes)]."""
    refs = "".join(f'    <File ovf:id="{fid}" ovf:href="{href}"/>\n' for fid, href, _ in disks)
    dsk = "".join(
        f'    <Disk ovf:diskId="vmdisk{i}" ovf:fileRef="{fid}" ovf:capacity="{cap}" '
        'ovf:capacityAllocationUnits="byte" ovf:format="http://www.vmware.com/'
        'interfaces/specifications/vmdk.html#streamOptimized"/>\n'
        for i, (fid, _, cap) in enumerate(disks, 1))
    items = "".join(
        f'      <Item><rasd:AddressOnParent>{i - 1}</rasd:AddressOnParent>'
        f'<rasd:ElementName>disk{i}</rasd:ElementName>'
        f'<rasd:HostResource>ovf:/disk/vmdisk{i}</rasd:HostResource>'
        f'<rasd:InstanceID>{10 + i}</rasd:InstanceID>'
        '<rasd:ResourceType>17</rasd:ResourceType></Item>\n'
        for i in range(1, len(disks) + 1))
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<Envelope xmlns="http://schemas.dmtf.org/ovf/envelope/1"
    xmlns:ovf="http://schemas.dmtf.org/ovf/envelope/1"
    xmlns:rasd="http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/CIM_ResourceAllocationSettingData"
    xmlns:vssd="http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/CIM_VirtualSystemSettingData">
  <References>
{refs}  </References>
  <DiskSection>
    <Info>Virtual disk information</Info>
{dsk}  </DiskSection>
  <VirtualSystem ovf:id="vm">
    <Info>A virtual machine</Info>
    <Name>vm</Name>
    <OperatingSystemSection ovf:id="101">
      <Info>The guest operating system</Info>
    </OperatingSystemSection>
    <VirtualHardwareSection>
      <Info>Virtual hardware requirements</Info>
{items}    </VirtualHardwareSection>
  </VirtualSystem>
</Envelope>
"""


def make_ova(dirpath, name, disks, members):
    """tar -cf NAME.ova NAME.ovf NAME.mf MEMBERS...: the OVF first, as the
    spec requires; the manifest holds SHA256 lines of what is there."""
    ovf = dirpath / f"{name}.ovf"
    ovf.write_text(ovf_descriptor(disks))
    files = [ovf.name] + [m for m in members]
    mf = dirpath / f"{name}.mf"
    mf.write_text("".join(
        f"SHA256({f})= {hashlib.sha256((dirpath / f).read_bytes()).hexdigest()}\n"
        for f in files))
    sh("tar", "--format=ustar", "-C", str(dirpath), "-cf", str(dirpath / f"{name}.ova"),
       ovf.name, mf.name, *members)
    return dirpath / f"{name}.ova"


COMPRESSORS = {".gz": ["gzip", "-1", "-c"], ".xz": ["xz", "-1", "-T1", "-c"],
               ".bz2": ["bzip2", "-1", "-c"], ".zst": ["zstd", "-1", "-q", "-c"]}
COMPRESSION_NAMES = {".gz": "gzip", ".xz": "xz", ".bz2": "bzip2", ".zst": "zstd"}


def compress(src, suffix):
    dst = src.parent / (src.name + suffix)
    with open(dst, "wb") as out:
        subprocess.run(COMPRESSORS[suffix] + [str(src)], stdout=out, check=True, timeout=300)
    return dst


# id -> (how to build it, the qemu-img -f for the reference, expected
# subformat, whether AWS would import it)
VMDK_SUBFORMATS = ["monolithicSparse", "monolithicFlat", "twoGbMaxExtentSparse",
                   "twoGbMaxExtentFlat", "streamOptimized"]


@pytest.fixture(scope="module")
def images(tmp_path_factory):
    """Every image, built once per module (per xdist worker)."""
    need("qemu-img", "qemu-utils")
    d = tmp_path_factory.mktemp("images")
    made = {}   # id -> (path, reference path for qemu-img info, qemu -f or None)

    raw = d / "disk.raw"
    make_raw(raw, DISK_SIZE)
    made["raw"] = (raw, raw, "raw")
    big = d / "big.raw"
    make_raw(big, BIG_SIZE)

    for sub in VMDK_SUBFORMATS:
        p = d / f"disk-{sub}.vmdk"
        sh("qemu-img", "convert", "-f", "raw", "-O", "vmdk", "-o", f"subformat={sub}",
           str(raw), str(p))
        made[f"vmdk-{sub}"] = (p, p, None)
    for sub in ["twoGbMaxExtentSparse", "twoGbMaxExtentFlat"]:
        p = d / f"big-{sub}.vmdk"
        sh("qemu-img", "convert", "-f", "raw", "-O", "vmdk", "-o", f"subformat={sub}",
           str(big), str(p))
        made[f"vmdk-{sub}-2extents"] = (p, p, None)
    # vmfs: a hand-written descriptor over a flat copy of the disk
    os.link(raw, d / "vmfs-flat.vmdk")
    vmfs = d / "vmfs.vmdk"
    vmfs.write_text(vmfs_descriptor("vmfs-flat.vmdk", DISK_SIZE // 512))
    made["vmdk-vmfs"] = (vmfs, vmfs, None)

    for sub in ["fixed", "dynamic"]:
        p = d / f"disk-{sub}.vhd"
        sh("qemu-img", "convert", "-f", "raw", "-O", "vpc", "-o", f"subformat={sub}",
           str(raw), str(p))
        made[f"vhd-{sub}"] = (p, p, "vpc")  # qemu calls a fixed VHD raw otherwise
        p = d / f"disk-{sub}.vhdx"
        sh("qemu-img", "convert", "-f", "raw", "-O", "vhdx", "-o", f"subformat={sub}",
           str(raw), str(p))
        made[f"vhdx-{sub}"] = (p, p, None)

    so = made["vmdk-streamOptimized"][0]
    ova_dir = d / "ova"
    ova_dir.mkdir()
    shutil.copyfile(so, ova_dir / "vm-disk1.vmdk")
    ova = make_ova(ova_dir, "vm", [("file1", "vm-disk1.vmdk", DISK_SIZE)], ["vm-disk1.vmdk"])
    made["ova"] = (ova, so, None)

    for suffix in COMPRESSORS:
        need(COMPRESSORS[suffix][0], "gzip, xz-utils, bzip2 and zstd")
        made[f"raw{suffix}"] = (compress(raw, suffix), raw, "raw")
        made[f"vmdk-streamOptimized{suffix}"] = (compress(so, suffix), so, None)

    for fmt in ["qcow2", "vdi"]:
        p = d / f"disk.{fmt}"
        sh("qemu-img", "convert", "-f", "raw", "-O", fmt, str(raw), str(p))
        made[fmt] = (p, p, fmt)
    return made


# id, expected format (AWS's name), subformat, importable
GOOD = [
    ("raw", "RAW", None, True),
    ("vmdk-monolithicSparse", "VMDK", "monolithicSparse", False),
    ("vmdk-monolithicFlat", "VMDK", "monolithicFlat", False),
    ("vmdk-twoGbMaxExtentSparse", "VMDK", "twoGbMaxExtentSparse", False),
    ("vmdk-twoGbMaxExtentFlat", "VMDK", "twoGbMaxExtentFlat", False),
    ("vmdk-twoGbMaxExtentSparse-2extents", "VMDK", "twoGbMaxExtentSparse", False),
    ("vmdk-twoGbMaxExtentFlat-2extents", "VMDK", "twoGbMaxExtentFlat", False),
    ("vmdk-streamOptimized", "VMDK", "streamOptimized", True),
    ("vmdk-vmfs", "VMDK", "vmfs", False),
    ("vhd-fixed", "VHD", "fixed", True),
    ("vhd-dynamic", "VHD", "dynamic", True),
    ("vhdx-fixed", "VHDX", "fixed", True),
    ("vhdx-dynamic", "VHDX", "dynamic", True),
] + [(f"raw{s}", "RAW", None, True) for s in COMPRESSORS] + [
    (f"vmdk-streamOptimized{s}", "VMDK", "streamOptimized", True) for s in COMPRESSORS]


def inspect_json(vmie_bin, env, *paths):
    r = run(vmie_bin, ["inspect", "--json", *map(str, paths)], env)
    docs = [json.loads(line) for line in r.stdout.splitlines()]
    assert len(docs) == len(paths), r.stdout
    for doc in docs:
        assert set(KEYS) <= set(doc), doc
    return r, docs


def codes(doc, severity=None):
    return [f["code"] for f in doc["findings"] if severity in (None, f["severity"])]


def assert_linux_partition(doc):
    assert doc["partition_table"] == "mbr", doc
    assert len(doc["partitions"]) == 1, doc
    p = doc["partitions"][0]
    assert p["index"] == 1 and p["start"] == PART_START and p["bootable"], p
    assert p["size"] == DISK_SIZE - PART_START, p
    assert p["type"] == "0x83" and p["fs"] == "ext4" and p["os"] == "linux", p


@pytest.mark.parametrize("case,fmt,subformat,importable", GOOD, ids=[g[0] for g in GOOD])
def test_format_and_size_match_qemu(vmie_bin, clean_env, images, case, fmt, subformat,
                                    importable):
    path, ref, qfmt = images[case]
    q = qemu_info(ref, qfmt)
    r, (doc,) = inspect_json(vmie_bin, clean_env, path)
    assert QEMU_FORMATS[q["format"]] == fmt
    assert doc["source"] == str(path)
    assert doc["format"] == fmt, doc
    assert doc["virtual_size"] == q["virtual-size"], doc
    assert doc["subformat"] == subformat, doc
    assert doc["file_size"] == path.stat().st_size
    suffix = path.suffix if path.suffix in COMPRESSION_NAMES else None
    assert doc["compression"] == (COMPRESSION_NAMES[suffix] if suffix else "none")
    if suffix:
        assert doc["image_size"] in (None, ref.stat().st_size), doc
    assert doc["importable"] is importable, doc
    assert not [c for c in codes(doc) if c == "extension-mismatch"], doc
    if importable:
        assert r.returncode == 0, r.stderr
        assert codes(doc, "error") == [], doc
        assert_linux_partition(doc)
    else:
        # AWS imports only streamOptimized VMDKs.
        assert r.returncode == 4, r.stderr
        assert codes(doc, "error")[0] == "vmdk-not-stream-optimized", doc
        f = [f for f in doc["findings"] if f["code"] == "vmdk-not-stream-optimized"][0]
        assert "streamOptimized" in f["message"] and f["aws"], f


def test_ova(vmie_bin, clean_env, images):
    path, ref, _ = images["ova"]
    q = qemu_info(ref)
    r, (doc,) = inspect_json(vmie_bin, clean_env, path)
    assert r.returncode == 0, (doc, r.stderr)
    assert doc["format"] == "OVA" and doc["importable"] is True, doc
    assert codes(doc, "error") == [], doc
    (disk,) = doc["disks"]
    assert disk["href"] == "vm-disk1.vmdk"
    assert disk["capacity"] == DISK_SIZE
    assert disk["size"] == ref.stat().st_size and disk["offset"] % 512 == 0, disk
    with open(path, "rb") as f:   # the member's bytes are where it says
        f.seek(disk["offset"])
        assert f.read(4) == b"KDMV"
    assert QEMU_FORMATS[q["format"]] == disk["format"] == "VMDK"
    assert disk["subformat"] == "streamOptimized"
    assert disk["virtual_size"] == q["virtual-size"]
    assert_linux_partition(disk)


def test_ova_text_output_shows_disks(vmie_bin, clean_env, images):
    path = images["ova"][0]
    r = run(vmie_bin, ["inspect", str(path)], clean_env)
    assert r.returncode == 0, r.stderr
    out = r.stdout
    assert out.startswith(f"{path}\n"), out
    assert "Format:          OVA" in out and "Disks:" in out and "vm-disk1.vmdk" in out
    # the disk's own block is indented under it
    assert "      Format:          VMDK" in out and "streamOptimized" in out, out
    assert "Importable:      yes" in out


def test_ova_two_disks_boot_disk_and_total(vmie_bin, clean_env, images, tmp_path):
    """A two-disk OVA: its virtual size is the boot (first) disk's, said so,
    and the total of both is shown beside it; qemu-img made both disks."""
    data_size = 40 * MIB
    raw2 = tmp_path / "data.raw"
    make_raw(raw2, data_size)
    d = tmp_path / "ova2"
    d.mkdir()
    shutil.copyfile(images["vmdk-streamOptimized"][0], d / "vm-disk1.vmdk")
    sh("qemu-img", "convert", "-f", "raw", "-O", "vmdk", "-o", "subformat=streamOptimized",
       str(raw2), str(d / "vm-disk2.vmdk"))
    boot = qemu_info(d / "vm-disk1.vmdk")["virtual-size"]
    data = qemu_info(d / "vm-disk2.vmdk")["virtual-size"]
    assert (boot, data) == (DISK_SIZE, data_size)
    ova = make_ova(d, "vm2", [("file1", "vm-disk1.vmdk", DISK_SIZE),
                              ("file2", "vm-disk2.vmdk", data_size)],
                   ["vm-disk1.vmdk", "vm-disk2.vmdk"])

    r, (doc,) = inspect_json(vmie_bin, clean_env, ova)
    assert r.returncode == 0, (doc, r.stderr)
    assert doc["virtual_size"] == boot                 # its meaning unchanged
    assert doc["total_virtual_size"] == boot + data
    assert [x["virtual_size"] for x in doc["disks"]] == [boot, data]

    r = run(vmie_bin, ["inspect", str(ova)], clean_env)
    assert r.returncode == 0, r.stderr
    top = r.stdout.split("  Disks:")[0]
    assert f"  Virtual size:    {boot} bytes (64.0 MiB), boot disk\n" in top, r.stdout
    assert f"  Total size:      {boot + data} bytes (104.0 MiB), 2 disks\n" in top, r.stdout

    # One disk: the same words; anything else: the total is the size.
    r, (one, plain) = inspect_json(vmie_bin, clean_env, images["ova"][0], images["raw"][0])
    assert one["total_virtual_size"] == one["virtual_size"] == DISK_SIZE
    assert plain["total_virtual_size"] == plain["virtual_size"] == DISK_SIZE
    r = run(vmie_bin, ["inspect", str(images["raw"][0])], clean_env)
    assert "Total size" not in r.stdout and "boot disk" not in r.stdout


def test_text_output(vmie_bin, clean_env, images):
    path = images["raw.gz"][0]
    r = run(vmie_bin, ["inspect", str(path)], clean_env)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0] == str(path)
    text = r.stdout
    for expected in ["  Format:          RAW", "  Compression:     gzip",
                     f"  Virtual size:    {DISK_SIZE} bytes (64.0 MiB)",
                     f"  Image size:      {DISK_SIZE} bytes", "  Partition table: mbr",
                     "  Importable:      yes"]:
        assert expected in text, (expected, text)
    header = [l for l in lines if "START" in l][0].split()
    assert header == ["#", "START", "SIZE", "TYPE", "BOOT", "FS", "OS"]
    row = lines[lines.index([l for l in lines if "START" in l][0]) + 1].split()
    assert row == ["1", str(PART_START), str(DISK_SIZE - PART_START), "0x83", "yes", "ext4",
                   "linux"]


def test_text_output_findings(vmie_bin, clean_env, images):
    path = images["vmdk-monolithicSparse"][0]
    r = run(vmie_bin, ["inspect", str(path)], clean_env)
    assert r.returncode == 4
    out = r.stdout
    assert "Findings:" in out
    assert "ERROR    vmdk-not-stream-optimized: " in out, out
    assert "AWS: " in out
    assert "Importable:      no" in out
    assert "\x1b[" not in out  # no colour into a pipe


@pytest.mark.parametrize("fmt", ["qcow2", "vdi"])
def test_refused_formats(vmie_bin, clean_env, images, fmt):
    path, _, _ = images[fmt]
    q = qemu_info(path)
    r, (doc,) = inspect_json(vmie_bin, clean_env, path)
    assert r.returncode == 4, r.stderr
    assert doc["format"] == QEMU_FORMATS[q["format"]] == fmt.upper()
    assert doc["importable"] is False
    errs = [f for f in doc["findings"] if f["severity"] == "error"]
    assert errs and errs[0]["code"] == f"unsupported-{fmt}", doc
    assert "qemu-img convert" in errs[0]["message"] and errs[0]["aws"], errs[0]


def test_iso_refused(vmie_bin, clean_env, tmp_path):
    p = tmp_path / "install.iso"
    data = bytearray(64 * 1024)
    data[32769:32774] = b"CD001"
    p.write_bytes(bytes(data))
    r, (doc,) = inspect_json(vmie_bin, clean_env, p)
    assert r.returncode == 4
    assert doc["format"] == "ISO" and codes(doc, "error") == ["unsupported-iso"], doc


def test_plain_tar_refused(vmie_bin, clean_env, tmp_path):
    (tmp_path / "notes.txt").write_text("not an OVF\n")
    (tmp_path / "disk.img").write_bytes(b"\0" * 4096)
    p = tmp_path / "bundle.tar"
    sh("tar", "--format=ustar", "-C", str(tmp_path), "-cf", str(p), "notes.txt", "disk.img")
    r, (doc,) = inspect_json(vmie_bin, clean_env, p)
    assert r.returncode == 4
    assert doc["format"] == "TAR" and codes(doc, "error") == ["tar-without-ovf"], doc


# --- malformed inputs: one clear finding each, a non-zero exit, no crash

def truncated_vhd(images, d):
    src = images["vhd-dynamic"][0]
    data = src.read_bytes()
    p = d / "truncated.vhd"
    p.write_bytes(data[:len(data) // 2])
    return p


def flipped_vhd_checksum(images, d):
    src = images["vhd-fixed"][0]
    p = d / "flipped.vhd"
    shutil.copyfile(src, p)
    with open(p, "r+b") as f:
        f.seek(-512 + 64, os.SEEK_END)   # the footer's checksum field
        b = f.read(1)
        f.seek(-1, os.SEEK_CUR)
        f.write(bytes([b[0] ^ 0xff]))
    return p


def vmdk_missing_extent(images, d):
    src = images["vmdk-monolithicFlat"][0]
    p = d / "lonely.vmdk"
    shutil.copyfile(src, p)   # its -flat.vmdk stays behind in the other directory
    return p


def ova_missing_disk(images, d):
    so = images["vmdk-streamOptimized"][0]
    shutil.copyfile(so, d / "present.vmdk")
    return make_ova(d, "broken", [("file1", "present.vmdk", DISK_SIZE),
                                  ("file2", "absent.vmdk", DISK_SIZE)], ["present.vmdk"])


def raw_odd_size(images, d):
    p = d / "odd.raw"
    make_raw(p, 4 * MIB)
    with open(p, "ab") as f:
        f.write(b"\0" * 100)
    return p


def truncated_xz(images, d):
    data = images["raw.xz"][0].read_bytes()
    p = d / "cut.raw.xz"
    p.write_bytes(data[:len(data) // 2])
    return p


def garbage_gzip(images, d):
    p = d / "garbage.raw.gz"
    p.write_bytes(b"\x1f\x8b\x08\x00" + bytes(range(256)) * 64)
    return p


def empty_file(images, d):
    p = d / "empty.raw"
    p.write_bytes(b"")
    return p


MALFORMED = [
    ("empty", empty_file, "empty-image"),
    ("vhd-truncated", truncated_vhd, "vhd-footer-missing"),
    ("vhd-footer-checksum", flipped_vhd_checksum, "vhd-footer-checksum"),
    ("vmdk-extent-missing", vmdk_missing_extent, "vmdk-extent-missing"),
    ("ova-disk-missing", ova_missing_disk, "ova-disk-missing"),
    ("raw-odd-size", raw_odd_size, "raw-size-not-sector-multiple"),
    ("xz-truncated", truncated_xz, "decompress-failed"),
    ("gzip-garbage", garbage_gzip, "decompress-failed"),
]


@pytest.mark.parametrize("make,code", [m[1:] for m in MALFORMED], ids=[m[0] for m in MALFORMED])
def test_malformed(vmie_bin, clean_env, images, tmp_path, make, code):
    p = make(images, tmp_path)
    r, (doc,) = inspect_json(vmie_bin, clean_env, p)
    assert r.returncode == 4, (r.returncode, r.stderr)
    assert doc["importable"] is False
    errors = codes(doc, "error") + [c for disk in doc["disks"] if disk["findings"]
                                    for c in codes(disk, "error")]
    assert code in errors, doc
    for f in doc["findings"]:
        assert f["message"] and f["code"], f
    # the text form says the same, and neither form crashes
    t = run(vmie_bin, ["inspect", str(p)], clean_env)
    assert t.returncode == 4 and code in t.stdout, t.stdout


# --- the command line

def test_several_sources_one_line_each(vmie_bin, clean_env, images):
    paths = [images["raw"][0], images["qcow2"][0], images["vhd-dynamic"][0]]
    r, docs = inspect_json(vmie_bin, clean_env, *paths)
    assert [d["format"] for d in docs] == ["RAW", "QCOW2", "VHD"]
    assert [d["importable"] for d in docs] == [True, False, True]
    assert r.returncode == 4   # any source that would not import
    r, docs = inspect_json(vmie_bin, clean_env, images["raw"][0], images["vhd-fixed"][0])
    assert r.returncode == 0


def test_missing_file_and_urls(vmie_bin, clean_env, images, tmp_path):
    missing = tmp_path / "nope.vmdk"
    r, docs = inspect_json(vmie_bin, clean_env, missing, "https://example.com/disk.ova",
                           "s3://bucket/disk.vmdk", images["raw"][0])
    assert r.returncode == 4
    assert docs[0]["importable"] is False and docs[0]["format"] is None
    assert docs[0]["error"]["code"] == "ERR_INVALID_SOURCE"
    assert "No such file" in docs[0]["error"]["message"]
    for doc in docs[1:3]:
        assert "local files" in doc["error"]["message"], doc
        assert "import" in doc["error"]["hint"] and "stream" in doc["error"]["hint"], doc
    assert docs[3]["importable"] is True
    assert "vmie: error: " in r.stderr and "reads local files" in r.stderr


def test_usage_errors(vmie_bin, clean_env):
    r = run(vmie_bin, ["inspect"], clean_env)
    assert r.returncode == 2
    assert "vmie: error: missing SOURCE" in r.stderr
    r = run(vmie_bin, ["inspect", "--bogus", "x.raw"], clean_env)
    assert r.returncode == 2 and "unknown option '--bogus'" in r.stderr
    r = run(vmie_bin, ["inspect", "--force", "x.raw"], clean_env)
    assert r.returncode == 2 and "--force is not an option of 'vmie inspect'" in r.stderr
    r = run(vmie_bin, ["inspect", "--json"], clean_env)
    assert r.returncode == 2 and json.loads(r.stdout)["exit_status"] == 2


def test_needs_no_aws(vmie_bin, clean_env, images):
    """No region, no credentials, an endpoint that does not answer."""
    env = dict(clean_env, AWS_ENDPOINT_URL="http://127.0.0.1:9")
    r = run(vmie_bin, ["--profile", "ghost", "inspect", str(images["raw"][0])], env)
    assert r.returncode == 0, r.stderr


def test_help(vmie_bin, clean_env):
    r = run(vmie_bin, ["inspect", "--help"], clean_env)
    assert r.returncode == 0
    assert r.stdout.startswith("Usage: vmie inspect [OPTIONS] SOURCE...")
    assert "--json" in r.stdout and "Example:" in r.stdout
    assert run(vmie_bin, ["help", "inspect"], clean_env).stdout == r.stdout
    r = run(vmie_bin, ["--help"], clean_env)
    assert "\n  inspect " in r.stdout


def test_global_options_after_sources(vmie_bin, clean_env, images, tmp_path):
    log = tmp_path / "inspect.log"
    r = run(vmie_bin, ["inspect", str(images["raw"][0]), "--json", "--log-file", str(log),
                       "--debug"], clean_env)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["format"] == "RAW"
    assert "inspecting" in log.read_text()


def test_hostile_names_stay_inert(vmie_bin, clean_env, images, tmp_path):
    """A file name with an escape sequence and a byte that is not UTF-8:
    valid JSON with the key present, and no escape reaches the terminal."""
    name = os.fsencode(tmp_path) + b"/x\xff\x1b]0;pwned\x07.raw"
    shutil.copyfile(images["raw"][0], name)
    for args in (["inspect", "--json", name], ["inspect", name]):
        r = subprocess.run([vmie_bin, *args], env=clean_env, capture_output=True, timeout=60)
        assert r.returncode == 0, r.stderr
        assert b"\x1b" not in r.stdout and b"\x07" not in r.stdout, r.stdout
    doc = json.loads(subprocess.run([vmie_bin, "inspect", "--json", name], env=clean_env,
                                    capture_output=True, timeout=60).stdout)
    assert doc["source"].endswith(".raw") and doc["format"] == "RAW"
