"""Writing the disk formats VM Export produces, from a raw disk:
RAW (the bytes themselves), VHD (fixed: the bytes plus a footer) and
stream-optimized VMDK (vmdk_stream.write: what ExportImage's VMDK is)."""
import os
import struct
import time
import uuid

from . import vmdk_stream

SECTOR = 512


def vmdk_member(path, info):
    """(offset, length) of the streamOptimized VMDK a VMDK file or an OVA
    holds, or None when it holds none."""
    if info["format"] == "VMDK" and info.get("stream_optimized"):
        return 0, info["size"]
    if info["format"] == "OVA" and info.get("disk_member"):
        base, length = info["disk_member"]
        with open(path, "rb") as f:
            f.seek(base)
            if f.read(4) == b"KDMV":
                return base, length
    return None


def raw_from(src, info, dst):
    """Expand a VHD/VMDK/OVA disk to raw bytes in dst (sparse writes);
    returns dst, or src itself when src already is raw."""
    from . import image_sniff
    if info["format"] == "RAW":
        return src
    member = vmdk_member(src, info)
    if member:
        with open(src, "rb") as f:
            vmdk_stream.decode(f, member[0], member[1], dst)
        return dst
    with open(src, "rb") as f:
        disk = image_sniff.open_reader(f, info)
        if disk is None:
            return src  # documented: formats the emulator cannot expand stay as-is
        with open(dst, "wb") as out:
            step = 1 << 20
            for off in range(0, disk.size, step):
                block = disk.read(off, min(step, disk.size - off))
                if block.count(0) == len(block):
                    continue
                out.seek(off)
                out.write(block)
            out.truncate(disk.size)
    return dst


def _chs(sectors):
    """The VHD specification's CHS geometry algorithm."""
    sectors = min(sectors, 65535 * 16 * 255)
    if sectors >= 65535 * 16 * 63:
        spt, heads = 255, 16
        cth = sectors // spt
    else:
        spt = 17
        cth = sectors // spt
        heads = max(4, (cth + 1023) // 1024)
        if cth >= heads * 1024 or heads > 16:
            spt, heads = 31, 16
            cth = sectors // spt
        if cth >= heads * 1024:
            spt, heads = 63, 16
            cth = sectors // spt
    return cth // heads, heads, spt


def vhd_footer(size):
    """A fixed-disk VHD footer for `size` bytes of data."""
    cyl, heads, spt = _chs(size // SECTOR)
    stamp = int(time.time()) - 946684800  # seconds since 2000-01-01
    body = bytearray(struct.pack(
        ">8sIIQI4sI4sQQHBBII16sB", b"conectix", 2, 0x00010000, 0xFFFFFFFFFFFFFFFF,
        stamp & 0xFFFFFFFF, b"vmie", 0x00010000, b"Wi2k", size, size, cyl, heads, spt,
        2, 0, uuid.uuid4().bytes, 0))
    body += b"\0" * (SECTOR - len(body))
    checksum = (~sum(body)) & 0xFFFFFFFF
    struct.pack_into(">I", body, 64, checksum)
    return bytes(body)


def write_vhd(raw, dst):
    size = os.path.getsize(raw)
    padded = (size + SECTOR - 1) // SECTOR * SECTOR
    with open(raw, "rb") as f, open(dst, "wb") as out:
        while True:
            block = f.read(1 << 20)
            if not block:
                break
            out.write(block)
        out.write(b"\0" * (padded - size))
        out.write(vhd_footer(padded))
    return dst


def convert(src, info, fmt, tmp):
    """The path of `src` as format `fmt` (RAW/VHD/VMDK); may write tmp and
    tmp + ".raw".  The caller removes both."""
    if info["format"] == fmt and fmt != "RAW":
        return src
    raw = raw_from(src, info, tmp + ".raw")
    if fmt == "RAW":
        return raw
    if fmt == "VHD":
        return write_vhd(raw, tmp)
    return vmdk_stream.write(raw, tmp)
