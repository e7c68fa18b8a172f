"""--max-bandwidth and the AWS CLI's s3 transfer settings from the profile,
measured where the bytes arrive: the emulator's meter sums the S3 body
bytes it reads and writes per 100 ms, and the cap must hold within 5 % over
every 10 s window of the transfer (and be used: a cap that starves the
transfer is no good either)."""
import json
import os

import pytest

from conftest import run

MIB = 1 << 20
BUCKET = "vmie-bw-test"
WINDOW_S = 10


def windows(series, tick_ms):
    """Bytes per second over every WINDOW_S window of the series."""
    ticks = dict(series)
    if not ticks:
        return []
    first, last = min(ticks), max(ticks)
    span = WINDOW_S * 1000 // tick_ms
    return [sum(ticks.get(t, 0) for t in range(s, s + span)) / WINDOW_S
            for s in range(first, last - span + 2)]


def check_rate(meter, direction, cap):
    rates = windows(meter[direction], meter["tick_ms"])
    assert rates, "the transfer lasted less than one window: make it longer"
    top = max(rates)
    assert top <= cap * 1.05, f"{top / MIB:.2f} MiB/s in some 10 s window, cap {cap / MIB:.2f}"
    assert top >= cap * 0.85, f"at most {top / MIB:.2f} MiB/s: the cap starves the transfer"


def image(path, size):
    with open(path, "wb") as f:
        f.write(os.urandom(size))


def test_upload_capped(vmie_bin, emu_env, control, tmp_path):
    src = tmp_path / "bw.raw"
    image(src, 56 * MIB)
    control("DELETE", "meter")
    control("POST", "meter", {"send_buffer": 65536})
    r = run(vmie_bin, ["import", "--s3-bucket", BUCKET, "--source", str(src),
                       "--upload-only", "--force", "--json", "--max-bandwidth", "4MB/s"],
            emu_env, timeout=120)
    assert r.returncode == 0, r.stderr
    assert "capped at 4.0 MiB/s (--max-bandwidth)" in r.stderr
    check_rate(control("GET", "meter"), "in", 4 * MIB)


def test_download_capped_from_the_profile(vmie_bin, emu_env, aws, control, tmp_path):
    """s3.max_bandwidth in the profile, in bits as the AWS CLI allows, and
    the profile's s3.multipart_chunksize for the ranges."""
    aws("s3api", "create-bucket", "--bucket", BUCKET,
        "--create-bucket-configuration", "LocationConstraint=us-west-2")
    src = tmp_path / "obj.raw"
    image(src, 56 * MIB)
    aws("s3api", "put-object", "--bucket", BUCKET, "--key", "obj.raw", "--body", str(src))
    cfg = tmp_path / "config"
    cfg.write_text("[default]\ns3 =\n  max_bandwidth = 32Mb/s\n"
                   "  multipart_chunksize = 6MB\n  max_concurrent_requests = 3\n")
    env = dict(emu_env, AWS_CONFIG_FILE=str(cfg))
    control("DELETE", "meter")
    control("POST", "meter", {"send_buffer": 65536})
    out = tmp_path / "out.raw"
    r = run(vmie_bin, ["download", "--json", f"s3://{BUCKET}/obj.raw", str(out)], env,
            timeout=120)
    assert r.returncode == 0, r.stderr
    assert out.read_bytes() == src.read_bytes()
    assert "(s3.max_bandwidth)" in r.stderr
    check_rate(control("GET", "meter"), "out", 4 * MIB)
    ranges = [q for q in control("GET", "requests") if q["operation"] == "GetObject"]
    assert len(ranges) == 10, len(ranges)  # 56 MiB in 6 MiB ranges


@pytest.mark.parametrize("value,words", [
    ("fast", "is not a rate"),
    ("50MB", "is not a rate"),
    ("0MB/s", "is not a rate"),
])
def test_bad_rate_is_a_usage_error(vmie_bin, emu_env, tmp_path, value, words):
    src = tmp_path / "x.raw"
    src.write_bytes(b"\0" * 1024)
    r = run(vmie_bin, ["import", "--s3-bucket", BUCKET, "--source", str(src),
                       "--max-bandwidth", value], emu_env)
    assert r.returncode == 2, r.stderr
    assert words in r.stderr and "50MB/s" in r.stderr


def test_bad_profile_setting_names_the_key(vmie_bin, emu_env, tmp_path):
    cfg = tmp_path / "config"
    cfg.write_text("[default]\ns3 =\n  max_bandwidth = lots\n")
    src = tmp_path / "x.raw"
    src.write_bytes(b"\0" * 1024)
    r = run(vmie_bin, ["import", "--s3-bucket", BUCKET, "--source", str(src),
                       "--upload-only", "--force"], dict(emu_env, AWS_CONFIG_FILE=str(cfg)))
    assert r.returncode == 3, r.stderr
    assert "s3.max_bandwidth 'lots'" in r.stderr
