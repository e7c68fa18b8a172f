"""Disk images the integration tests build: small, sparse, and shaped so
vmie's checks (and the emulator's) see a Linux boot disk."""
import os
import struct

MIB = 1 << 20
PART_START = 2048 * 512  # where partitioning tools put the first partition


def make_raw(path, size, data_bytes=0):
    """A sparse disk: an MBR with one bootable Linux partition from sector
    2048 to the end, and an ext4 superblock's magic and INCOMPAT_EXTENTS
    flag where the partition's filesystem starts, so the OS probe sees
    Linux.  data_bytes of random data after the superblock make the image
    worth compressing and checking byte for byte."""
    sectors = size // 512 - 2048
    with open(path, "wb") as f:
        f.truncate(size)
        f.seek(446)
        f.write(struct.pack("<B3sB3sII", 0x80, b"\0\0\0", 0x83, b"\0\0\0", 2048, sectors))
        f.seek(510)
        f.write(b"\x55\xaa")
        sb = PART_START + 1024
        f.seek(sb + 56)
        f.write(struct.pack("<H", 0xEF53))
        f.seek(sb + 0x60)
        f.write(struct.pack("<I", 0x40))
        if data_bytes:
            f.seek(PART_START + 64 * 1024)
            f.write(os.urandom(data_bytes))
