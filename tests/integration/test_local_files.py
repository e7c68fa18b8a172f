"""Bad input and local files (issue 12, defect 12): a FIFO, decompression
bombs, images vmie cannot identify, absurd sizes, symbolic links where
vmie writes, endpoint URLs that are no endpoints or send credentials in
clear text, a role name IAM refuses, and https sources behind a private
CA."""
import gzip
import http.server
import json
import os
import signal
import ssl
import struct
import subprocess
import threading
import time
import zlib

import pytest

from conftest import run
from images import MIB, make_raw

BUCKET = "vmie-local-files"


def assert_clean(r):
    assert "Sanitizer" not in r.stderr and "runtime error:" not in r.stderr, r.stderr


def inspect_json(vmie_bin, env, path, **kw):
    r = run(vmie_bin, ["inspect", "--json", str(path)], env, **kw)
    assert_clean(r)
    return r, json.loads(r.stdout)


def codes(doc):
    return [f["code"] for f in doc["findings"]]


def gzip_members(path, head, zero_bytes, member=256 * MIB):
    """head, then zero_bytes of zeros, as a multi-member gzip: each member
    of zeros is compressed once and written again and again (a bomb in
    seconds)."""
    with open(path, "wb") as f:
        f.write(gzip.compress(head, 1))
        one = gzip.compress(bytes(member), 1)
        for _ in range(zero_bytes // member):
            f.write(one)
    return path


# --- reading ---------------------------------------------------------------------------

def test_inspect_fifo_does_not_hang(vmie_bin, clean_env, tmp_path):
    fifo = tmp_path / "p"
    os.mkfifo(fifo)
    r = run(vmie_bin, ["inspect", str(fifo)], clean_env, timeout=10)
    assert r.returncode == 4, r.stderr
    assert "is not a regular file or a block device" in r.stderr


def test_bomb_stops_at_the_declared_capacity(vmie_bin, clean_env, tmp_path):
    """A VMDK header saying 1 MiB of capacity, then 1 GiB of zeros: the
    decoding stops where the capacity says the file must end."""
    head = bytearray(512)
    head[0:4] = b"KDMV"
    struct.pack_into("<IIQQ", head, 4, 1, 3, 2048, 128)
    bomb = gzip_members(tmp_path / "bomb.vmdk.gz", bytes(head), 1 << 30)
    r, doc = inspect_json(vmie_bin, clean_env, bomb, timeout=60)
    assert r.returncode == 4, r.stderr
    msg = next(f["message"] for f in doc["findings"] if f["code"] == "decompress-failed")
    assert "more than the capacity its VMDK header declares allows" in msg
    assert doc["importable"] is False


@pytest.fixture
def mbr_bomb(tmp_path):
    """An MBR disk's first MiB, then 320 MiB of zeros, gzipped; tests set
    VMIE_MAX_IMAGE_SIZE (a test knob that can only lower AWS's 16 TiB
    limit) to 64 MiB to stand for AWS's limit."""
    disk = tmp_path / "disk.raw"
    make_raw(disk, MIB)
    return gzip_members(tmp_path / "bomb.raw.gz", disk.read_bytes(), 320 * MIB,
                        member=64 * MIB)


def test_bomb_stops_at_aws_limit_in_inspect(vmie_bin, clean_env, mbr_bomb):
    env = dict(clean_env, VMIE_MAX_IMAGE_SIZE=str(64 * MIB))
    r, doc = inspect_json(vmie_bin, env, mbr_bomb, timeout=60)
    assert r.returncode == 4, r.stderr
    assert "more than AWS's image size limit allows" in json.dumps(doc["findings"])


def test_bomb_upload_is_capped(vmie_bin, emu_env, control, mbr_bomb):
    env = dict(emu_env, VMIE_MAX_IMAGE_SIZE=str(64 * MIB))
    r = run(vmie_bin, ["import", "-b", BUCKET, "-s", str(mbr_bomb), "--upload-only"], env,
            timeout=120)
    assert_clean(r)
    assert r.returncode == 4, r.stderr
    assert "more than AWS's image size limit allows" in r.stderr
    assert "decompression bomb" in r.stderr
    state = control("GET", "state")["s3"]
    assert state["multipart_uploads_open"] == [] and state["objects"] == 0


def test_signals_stop_inspect(vmie_bin, clean_env, tmp_path):
    """50 GiB of zeros take a minute to decode: SIGINT ends it at once."""
    bomb = gzip_members(tmp_path / "zeros.raw.gz", bytes(512), 50 << 30)
    for sig in (signal.SIGINT, signal.SIGTERM):
        p = subprocess.Popen([vmie_bin, "inspect", str(bomb)], env=clean_env,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        time.sleep(1)
        assert p.poll() is None, "inspect finished before the signal"
        t0 = time.time()
        p.send_signal(sig)
        try:
            p.wait(timeout=5)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
            pytest.fail(f"inspect ignored signal {sig}")
        assert p.returncode == -sig, p.returncode
        assert time.time() - t0 < 5


def test_truncated_vhd_is_not_importable(vmie_bin, clean_env, tmp_path):
    """The first 100 bytes of a dynamic VHD: 'conectix', then nothing."""
    footer = bytearray(512)
    struct.pack_into(">8sIIQ", footer, 0, b"conectix", 2, 0x10000, 512)
    struct.pack_into(">QQI", footer, 40, 8 * MIB, 8 * MIB, 0)
    struct.pack_into(">I", footer, 60, 3)
    cut = tmp_path / "x.vhd"
    cut.write_bytes(bytes(footer[:100]))
    r, doc = inspect_json(vmie_bin, clean_env, cut)
    assert r.returncode == 4, r.stderr
    assert doc["importable"] is False
    assert "unrecognized-image" in codes(doc)
    r = run(vmie_bin, ["inspect", str(cut)], clean_env)
    assert "Importable:      no" in r.stdout


def test_vhd_size_field_of_2_64_minus_1(vmie_bin, clean_env, tmp_path):
    footer = bytearray(512)
    struct.pack_into(">8sIIQ", footer, 0, b"conectix", 2, 0x10000, 0xFFFFFFFFFFFFFFFF)
    struct.pack_into(">QQ", footer, 40, 2**64 - 1, 2**64 - 1)
    struct.pack_into(">I", footer, 60, 2)
    struct.pack_into(">I", footer, 64, (~sum(footer)) & 0xFFFFFFFF)
    vhd = tmp_path / "huge.vhd"
    vhd.write_bytes(bytes(MIB) + bytes(footer))
    r, doc = inspect_json(vmie_bin, clean_env, vhd)
    assert r.returncode == 4, r.stderr
    assert doc["virtual_size"] == 2**64 - 1 or doc["virtual_size"] > 2**63
    assert "image-too-large" in codes(doc)


# --- writing -----------------------------------------------------------------------------

@pytest.fixture
def exported(emulator, emu_env):
    """An object to download, put there by the AWS CLI's botocore in process."""
    from awscli.botocore.session import Session
    s3 = Session().create_client("s3", region_name="us-west-2", endpoint_url=emulator,
                                 aws_access_key_id=emu_env["AWS_ACCESS_KEY_ID"],
                                 aws_secret_access_key=emu_env["AWS_SECRET_ACCESS_KEY"])
    s3.create_bucket(Bucket=BUCKET,
                     CreateBucketConfiguration={"LocationConstraint": "us-west-2"})
    data = os.urandom(256 * 1024)
    s3.put_object(Bucket=BUCKET, Key="obj", Body=data)
    return f"s3://{BUCKET}/obj", data


def test_download_never_writes_through_a_link(vmie_bin, emu_env, exported, tmp_path):
    url, data = exported
    victim = tmp_path / "victim"
    victim.write_bytes(b"precious")
    link = tmp_path / "out.raw"
    link.symlink_to(victim)
    for extra in ([], ["--overwrite"]):
        r = run(vmie_bin, ["download", *extra, url, str(link)], emu_env)
        assert r.returncode != 0, r.stderr
        assert "symbolic link" in r.stderr
        assert victim.read_bytes() == b"precious"


def test_download_overwrite_makes_the_file_private(vmie_bin, emu_env, exported, tmp_path):
    url, data = exported
    out = tmp_path / "out.raw"
    out.write_bytes(b"old")
    out.chmod(0o644)
    r = run(vmie_bin, ["download", "--overwrite", url, str(out)], emu_env)
    assert r.returncode == 0, r.stderr
    assert out.read_bytes() == data
    assert out.stat().st_mode & 0o777 == 0o600


def test_log_file(vmie_bin, clean_env, tmp_path):
    victim = tmp_path / "victim"
    victim.write_text("precious\n")
    link = tmp_path / "log"
    link.symlink_to(victim)
    r = run(vmie_bin, ["--log-file", str(link), "inspect", "/nonexistent"], clean_env)
    assert "symbolic link" in r.stderr
    assert victim.read_text() == "precious\n"
    log = tmp_path / "log2"
    log.write_text("")
    log.chmod(0o644)
    r = run(vmie_bin, ["--log-file", str(log), "inspect", "/nonexistent"], clean_env)
    assert log.stat().st_mode & 0o777 == 0o600
    assert "vmie" in log.read_text()


# --- options -------------------------------------------------------------------------------

def test_endpoint_url_that_is_no_endpoint_is_a_usage_error(vmie_bin, emu_env, tmp_path):
    disk = tmp_path / "d.raw"
    make_raw(disk, 8 * MIB)
    for args in (["whoami"], ["import", "-b", BUCKET, "-s", str(disk)]):
        r = run(vmie_bin, ["--endpoint-url", "file:///x", *args], emu_env)
        assert r.returncode == 2, r.stderr
        assert "the scheme must be http:// or https://" in r.stderr


def test_role_name_over_64_characters(vmie_bin, emu_env, tmp_path):
    disk = tmp_path / "d.raw"
    make_raw(disk, 8 * MIB)
    r = run(vmie_bin, ["import", "-b", BUCKET, "-s", str(disk), "--role-name", "r" * 65],
            emu_env)
    assert r.returncode == 2, r.stderr
    assert "IAM role names are at most 64" in r.stderr


def test_plain_http_to_another_host(vmie_bin, emu_env, emulator):
    """0.0.0.0 reaches this machine but is no loopback name: it stands for
    another host here."""
    far = emulator.replace("127.0.0.1", "0.0.0.0")
    r = run(vmie_bin, ["whoami", "--endpoint-url", far], emu_env)
    assert r.returncode == 2, r.stderr
    assert "plain http to another host" in r.stderr and "--allow-http" in r.stderr
    r = run(vmie_bin, ["whoami"], dict(emu_env, AWS_ENDPOINT_URL=far))
    assert r.returncode == 3, r.stderr
    assert "plain http to another host" in r.stderr
    r = run(vmie_bin, ["whoami", "--allow-http", "--endpoint-url", far], emu_env)
    assert r.returncode == 0, r.stderr
    assert "vmie: warning: --allow-http" in r.stderr and "clear" not in r.stdout
    assert r.stderr.count("--allow-http: requests to") == 1


@pytest.fixture
def https_server(tmp_path):
    """An https server with a certificate of our own CA (openssl)."""
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                    "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
                    "-keyout", str(key), "-out", str(cert)], check=True, capture_output=True)
    root = tmp_path / "www"
    root.mkdir()
    make_raw(root / "disk.raw", 8 * MIB, MIB)

    class Handler(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *a, **kw):
            super().__init__(*a, directory=str(root), **kw)

        def log_message(self, *a):
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(str(cert), str(key))
    httpd.socket = ctx.wrap_socket(httpd.socket, server_side=True)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"https://127.0.0.1:{httpd.server_address[1]}/disk.raw", cert
    httpd.shutdown()
    httpd.server_close()


def test_https_source_trusts_aws_ca_bundle(vmie_bin, emu_env, control, https_server):
    url, cert = https_server
    r = run(vmie_bin, ["import", "-b", BUCKET, "-s", url, "--upload-only"], emu_env)
    assert r.returncode == 4, r.stderr  # an unknown CA: refused, TLS stays verified
    r = run(vmie_bin, ["import", "-b", BUCKET, "-s", url, "--upload-only"],
            dict(emu_env, AWS_CA_BUNDLE=str(cert)))
    assert r.returncode == 0, r.stderr
    assert control("GET", "state")["s3"]["objects"] == 1
