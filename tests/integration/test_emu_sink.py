"""The emulator's benchmark mode (--s3-sink): S3 keeps what a client can
check (sizes, ETags, checksums) but not the bytes, so a benchmark measures
the client, not the emulator's disk."""
import base64
import os

import pytest

MIB = 1 << 20


@pytest.fixture
def emulator_args():
    return ["--s3-sink"]


def _crc32c(data):
    import sys
    from conftest import ROOT
    sys.path.insert(0, str(ROOT))
    from emulator.services import s3_checksums as ck
    h = ck.new("crc32c")
    h.update(data)
    return h.digest()


def test_sink_keeps_sizes_and_checksums_not_bytes(aws, tmp_path):
    data = os.urandom(20 * MIB + 12345)
    src = tmp_path / "src.bin"
    src.write_bytes(data)
    aws("s3api", "create-bucket", "--bucket", "sink-bucket",
        "--create-bucket-configuration", "LocationConstraint=us-west-2")
    # A single PUT with a checksum the emulator must still verify ...
    r = aws("s3api", "put-object", "--bucket", "sink-bucket", "--key", "one",
            "--body", str(src), "--checksum-algorithm", "CRC32C")
    assert r["ChecksumCRC32C"] == base64.b64encode(_crc32c(data)).decode()
    # ... and a multipart upload, whose parts must add up.
    up = aws("s3", "cp", str(src), "s3://sink-bucket/multi", check=False)
    assert up.returncode == 0, up.stderr
    head = aws("s3api", "head-object", "--bucket", "sink-bucket", "--key", "multi")
    assert head["ContentLength"] == len(data)
    assert head["ETag"].endswith('-3"'), head["ETag"]
    # The bytes were not kept: the object reads back as zeros of that size.
    out = tmp_path / "back.bin"
    aws("s3api", "get-object", "--bucket", "sink-bucket", "--key", "multi", str(out))
    assert out.stat().st_size == len(data)
    with open(out, "rb") as f:
        assert f.read(MIB) == bytes(MIB)
    # Nothing of the 40 MiB sent landed on the emulator's disk.
    state = tmp_path / "emu-state"
    used = sum(os.stat(os.path.join(d, n)).st_blocks * 512
               for d, _, names in os.walk(state) for n in names)
    assert used < 4 * MIB, used


def test_sink_still_refuses_a_bad_checksum(aws, tmp_path):
    src = tmp_path / "src.bin"
    src.write_bytes(b"x" * 1000)
    aws("s3api", "create-bucket", "--bucket", "sink-bucket2",
        "--create-bucket-configuration", "LocationConstraint=us-west-2")
    bad = base64.b64encode(b"\0\0\0\0").decode()
    r = aws("s3api", "put-object", "--bucket", "sink-bucket2", "--key", "k",
            "--body", str(src), "--checksum-crc32c", bad, check=False)
    assert r.returncode != 0
    assert "BadDigest" in r.stderr or "checksum" in r.stderr.lower(), r.stderr
