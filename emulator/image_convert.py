"""Writing the disk formats VM Export produces, from a raw disk:
RAW (the bytes themselves), VHD (fixed: the bytes plus a footer) and
stream-optimized VMDK (deflated grains, grain tables and directory at
the end, the footer copy of the header).  Enough for qemu-img and for
image_sniff to read back; all-zero grains are skipped as VMware does."""
import os
import struct
import time
import uuid
import zlib

SECTOR = 512
GRAIN = 128 * SECTOR  # 64 KiB, VMware's default grain
GTES = 512            # grain table entries per table


def raw_from(src, info, dst):
    """Expand a VHD/VMDK/OVA disk to raw bytes in dst (sparse writes);
    returns dst, or src itself when src already is raw."""
    from . import image_sniff
    if info["format"] == "RAW":
        return src
    with open(src, "rb") as f:
        disk = image_sniff.open_reader(f, info, full=True)
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


def _vmdk_header(capacity, desc_sectors, gd_offset):
    hdr = struct.pack("<4sIIQQQQIQQQB4sH", b"KDMV", 3, 0x30001, capacity, GRAIN // SECTOR,
                      1, desc_sectors, GTES, 0, gd_offset, 1 + desc_sectors, 0,
                      b"\n \r\n", 1)
    return hdr + b"\0" * (SECTOR - len(hdr))


def _descriptor(capacity):
    cyl = min(65535, capacity // (255 * 63))
    text = (f'# Disk DescriptorFile\nversion=1\nCID=fffffffe\nparentCID=ffffffff\n'
            f'createType="streamOptimized"\n\n# Extent description\n'
            f'RW {capacity} SPARSE "disk.vmdk"\n\n# The Disk Data Base\n#DDB\n\n'
            f'ddb.virtualHWVersion = "4"\nddb.geometry.cylinders = "{cyl}"\n'
            f'ddb.geometry.heads = "255"\nddb.geometry.sectors = "63"\n'
            f'ddb.adapterType = "lsilogic"\n').encode()
    return text + b"\0" * (-len(text) % SECTOR or 0)


def _marker(value, mtype):
    return struct.pack("<QII", value, 0, mtype) + b"\0" * (SECTOR - 16)


def write_vmdk(raw, dst):
    """A stream-optimized VMDK, written front to back as VMware does."""
    size = os.path.getsize(raw)
    capacity = (size + GRAIN - 1) // GRAIN * (GRAIN // SECTOR)
    desc = _descriptor(capacity)
    ngrains = capacity * SECTOR // GRAIN
    table = [0] * (((ngrains + GTES - 1) // GTES) * GTES)
    with open(raw, "rb") as f, open(dst, "wb") as out:
        out.write(_vmdk_header(capacity, len(desc) // SECTOR, 0xFFFFFFFFFFFFFFFF) + desc)
        for g in range(ngrains):
            block = f.read(GRAIN)
            if block.count(0) == len(block):
                continue
            data = zlib.compress(block.ljust(GRAIN, b"\0"))
            table[g] = out.tell() // SECTOR
            rec = struct.pack("<QI", g * GRAIN // SECTOR, len(data)) + data
            out.write(rec + b"\0" * (-len(rec) % SECTOR))
        gd = []
        for t in range(0, len(table), GTES):
            out.write(_marker(GTES * 4 // SECTOR, 1))
            gd.append(out.tell() // SECTOR)
            out.write(struct.pack(f"<{GTES}I", *table[t:t + GTES]))
        gd_bytes = struct.pack(f"<{len(gd)}I", *gd)
        gd_bytes += b"\0" * (-len(gd_bytes) % SECTOR)
        out.write(_marker(len(gd_bytes) // SECTOR, 2))
        gd_offset = out.tell() // SECTOR
        out.write(gd_bytes)
        out.write(_marker(1, 3))
        out.write(_vmdk_header(capacity, len(desc) // SECTOR, gd_offset))
        out.write(b"\0" * SECTOR)  # end-of-stream marker
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
    return write_vmdk(raw, tmp)
