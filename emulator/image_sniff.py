"""Content sniffing of disk images, the way VM Import/Export inspects an
uploaded object before and during conversion.

Two questions, asked of a file on disk:
  detect(path)      which container format the bytes are (RAW, VHD, VHDX,
                    VMDK, OVA, QCOW2, ...) and the details that decide
                    whether AWS accepts it (VHD disk type, VMDK createType)
  detect_os(path)   which OS family the disk holds, by reading partition
                    tables and filesystem superblocks through a virtual
                    disk reader (RAW, fixed/dynamic VHD; a streamOptimized
                    VMDK once decoded).  None = no partition table or no
                    recognizable OS partition: AWS's "Unknown OS".

Only headers are read, never the whole file, so sniffing a large object
costs a few small reads."""
import os
import struct
import zlib

SECTOR = 512
FORMATS = ("OVA", "VHD", "VHDX", "VMDK", "RAW")  # ImportImage's valid values


def _pread(f, offset, n):
    f.seek(offset)
    return f.read(n)


# --- format detection -------------------------------------------------------

def detect(path):
    """{"format": ..., "size": n, ...details}.  format is one of FORMATS,
    or QCOW2 / ISO for known formats AWS does not import."""
    size = os.path.getsize(path)
    with open(path, "rb") as f:
        head = _pread(f, 0, 1024)
        tail = _pread(f, max(0, size - SECTOR), SECTOR) if size >= SECTOR else b""
        out = {"size": size}
        if head[:4] == b"QFI\xfb":
            return dict(out, format="QCOW2")
        if head[:8] == b"vhdxfile":
            return dict(out, format="VHDX")
        if head[:4] == b"KDMV":
            return dict(out, format="VMDK", **_vmdk_header(f, head))
        if head.lstrip()[:21] == b"# Disk DescriptorFile":
            ctype = _create_type(head.decode("latin-1"))
            return dict(out, format="VMDK", create_type=ctype, stream_optimized=False,
                        descriptor_only=True)
        if head[257:262] == b"ustar":
            return dict(out, format="OVA", **_ova(f, size))
        for footer in (tail, head[:SECTOR]):
            if footer[:8] == b"conectix":
                return dict(out, format="VHD", **_vhd_footer(footer))
        if _pread(f, 32769, 5) == b"CD001":
            return dict(out, format="ISO")
        return dict(out, format="RAW")


def _create_type(text):
    for line in text.splitlines():
        if line.strip().startswith("createType"):
            return line.split("=", 1)[1].strip().strip('"')
    return None


def _vmdk_header(f, head):
    """Sparse extent header: flags bit 16 = compressed grains, bit 17 =
    markers (both set for streamOptimized); the embedded descriptor names
    the createType."""
    flags, = struct.unpack_from("<I", head, 8)
    desc_off, desc_size = struct.unpack_from("<QQ", head, 28)
    ctype = None
    if desc_off and desc_size:
        text = _pread(f, desc_off * SECTOR, min(desc_size * SECTOR, 65536))
        ctype = _create_type(text.split(b"\0", 1)[0].decode("latin-1"))
    stream = bool(flags & (1 << 16)) and bool(flags & (1 << 17))
    if ctype is not None:
        stream = ctype == "streamOptimized"
    return {"create_type": ctype, "stream_optimized": stream}


def _vhd_footer(footer):
    disk_type, = struct.unpack_from(">I", footer, 60)
    current_size, = struct.unpack_from(">Q", footer, 48)
    data_offset, = struct.unpack_from(">Q", footer, 16)
    kind = {2: "fixed", 3: "dynamic", 4: "differencing"}.get(disk_type, "unknown")
    return {"vhd_type": kind, "virtual_size": current_size, "data_offset": data_offset}


def tar_members(f, size):
    """[(name, data_offset, length)] of a ustar archive."""
    out, off = [], 0
    while off + SECTOR <= size:
        hdr = _pread(f, off, SECTOR)
        if len(hdr) < SECTOR or hdr == b"\0" * SECTOR:
            break
        name = hdr[:100].split(b"\0", 1)[0].decode("utf-8", "replace")
        prefix = hdr[345:500].split(b"\0", 1)[0].decode("utf-8", "replace")
        if hdr[257:262] == b"ustar" and prefix:
            name = prefix + "/" + name
        try:
            length = int(hdr[124:136].split(b"\0", 1)[0].strip() or b"0", 8)
        except ValueError:
            break
        out.append((name, off + SECTOR, length))
        off += SECTOR + (length + SECTOR - 1) // SECTOR * SECTOR
    return out


def _ova(f, size):
    """AWS wants the .ovf first and its disks as VMDK members."""
    members = tar_members(f, size)
    names = [m[0] for m in members]
    ovf = [n for n in names if n.lower().endswith(".ovf")]
    disks = [m for m in members if m[0].lower().endswith(".vmdk")]
    chunked = any(".vmdk." in n.lower() for n in names)
    return {"members": names, "has_ovf": bool(ovf), "chunked": chunked,
            "disk_member": list(disks[0][1:]) if disks else None}


# --- virtual disk readers ---------------------------------------------------

class RawReader:
    """The file is the disk (optionally a window of it: an OVA member or
    a fixed VHD without its footer)."""

    def __init__(self, f, base=0, length=None):
        self.f, self.base = f, base
        self.size = length if length is not None else os.fstat(f.fileno()).st_size - base

    def read(self, offset, n):
        if offset >= self.size:
            return b"\0" * n
        data = _pread(self.f, self.base + offset, min(n, self.size - offset))
        return data + b"\0" * (n - len(data))


class DynamicVhdReader:
    """Dynamic VHD: a block allocation table of sector numbers; each block
    starts with a sector bitmap, then the data."""

    def __init__(self, f, footer):
        dyn = _pread(f, footer["data_offset"], 1024)
        if dyn[:8] != b"cxsparse":
            raise ValueError("dynamic VHD without a cxsparse header")
        table_off, = struct.unpack_from(">Q", dyn, 16)
        entries, block = struct.unpack_from(">II", dyn, 28)
        self.f, self.block, self.size = f, block, footer["virtual_size"]
        self.bitmap = (block // SECTOR // 8 + SECTOR - 1) // SECTOR * SECTOR
        raw = _pread(f, table_off, entries * 4)
        self.bat = struct.unpack(">%dI" % (len(raw) // 4), raw)

    def read(self, offset, n):
        out = bytearray()
        while n > 0:
            idx, within = divmod(offset, self.block)
            take = min(n, self.block - within)
            sector = self.bat[idx] if idx < len(self.bat) else 0xFFFFFFFF
            if sector == 0xFFFFFFFF:
                out += b"\0" * take
            else:
                data = _pread(self.f, sector * SECTOR + self.bitmap + within, take)
                out += data + b"\0" * (take - len(data))
            offset += take
            n -= take
        return bytes(out)


def open_reader(f, info):
    """A reader for the virtual disk inside `f`, or None when the emulator
    cannot look inside (VHDX, differencing VHD, ...).  A streamOptimized
    VMDK (alone or in an OVA) is not read here: VM Import decodes it into
    the snapshot first (vmdk_stream.decode), and that RAW is sniffed."""
    fmt = info["format"]
    if fmt == "RAW":
        return RawReader(f)
    if fmt == "VHD" and info.get("vhd_type") == "fixed":
        return RawReader(f, 0, info["size"] - SECTOR)
    if fmt == "VHD" and info.get("vhd_type") == "dynamic":
        return DynamicVhdReader(f, info)
    return None


# --- partitions and filesystems ---------------------------------------------

def partitions(disk):
    """Start offsets (bytes) of the partitions in an MBR or GPT table;
    None when the disk has no partition table at all."""
    mbr = disk.read(0, SECTOR)
    gpt = disk.read(SECTOR, SECTOR)
    if gpt[:8] == b"EFI PART":
        entry_lba, count, esize = struct.unpack_from("<QII", gpt, 72)
        table = disk.read(entry_lba * SECTOR, min(count, 128) * esize)
        starts = []
        for i in range(min(count, 128)):
            e = table[i * esize:(i + 1) * esize]
            if len(e) >= 48 and e[:16] != b"\0" * 16:
                starts.append(struct.unpack_from("<Q", e, 32)[0] * SECTOR)
        return starts
    if mbr[510:512] != b"\x55\xaa":
        return None
    starts = []
    for i in range(4):
        e = mbr[446 + 16 * i:462 + 16 * i]
        ptype, lba = e[4], struct.unpack_from("<I", e, 8)[0]
        if ptype and lba:
            starts.append(lba * SECTOR)
    return starts


def filesystem(disk, start):
    """The filesystem (or volume manager) whose signature sits at `start`."""
    head = disk.read(start, 2048)
    if head[3:11] == b"NTFS    ":
        return "ntfs"
    if head[1080:1082] == b"\x53\xef":
        return "ext"
    if head[:4] == b"XFSB":
        return "xfs"
    if b"LABELONE" in (head[512:520], head[:8], head[1024:1032], head[1536:1544]):
        return "lvm"
    if disk.read(start + 0x10040, 8) == b"_BHRfS_M":
        return "btrfs"
    return None


OS_OF = {"ntfs": "Windows", "ext": "Linux", "xfs": "Linux", "lvm": "Linux", "btrfs": "Linux"}


def detect_os(path, info=None):
    """("Windows"|"Linux"|None, why).  Windows wins if any partition is
    NTFS (the boot partition of a Windows disk is)."""
    info = info or detect(path)
    with open(path, "rb") as f:
        try:
            disk = open_reader(f, info)
        except (ValueError, struct.error, zlib.error):
            return None, "unreadable disk structures"
        if disk is None:
            return "Linux", "not inspected"  # documented: formats we cannot look into
        try:
            parts = partitions(disk)
            if parts is None:
                return None, "no partition table"
            found = [filesystem(disk, p) for p in parts]
        except (struct.error, zlib.error):
            return None, "unreadable disk structures"
    families = {OS_OF[fs] for fs in found if fs}
    if "Windows" in families:
        return "Windows", "ntfs"
    if "Linux" in families:
        return "Linux", ",".join(fs for fs in found if fs)
    return None, "no OS partition"
