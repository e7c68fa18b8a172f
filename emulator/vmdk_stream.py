"""streamOptimized VMDK, both ways, as VM Import/Export handles it.

decode(f, base, length, dst)
    The disk inside a streamOptimized VMDK (at base, length bytes of f:
    a file, or an OVA's member) written to dst as RAW (sparse), read the
    way VMware's own readers do: the footer (or, for qemu-img's layout,
    the header) gives the grain directory, the directory the grain
    tables, the tables the grains.  Everything is checked: a VMDK that
    is damaged, truncated or not streamOptimized raises VmdkError, and
    the import task fails with AWS's "Unsupported VMDK File Format".

write(raw, dst)
    A streamOptimized VMDK of the RAW disk `raw`, as ExportImage's VMDK
    is ("Stream-optimized ESX VMDK"): header with the grain directory at
    the end, embedded descriptor, deflated grains with markers (all-zero
    grains left out), each grain table after its grains (all-zero tables
    left out), grain directory, footer, end-of-stream marker."""
import os
import struct
import zlib

SECTOR = 512
GRAIN = 64 * 1024
GTES = 512
GD_AT_END = 0xFFFFFFFFFFFFFFFF
FLAG_NL_DETECT, FLAG_ZERO_GRAIN = 1, 4
FLAG_COMPRESSED, FLAG_MARKERS = 1 << 16, 1 << 17
MARKER_EOS, MARKER_GT, MARKER_GD, MARKER_FOOTER = 0, 1, 2, 3
HEADER = struct.Struct("<4sIIQQQQIQQQB4sH")
MAX_CAPACITY = 1 << 37  # sectors: 64 TiB


class VmdkError(ValueError):
    """Not a streamOptimized VMDK that can be read."""


def _pread(f, offset, n):
    f.seek(offset)
    return f.read(n)


def _header(block):
    (magic, version, flags, capacity, grain, desc_off, desc_size, gtes, rgd, gd,
     overhead, unclean, nl, compress) = HEADER.unpack_from(block)
    if magic != b"KDMV":
        raise VmdkError("no KDMV header")
    return {"version": version, "flags": flags, "capacity": capacity, "grain": grain,
            "gtes": gtes, "gd": gd, "compress": compress, "nl": nl}


def _marker(block, mtype):
    value, size, kind = struct.unpack_from("<QII", block)
    return size == 0 and kind == mtype and (mtype != MARKER_EOS or value == 0)


def _layout(f, base, length):
    """The header that describes the file: the footer's when the header
    says the directory is at the end (VMware), else the header (qemu)."""
    if length < 4 * SECTOR:
        raise VmdkError("shorter than a header and a footer")
    hdr = _header(_pread(f, base, SECTOR))
    if hdr["nl"] != b"\n \r\n" and hdr["flags"] & FLAG_NL_DETECT:
        raise VmdkError("newline check bytes mangled (a text-mode copy)")
    end = base + length // SECTOR * SECTOR
    data_end = end
    if hdr["gd"] == GD_AT_END:
        tail = _pread(f, end - 3 * SECTOR, 3 * SECTOR)
        if not (_marker(tail, MARKER_FOOTER) and _marker(tail[2 * SECTOR:], MARKER_EOS)):
            raise VmdkError("no footer and end-of-stream marker: truncated")
        hdr = _header(tail[SECTOR:2 * SECTOR])
        data_end = end - 3 * SECTOR
    if not 1 <= hdr["version"] <= 3:
        raise VmdkError("unknown version")
    if not hdr["flags"] & FLAG_COMPRESSED or hdr["compress"] != 1:
        raise VmdkError("grains not deflated: not streamOptimized")
    grain = hdr["grain"]
    if grain < 8 or grain > 4096 or grain & (grain - 1):
        raise VmdkError("invalid grain size")
    if not 1 <= hdr["gtes"] <= 512:
        raise VmdkError("invalid grain table size")
    if not 0 < hdr["capacity"] <= MAX_CAPACITY:
        raise VmdkError("invalid capacity")
    span = grain * hdr["gtes"]
    hdr["ngd"] = -(-hdr["capacity"] // span)
    if hdr["gd"] in (0, GD_AT_END) or base + hdr["gd"] * SECTOR + hdr["ngd"] * 4 > data_end:
        raise VmdkError("grain directory beyond the end of the file")
    hdr["data_end"] = data_end
    return hdr


def decode(f, base, length, dst):
    """Write the disk to dst (RAW, sparse); returns its size in bytes."""
    hdr = _layout(f, base, length)
    grain = hdr["grain"] * SECTOR
    size = hdr["capacity"] * SECTOR
    markers = bool(hdr["flags"] & FLAG_MARKERS)
    zero_grain = bool(hdr["flags"] & FLAG_ZERO_GRAIN)
    gtes, data_end = hdr["gtes"], hdr["data_end"]
    raw = _pread(f, base + hdr["gd"] * SECTOR, hdr["ngd"] * 4)
    gd = struct.unpack(f"<{hdr['ngd']}I", raw)
    with open(dst, "wb") as out:
        for i, gt_sector in enumerate(gd):
            if not gt_sector:
                continue
            at = base + gt_sector * SECTOR
            if at + gtes * 4 > data_end:
                raise VmdkError("grain table beyond the end of the file")
            for k, e in enumerate(struct.unpack(f"<{gtes}I", _pread(f, at, gtes * 4))):
                if e == 0 or (e == 1 and zero_grain):
                    continue
                guest = (i * gtes + k) * grain
                if guest >= size:
                    raise VmdkError("grain past the end of the disk")
                data = _grain(f, base + e * SECTOR, data_end, guest, grain, markers)
                out.seek(guest)
                out.write(data[:size - guest])
        out.truncate(size)
    return size


def _grain(f, at, data_end, guest, grain, markers):
    if at < SECTOR or at >= data_end:
        raise VmdkError("grain outside the file")
    if markers:
        lba, n = struct.unpack("<QI", _pread(f, at, 12))
        if lba * SECTOR != guest:
            raise VmdkError("grain marker names another place")
        if n == 0 or n > 2 * grain or at + 12 + n > data_end:
            raise VmdkError("grain size beyond the file")
        payload = _pread(f, at + 12, n)
    else:
        payload = _pread(f, at, min(2 * grain, data_end - at))
    try:
        d = zlib.decompressobj()
        data = d.decompress(payload, grain + 1)
        if not d.eof or len(data) > grain:
            raise VmdkError("grain does not inflate to one grain")
    except zlib.error as e:
        raise VmdkError(f"grain does not inflate: {e}") from None
    return data.ljust(grain, b"\0")


def descriptor(capacity, name):
    cyl = min(65535, capacity // (255 * 63))
    text = (f'# Disk DescriptorFile\nversion=1\nencoding="UTF-8"\nCID=fffffffe\n'
            f'parentCID=ffffffff\ncreateType="streamOptimized"\n\n# Extent description\n'
            f'RW {capacity} SPARSE "{name}"\n\n# The Disk Data Base\n#DDB\n\n'
            f'ddb.adapterType = "lsilogic"\nddb.geometry.cylinders = "{cyl}"\n'
            f'ddb.geometry.heads = "255"\nddb.geometry.sectors = "63"\n'
            f'ddb.virtualHWVersion = "4"\n').encode()
    return text.ljust(20 * SECTOR, b"\0")


def _header_block(capacity, gd_sector):
    hdr = HEADER.pack(b"KDMV", 3, FLAG_NL_DETECT | FLAG_COMPRESSED | FLAG_MARKERS, capacity,
                      GRAIN // SECTOR, 1, 20, GTES, 0, gd_sector, 128, 0, b"\n \r\n", 1)
    return hdr.ljust(SECTOR, b"\0")


def _marker_block(value, mtype):
    return struct.pack("<QII", value, 0, mtype).ljust(SECTOR, b"\0")


def write(raw, dst, name="disk.vmdk"):
    size = os.path.getsize(raw)
    capacity = -(-size // SECTOR)
    ngrains = -(-size // GRAIN)
    gd = []
    with open(raw, "rb") as f, open(dst, "wb") as out:
        out.write((_header_block(capacity, GD_AT_END) + descriptor(capacity, name))
                  .ljust(128 * SECTOR, b"\0"))
        table = [0] * GTES
        for g in range(ngrains):
            block = f.read(GRAIN).ljust(GRAIN, b"\0")
            if block.count(0) != GRAIN:
                data = zlib.compress(block, 6)
                table[g % GTES] = out.tell() // SECTOR
                rec = struct.pack("<QI", g * GRAIN // SECTOR, len(data)) + data
                out.write(rec + b"\0" * (-len(rec) % SECTOR))
            if (g + 1) % GTES == 0 or g + 1 == ngrains:
                if any(table):
                    out.write(_marker_block(GTES * 4 // SECTOR, MARKER_GT))
                    gd.append(out.tell() // SECTOR)
                    out.write(struct.pack(f"<{GTES}I", *table))
                else:
                    gd.append(0)
                table = [0] * GTES
        gd_bytes = struct.pack(f"<{len(gd)}I", *gd)
        gd_bytes += b"\0" * (-len(gd_bytes) % SECTOR)
        out.write(_marker_block(len(gd_bytes) // SECTOR, MARKER_GD))
        gd_sector = out.tell() // SECTOR
        out.write(gd_bytes)
        out.write(_marker_block(1, MARKER_FOOTER))
        out.write(_header_block(capacity, gd_sector))
        out.write(_marker_block(0, MARKER_EOS))
    return dst
