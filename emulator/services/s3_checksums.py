"""S3 flexible checksums (aws-facts.md §4): CRC32, CRC32C, SHA1, SHA256,
plus MD5 for ETags and Content-MD5.  Values on the wire are base64 of the
big-endian raw digest.

CRC32C has no standard-library implementation.  When ISA-L is installed
(libisal2) its crc32_iscsi is used through ctypes; otherwise a pure-Python
version that does the per-byte work in C-speed primitives: the buffer is
split into N interleaved lanes (data[j::N]), each lane is mapped through
bytes.translate with the table of its position, lanes are XORed together
as big integers, and only one 4-lookup step per N-byte block remains in a
Python loop.  Both must agree (tests check the known vectors)."""
import base64
import ctypes
import ctypes.util
import hashlib
import os
import zlib

ALGORITHMS = ("crc32", "crc32c", "sha1", "sha256")
_POLY_C = 0x82F63B78  # CRC-32C (Castagnoli), reflected
LANES = 256           # N: bytes per block of the pure-Python CRC32C


def _byte_table(poly):
    table = []
    for b in range(256):
        c = b
        for _ in range(8):
            c = (c >> 1) ^ (poly if c & 1 else 0)
        table.append(c)
    return table


def _shift_tables(t0, n):
    """tables[d][b]: the CRC state contributed by byte b followed by d zero
    bytes (reflected, no init/xorout).  tables[0] is the ordinary table."""
    tables = [t0]
    for _ in range(n - 1):
        prev = tables[-1]
        tables.append([(v >> 8) ^ t0[v & 0xFF] for v in prev])
    return tables


_T0 = _byte_table(_POLY_C)
_LANE_TABLES = []


def _lane_tables():
    """Built on first use (0.2 s): not needed at all when ISA-L is there.
    Returns (lane translate tables [j][k], carry tables [k])."""
    if not _LANE_TABLES:
        shift = _shift_tables(_T0, LANES)
        lanes = [[bytes((shift[LANES - 1 - j][b] >> (8 * k)) & 0xFF for b in range(256))
                  for k in range(4)] for j in range(LANES)]
        carry = [shift[LANES - 1 - k] for k in range(4)]
        _LANE_TABLES.append((lanes, carry))
    return _LANE_TABLES[0]


def _crc32c_small(data, crc):
    t = _T0
    for b in data:
        crc = t[(crc ^ b) & 0xFF] ^ (crc >> 8)
    return crc


def _lane_words(data, lanes, width):
    """For each block of LANES bytes (len(data) % LANES == 0): the XOR of
    every byte's contribution to the register at the block's end, as a
    width-byte word.  The per-byte work happens in bytes.translate."""
    n = len(data) // LANES
    acc = [0] * width
    for j in range(LANES):
        lane = data[j::LANES]
        tabs = lanes[j]
        for k in range(width):
            acc[k] ^= int.from_bytes(lane.translate(tabs[k]), "little")
    inter = bytearray(width * n)
    for k in range(width):
        inter[k::width] = acc[k].to_bytes(n, "little")
    return memoryview(inter).cast("I" if width == 4 else "Q")


def _crc32c_blocks(data, crc):
    """Reflected CRC-32C register update over len(data) % LANES == 0 bytes."""
    lanes, carry = _lane_tables()
    c0, c1, c2, c3 = carry
    for v in _lane_words(data, lanes, 4):
        crc = (c0[crc & 0xFF] ^ c1[(crc >> 8) & 0xFF] ^ c2[(crc >> 16) & 0xFF]
               ^ c3[crc >> 24] ^ v)
    return crc


def crc32c_py(data, value=0):
    """CRC-32C of data continuing from value (like zlib.crc32's API)."""
    crc = value ^ 0xFFFFFFFF
    data = bytes(data)
    cut = len(data) - len(data) % LANES
    if cut >= 4 * LANES:
        crc = _crc32c_blocks(data[:cut] if cut != len(data) else data, crc)
        data = data[cut:]
    return _crc32c_small(data, crc) ^ 0xFFFFFFFF


def _load_isal():
    name = ctypes.util.find_library("isal")
    if not name:
        return None
    try:
        fn = ctypes.CDLL(name).crc32_iscsi
    except (OSError, AttributeError):
        return None
    fn.restype = ctypes.c_uint32
    fn.argtypes = [ctypes.c_char_p, ctypes.c_int, ctypes.c_uint32]

    def crc32c_isal(data, value=0):
        """ISA-L's crc32_iscsi has no pre/post inversion: add them here."""
        crc = value ^ 0xFFFFFFFF
        data = bytes(data)
        for off in range(0, len(data), 1 << 30):
            piece = data[off:off + (1 << 30)] if len(data) > 1 << 30 else data
            crc = fn(piece, len(piece), crc)
        return crc ^ 0xFFFFFFFF
    return crc32c_isal


crc32c_isal = _load_isal()
# VMIE_EMULATOR_CRC32C=python forces the fallback (to measure or test it)
crc32c = crc32c_py if os.environ.get("VMIE_EMULATOR_CRC32C") == "python" else \
    (crc32c_isal or crc32c_py)
CRC32C_IMPL = "python" if crc32c is crc32c_py else "isa-l"


# --- CRC-64/NVME: what S3 stores for objects that came without a checksum.
# The same lane technique as CRC32C above, with 64-bit table values, and an
# all-zero MiB (most of a disk image) applied as one precomputed operator.
_POLY_64NVME = 0x9A6C9329AC4BC9B5  # 0xAD93D23594C93659, reflected
_T64 = _byte_table(_POLY_64NVME)
_CRC64_TABLES = []
ZERO_RUN = 1 << 20
_ZERO_BLOCK = bytes(ZERO_RUN)


def _apply(op, r):
    """A linear operator on the 64-bit register, as 8 byte-indexed tables."""
    return (op[0][r & 0xFF] ^ op[1][(r >> 8) & 0xFF] ^ op[2][(r >> 16) & 0xFF] ^
            op[3][(r >> 24) & 0xFF] ^ op[4][(r >> 32) & 0xFF] ^ op[5][(r >> 40) & 0xFF] ^
            op[6][(r >> 48) & 0xFF] ^ op[7][r >> 56])


def _op_tables(fn):
    return [[fn(b << (8 * k)) for b in range(256)] for k in range(8)]


def _crc64_tables():
    """(lane tables [j][k], carry operator, operator of ZERO_RUN zero bytes)."""
    if not _CRC64_TABLES:
        shift = _shift_tables(_T64, LANES)
        lanes = [[bytes((shift[LANES - 1 - j][b] >> (8 * k)) & 0xFF for b in range(256))
                  for k in range(8)] for j in range(LANES)]
        carry = [shift[LANES - 1 - k] for k in range(8)]
        zero = _op_tables(lambda r: _T64[r & 0xFF] ^ (r >> 8))  # one zero byte
        n = 1
        while n < ZERO_RUN:  # square: the operator of 2n zero bytes
            zero = _op_tables(lambda r, z=zero: _apply(z, _apply(z, r)))
            n *= 2
        _CRC64_TABLES.append((lanes, carry, zero))
    return _CRC64_TABLES[0]


def _crc64_blocks(data, crc):
    lanes, carry, _ = _crc64_tables()
    for v in _lane_words(data, lanes, 8):
        crc = _apply(carry, crc) ^ v
    return crc


def _crc64_update(data, crc):
    """The raw (reflected, no init/xorout) register over data."""
    data = bytes(data)
    cut = len(data) - len(data) % LANES
    if cut:
        crc = _crc64_blocks(data[:cut] if cut != len(data) else data, crc)
    t = _T64
    for b in data[cut:]:
        crc = t[(crc ^ b) & 0xFF] ^ (crc >> 8)
    return crc


def crc64nvme_file(path, size):
    """CRC-64/NVME of the first `size` bytes of a file (zeros past its end,
    as an --s3-sink object reads back), a MiB at a time."""
    _, _, zero = _crc64_tables()
    crc = 0xFFFFFFFFFFFFFFFF
    done = 0
    f = open(path, "rb") if path and os.path.exists(path) else None
    try:
        while done < size:
            n = min(ZERO_RUN, size - done)
            block = f.read(n) if f else b""
            if len(block) < n:
                block += _ZERO_BLOCK[:n - len(block)]
            if n == ZERO_RUN and block == _ZERO_BLOCK:
                crc = _apply(zero, crc)
            else:
                crc = _crc64_update(block, crc)
            done += n
    finally:
        if f:
            f.close()
    return crc ^ 0xFFFFFFFFFFFFFFFF


def crc64nvme(data, value=0):
    """CRC-64/NVME of data continuing from value (like zlib.crc32's API)."""
    return _crc64_update(data, value ^ 0xFFFFFFFFFFFFFFFF) ^ 0xFFFFFFFFFFFFFFFF


class _Crc:
    def __init__(self, fn, size=4):
        self.fn, self.value, self.size = fn, 0, size

    def update(self, data):
        self.value = self.fn(data, self.value)

    def digest(self):
        return self.value.to_bytes(self.size, "big")


def new(alg):
    """A hasher with update()/digest() for one S3 checksum algorithm (or md5)."""
    if alg == "crc32":
        return _Crc(zlib.crc32)
    if alg == "crc32c":
        return _Crc(crc32c)
    if alg == "crc64nvme":
        return _Crc(crc64nvme, 8)
    if alg in ("sha1", "sha256", "md5"):
        return hashlib.new(alg)
    raise ValueError(alg)


def digest(alg, data):
    h = new(alg)
    h.update(data)
    return h.digest()


def b64(raw):
    return base64.b64encode(raw).decode()


def unb64(text, alg):
    """Raw digest from a header value; None when it is not valid base64 of
    the algorithm's digest size."""
    size = {"crc32": 4, "crc32c": 4, "crc64nvme": 8, "sha1": 20, "sha256": 32,
            "md5": 16}[alg]
    try:
        raw = base64.b64decode(text.strip(), validate=True)
    except (ValueError, TypeError):
        return None
    return raw if len(raw) == size else None


def composite(alg, part_digests):
    """COMPOSITE multipart checksum: base64(ALG(concat raw part digests)) + "-N"."""
    return f"{b64(digest(alg, b''.join(part_digests)))}-{len(part_digests)}"


def multipart_etag(part_md5s):
    return '"' + hashlib.md5(b"".join(part_md5s)).hexdigest() + f'-{len(part_md5s)}"'


def header_name(alg):
    return "x-amz-checksum-" + alg


def xml_name(alg):
    return "Checksum" + alg.upper()
