"""An import through an assume-role profile whose sessions last 15 minutes
of AWS time, on an emulated clock 150 times faster: each session lives 6
real seconds, so sessions expire during the upload (the source is slow)
and during the import task's wait.  vmie must renew them before they run
out: the emulator's request log shows no refused request at all, and
sessions whose end fell inside each phase."""
import http.server
import threading
import time

import pytest

from conftest import EMU_ACCESS_KEY, EMU_SECRET_KEY, run
from creds_util import create_role, requests, write_config
from images import MIB, make_raw

SPEED = 150.0
SESSION_S = 900  # duration_seconds: STS's minimum
LIFE = SESSION_S / SPEED
BUCKET = "vmie-renewal-test"
SIZE = 32 * MIB
DATA = 24 * MIB  # random: three 8 MiB parts after the on-the-fly VMDK
DRIP_S = 9.0  # how long the source takes to send the image


@pytest.fixture
def emulator_speed():
    return SPEED


class SlowSource:
    """Serves one file over http at a rate that makes it last DRIP_S."""

    def __init__(self, path):
        data = open(path, "rb").read()

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.0"

            def log_message(self, *a):
                pass

            def do_GET(self):
                self.send_response(200)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                step = 256 * 1024
                pause = DRIP_S / (len(data) / step)
                for i in range(0, len(data), step):
                    self.wfile.write(data[i:i + step])
                    time.sleep(pause)

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/disk.raw"

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()


def ended_within(ends, first, last):
    return [e for e in ends if first < e < last]


def test_import_renews_assumed_credentials_mid_upload_and_mid_task(
        vmie_bin, clean_env, emulator, control, tmp_path):
    role = create_role(emulator, "Importer")
    env = dict(clean_env, AWS_REGION="us-west-2", AWS_ENDPOINT_URL=emulator,
               VMIE_POLL_SCALE="0.1")
    write_config(env, f"""[profile base]
aws_access_key_id = {EMU_ACCESS_KEY}
aws_secret_access_key = {EMU_SECRET_KEY}
[profile importer]
role_arn = {role}
source_profile = base
duration_seconds = {SESSION_S}
""")
    disk = tmp_path / "disk.raw"
    make_raw(disk, SIZE, DATA)
    src = SlowSource(disk)
    try:
        r = run(vmie_bin, ["--profile", "importer", "import", "--s3-bucket", BUCKET,
                           "--source", src.url, "--json"], env, timeout=240)
    finally:
        src.stop()
    assert r.returncode == 0, r.stderr

    log = requests(control)
    # A 404 is how vmie learns the bucket and role do not exist yet; any
    # other answer above 399 (ExpiredToken above all) is a failed request.
    probes = {"HeadBucket", "GetRole", "GetRolePolicy"}
    failed = [(q["operation"], q["status"]) for q in log
              if q["status"] is None or q["status"] >= 400 and
              not (q["status"] == 404 and q["operation"] in probes)]
    assert failed == []
    ends = [q["time"] + LIFE for q in log if q["operation"] == "AssumeRole"]

    upload = [q for q in log if q["operation"] in ("CreateMultipartUpload", "UploadPart",
                                                   "CompleteMultipartUpload")]
    parts = [q for q in upload if q["operation"] == "UploadPart"]
    assert len(parts) >= 3
    assert ended_within(ends, upload[0]["time"], upload[-1]["time"]), \
        "no session ended during the upload"
    assert len({q["akid"] for q in upload}) >= 2

    wait = [q for q in log if q["operation"] in ("ImportImage", "DescribeImportImageTasks")]
    assert ended_within(ends, wait[0]["time"], wait[-1]["time"]), \
        "no session ended during the task wait"
    assert len({q["akid"] for q in wait}) >= 2
    # Every signed request after the first AssumeRole used a session key.
    assert all(q["akid"].startswith("ASIA") for q in upload + wait)
