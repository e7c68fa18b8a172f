"""The vmie command line: parsing, help, validation messages, exit statuses,
log files, --json and colour.  Drives the real binary (VMIE_BIN, default
build/vmie); no AWS is contacted: every run stops at validation or, with
no credentials anywhere, before its first request.  Every test gets its own HOME, XDG_STATE_HOME and
AWS config paths (conftest.clean_env) so the developer's setup never leaks
in."""
import json
import os
import pathlib
import pty
import re
import signal
import stat
import subprocess
import time

import pytest

from conftest import run as _run

ESC = "\x1b["


def run(vmie_bin, args, env, **kw):
    """conftest.run, and no sanitizer report (ASan/UBSan builds) on any path."""
    r = _run(vmie_bin, args, env, **kw)
    assert "Sanitizer" not in r.stderr and "runtime error:" not in r.stderr, r.stderr
    return r
AMI = "ami-0123456789abcdef0"

COMMAND_OPTIONS = {
    "import": ["-r", "--region", "-b", "--s3-bucket", "-s", "--source",
               "--install-sanbootable", "--instance-profile", "--license-type",
               "--usage-operation", "--instance-type", "--subnet-id"],
    "export": ["-r", "--region", "-b", "--s3-bucket", "-a", "--ami-id",
               "--install-sanbootable", "--instance-profile", "--s3-export-prefix",
               "--export-format", "--download", "--sparse", "--overwrite",
               "--instance-type", "--subnet-id"],
    "convert": ["-r", "--region", "-b", "--s3-bucket", "-s", "--source",
                "--install-sanbootable", "--instance-profile", "--s3-export-prefix",
                "--export-format", "--download", "--instance-type",
                "--license-type", "--usage-operation"],
    "whoami": ["-r", "--region"],
}
NOT_OPTIONS = {
    "import": ["--ami-id", "--s3-export-prefix", "--download", "--export-format"],
    "export": ["--source", "--license-type", "--usage-operation"],
    "convert": ["--ami-id"],
    "whoami": ["--s3-bucket", "--source", "--ami-id", "--install-sanbootable"],
}
GLOBALS = ["--profile", "--endpoint-url", "--debug", "-v", "--verbose", "-q", "--quiet",
           "--log-file", "--json", "--no-progress", "--version", "-h", "--help"]
ENV_VARS = ["AWS_PROFILE", "AWS_REGION", "AWS_DEFAULT_REGION", "AWS_ENDPOINT_URL",
            "AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE", "AWS_CA_BUNDLE",
            "AWS_MAX_ATTEMPTS", "AWS_RETRY_MODE", "NO_COLOR", "XDG_STATE_HOME"]


@pytest.fixture
def env(clean_env):
    """A clean environment with a region, as most tests want."""
    return dict(clean_env, AWS_REGION="us-west-2")


@pytest.fixture
def image(tmp_path):
    """A RAW disk the import preflight accepts: an MBR with one Linux
    partition whose ext4 superblock magic the OS probe recognises."""
    p = tmp_path / "disk.raw"
    data = bytearray(4 << 20)
    data[446:462] = bytes([0x80, 0, 0, 0, 0x83, 0, 0, 0]) + (2048).to_bytes(4, "little") + \
        (len(data) // 512 - 2048).to_bytes(4, "little")
    data[510:512] = b"\x55\xaa"
    data[2048 * 512 + 1024 + 56:2048 * 512 + 1024 + 58] = b"\x53\xef"
    p.write_bytes(bytes(data))
    return str(p)


def log_dir(env):
    return pathlib.Path(env["XDG_STATE_HOME"]) / "vmie" / "logs"


def logs(env):
    d = log_dir(env)
    return sorted(d.iterdir()) if d.exists() else []


def error_lines(r):
    return [l for l in r.stderr.splitlines() if l.startswith("vmie: error: ")]


def hint_lines(r):
    return [l for l in r.stderr.splitlines() if l.startswith("vmie: hint: ")]


def assert_fails(r, status, fragment, hint=None):
    """One error line containing fragment, a hint line, the exit status."""
    assert r.returncode == status, (r.returncode, r.stderr)
    errs = error_lines(r)
    assert len(errs) == 1, r.stderr
    assert fragment in errs[0], r.stderr
    hints = hint_lines(r)
    assert len(hints) == 1, r.stderr
    if hint:
        assert hint in hints[0], r.stderr
    assert ESC not in r.stderr


# --- help and version -------------------------------------------------------

def test_version(vmie_bin, env):
    r = run(vmie_bin, ["--version"], env)
    assert r.returncode == 0
    assert r.stdout == "vmie 0.1.0\n"
    assert logs(env) == []


def test_main_help(vmie_bin, env):
    r = run(vmie_bin, ["--help"], env)
    assert r.returncode == 0, r.stderr
    out = r.stdout
    for cmd in COMMAND_OPTIONS:
        assert re.search(rf"^  {cmd} ", out, re.M), cmd
    for opt in GLOBALS:
        assert opt in out, opt
    for status in ["0 ", "1 ", "2 ", "3 ", "4 ", "5 ", "130 ", "143 "]:
        assert re.search(rf"^  {status}", out, re.M), status
    assert not re.search(r"^  6 ", out, re.M)  # every command is implemented
    for var in ENV_VARS:
        assert var in out, var
    assert r.stderr == ""
    assert logs(env) == []


@pytest.mark.parametrize("cmd", sorted(COMMAND_OPTIONS))
def test_command_help_lists_every_option(vmie_bin, env, cmd):
    r = run(vmie_bin, [cmd, "--help"], env)
    assert r.returncode == 0, r.stderr
    out = r.stdout
    assert out.startswith(f"Usage: vmie {cmd} ")
    for opt in COMMAND_OPTIONS[cmd] + GLOBALS:
        assert re.search(rf"(^|[ ,]){re.escape(opt)}\b", out, re.M), (cmd, opt)
    for opt in NOT_OPTIONS[cmd]:
        assert not re.search(rf"^ +(-\w, )?{re.escape(opt)}\b", out, re.M), (cmd, opt)
    assert "Example:" in out and f"vmie {cmd}" in out.split("Example:")[1]
    if cmd != "whoami":
        assert "VMIEInstanceProfile" in out  # defaults are shown
    # Same text through `vmie help CMD` and -h.
    assert run(vmie_bin, ["help", cmd], env).stdout == out
    assert run(vmie_bin, [cmd, "-h"], env).stdout == out
    assert logs(env) == []


def test_help_main_through_help_command(vmie_bin, env):
    assert run(vmie_bin, ["help"], env).stdout == run(vmie_bin, ["--help"], env).stdout


def test_help_unknown_topic(vmie_bin, env):
    r = run(vmie_bin, ["help", "bogus"], env)
    assert_fails(r, 2, "unknown command 'bogus'", "vmie --help")


# --- usage errors: exit 2, no log file ---------------------------------------

@pytest.mark.parametrize("args,fragment,hint", [
    (["import", "--bogus"], "unknown option '--bogus'", "Run 'vmie import --help'"),
    (["import", "--bogus=1"], "unknown option '--bogus'", "Run 'vmie import --help'"),
    (["export", "-x"], "unknown option '-x'", "Run 'vmie export --help'"),
    (["--bogus", "convert"], "unknown option '--bogus'", "Run 'vmie convert --help'"),
    (["import", "--s3"], "ambiguous option '--s3'", "Run 'vmie import --help'"),
    (["import", "-b", "b", "-s", "x", "--ami-id", AMI], "--ami-id is not an option of 'vmie import'",
     "Run 'vmie import --help'"),
    (["import", "-b", "b", "-s", "x", "--s3-export-prefix", "p/"],
     "--s3-export-prefix is not an option of 'vmie import'", "Run 'vmie import --help'"),
    (["export", "-b", "b", "-a", AMI, "-s", "x"], "--source is not an option of 'vmie export'",
     "Run 'vmie export --help'"),
    (["export", "-b", "b", "-a", AMI, "--license-type", "AWS"],
     "--license-type is not an option of 'vmie export'", "Run 'vmie export --help'"),
    (["whoami", "--s3-bucket", "b"], "--s3-bucket is not an option of 'vmie whoami'",
     "Run 'vmie whoami --help'"),
    (["convert", "-a", AMI], "--ami-id is not an option of 'vmie convert'",
     "Run 'vmie convert --help'"),
    (["import", "--region"], "option '--region' needs a value", "Run 'vmie import --help'"),
    (["import", "-b"], "option '-b' needs a value", "Run 'vmie import --help'"),
    (["import", "--s3-bucket="], "option '--s3-bucket' needs a value", "Run 'vmie import --help'"),
    (["import", "--json=yes"], "option '--json' takes no value", "Run 'vmie import --help'"),
    (["import", "-b", "b", "-s", "x", "extra"], "unexpected argument 'extra'",
     "Run 'vmie import --help'"),
    (["frobnicate"], "unknown command 'frobnicate'", "Run 'vmie --help'"),
    ([], "no command given", "Run 'vmie --help'"),
    (["--debug"], "no command given", "Run 'vmie --help'"),
    (["import", "-s", "x"], "missing required option --s3-bucket (-b)", "Run 'vmie import --help'"),
    (["import", "-b", "my-bucket"], "missing required option --source (-s)",
     "Run 'vmie import --help'"),
    (["convert", "-b", "my-bucket"], "missing required option --source (-s)",
     "Run 'vmie convert --help'"),
    (["export", "-b", "my-bucket"], "missing required option --ami-id (-a)",
     "Run 'vmie export --help'"),
    (["export", "-a", AMI], "missing required option --s3-bucket (-b)", "Run 'vmie export --help'"),
])
def test_usage_errors(vmie_bin, env, args, fragment, hint):
    r = run(vmie_bin, args, env)
    assert_fails(r, 2, fragment, hint)
    assert r.stdout == ""
    assert "full log" not in r.stderr
    assert logs(env) == []


def test_usage_error_json(vmie_bin, env):
    r = run(vmie_bin, ["import", "--bogus", "--json"], env)
    assert r.returncode == 2
    doc = json.loads(r.stdout)
    assert doc["status"] == -20050
    assert doc["exit_status"] == 2
    assert doc["error"]["code"] == "ERR_INVALID_ARGUMENT"
    assert "--bogus" in doc["error"]["message"]


# --- validation errors ---------------------------------------------------------

def imp(*extra, bucket="my-bucket", source=None, cmd="import"):
    args = [cmd, "-b", bucket]
    if source is not None:
        args += ["-s", source]
    return args + list(extra)


def conv(*extra, **kw):
    return imp(*extra, cmd="convert", **kw)


@pytest.mark.parametrize("bucket,why", [
    ("ab", "must be 3 to 63 characters long"),
    ("a" * 64, "must be 3 to 63 characters long"),
    ("My-Bucket", "may contain only lowercase letters, digits, dots and hyphens"),
    ("my_bucket", "may contain only lowercase letters, digits, dots and hyphens"),
    ("-bucket", "must begin and end with a lowercase letter or digit"),
    ("bucket.", "must begin and end with a lowercase letter or digit"),
    ("my..bucket", "must not contain two adjacent dots"),
    ("10.0.0.1", "must not be formatted as an IP address"),
    ("xn--bucket", "must not start with 'xn--'"),
    ("sthree-bucket", "must not start with 'sthree-'"),
    ("amzn-s3-demo-bucket", "must not start with 'amzn-s3-demo-'"),
    ("bucket-s3alias", "must not end with '-s3alias'"),
    ("bucket--ol-s3", "must not end with '--ol-s3'"),
    ("bucket.mrap", "must not end with '.mrap'"),
    ("bucket--x-s3", "must not end with '--x-s3'"),
])
def test_bad_bucket_names(vmie_bin, env, bucket, why):
    r = run(vmie_bin, ["export", "-b", bucket, "-a", AMI], env)
    assert_fails(r, 2, f"--s3-bucket '{bucket}': bucket names {why}", "bucket")


@pytest.mark.parametrize("ami", ["ami-123", "ami-0123456789ABCDEF0", "ami-0123456789abcdef",
                                 "i-0123456789abcdef0", "0123456789abcdef0"])
def test_bad_ami_id(vmie_bin, env, ami):
    r = run(vmie_bin, ["export", "-b", "my-bucket", "-a", ami], env)
    assert_fails(r, 2, f"--ami-id '{ami}' is not an AMI id", "ami-0123456789abcdef0")


@pytest.mark.parametrize("args,fragment,hint", [
    (["--license-type", "GPL"], "--license-type 'GPL' is not AWS or BYOL",
     "--license-type AWS or --license-type BYOL"),
    (["--license-type", "byol"], "--license-type 'byol' is not AWS or BYOL",
     "--license-type BYOL"),
    (["--license-type", "AWS", "--usage-operation", "RunInstances:0010"],
     "--license-type and --usage-operation are mutually exclusive", "only one"),
    (["--usage-operation", "RunInstance"], "--usage-operation 'RunInstance' is not",
     "RunInstances:0010"),
    (["--instance-profile", "bad name"], "--instance-profile 'bad name'", "128"),
])
def test_bad_option_values(vmie_bin, env, image, args, fragment, hint):
    r = run(vmie_bin, imp(*args, source=image), env)
    assert_fails(r, 2, fragment, hint)


def test_bad_export_prefix(vmie_bin, env):
    r = run(vmie_bin, ["export", "-b", "my-bucket", "-a", AMI, "--s3-export-prefix", "/x/"], env)
    assert_fails(r, 2, "--s3-export-prefix '/x/' starts with '/'", "--s3-export-prefix x/")
    r = run(vmie_bin, ["export", "-b", "my-bucket", "-a", AMI,
                       "--s3-export-prefix", "p" * 1025], env)
    assert_fails(r, 2, "--s3-export-prefix is 1025 bytes long", "shorter")


@pytest.mark.parametrize("source,fragment,hint", [
    ("ftp://example.com/image.ova", "ftp:// URLs are not supported", "http(s)://"),
    ("file:///tmp/image.ova", "file:// URLs are not supported", "s3://BUCKET/KEY"),
    ("https:///image.ova", "the URL has no host", "https://HOST"),
    ("s3://other-bucket/image.vmdk",
     "--source 's3://other-bucket/image.vmdk' is in bucket 'other-bucket', "
     "not the --s3-bucket 'my-bucket'", "copy the object"),
    ("s3://my-bucket/", "the S3 URL has no object key", "s3://my-bucket/"),
    ("s3://my-bucket", "the S3 URL has no object key", "s3://my-bucket/"),
])
def test_bad_url_sources(vmie_bin, env, source, fragment, hint):
    r = run(vmie_bin, imp(source=source), env)
    assert_fails(r, 4, fragment, hint)


def test_missing_local_file(vmie_bin, env, tmp_path):
    p = tmp_path / "nope.ova"
    r = run(vmie_bin, imp(source=str(p)), env)
    assert_fails(r, 4, f"--source '{p}': No such file or directory", "check the path")


def test_unreadable_file(vmie_bin, env, tmp_path):
    if os.geteuid() == 0:
        pytest.skip("running as root: root can read a mode-000 file "
                    "(the directory and FIFO cases are covered below)")
    p = tmp_path / "secret.ova"
    p.write_bytes(b"x" * 512)
    p.chmod(0)
    r = run(vmie_bin, imp(source=str(p)), env)
    assert_fails(r, 4, f"--source '{p}': Permission denied", "permissions")


def test_directory_source(vmie_bin, env, tmp_path):
    d = tmp_path / "image.raw"
    d.mkdir()
    r = run(vmie_bin, imp(source=str(d)), env)
    assert_fails(r, 4, f"--source '{d}' is a directory", "image file")


def test_fifo_source(vmie_bin, env, tmp_path):
    f = tmp_path / "image.raw"
    os.mkfifo(f)
    r = run(vmie_bin, imp(source=str(f)), env, timeout=10)  # never blocks
    assert_fails(r, 4, "is not a regular file or a block device", "copy the image")


def test_empty_file_source(vmie_bin, env, tmp_path):
    f = tmp_path / "image.raw"
    f.write_bytes(b"")
    r = run(vmie_bin, imp(source=str(f)), env)
    assert_fails(r, 4, "is empty", "sector")


def write_json(tmp_path, name, doc):
    p = tmp_path / name
    p.write_text(doc if isinstance(doc, str) else json.dumps(doc))
    return str(p)


def container(bucket="my-bucket", key="disk.vhd", fmt="vhd"):
    c = {"Description": "disk", "UserBucket": {"S3Bucket": bucket, "S3Key": key}}
    if fmt is not None:
        c["Format"] = fmt
    return c


@pytest.mark.parametrize("doc,status,fragment,hint", [
    ('[{"Format": ', 4, "not valid JSON", "array of disk containers"),
    ([], 4, "the array of disk containers is empty", "S3Bucket"),
    ({"Format": "vhd"}, 4, "not a JSON array of disk containers", "S3Bucket"),
    ([container(), container(bucket="x")], 4,
     "disk container 2: UserBucket.S3Bucket 'x' is not the --s3-bucket 'my-bucket'",
     "--s3-bucket x"),
    ([container(fmt="qcow2")], 4, "disk container 1: Format 'qcow2' is not supported",
     "OVA, VHD, VHDX, VMDK, RAW"),
    ([container(key="")], 4, "disk container 1: UserBucket.S3Key is missing or empty", "S3Key"),
    ([{"Format": "RAW"}], 4, "disk container 1: has neither UserBucket nor Url", "Url"),
    ([42], 4, "disk container 1: not a JSON object", "object"),
])
def test_bad_json_sources(vmie_bin, env, tmp_path, doc, status, fragment, hint):
    path = write_json(tmp_path, "containers.json", doc)
    r = run(vmie_bin, imp("--json", source=path), env)
    assert_fails(r, status, fragment, hint)
    assert f"--source {path}: " in error_lines(r)[0]
    out = json.loads(r.stdout)
    want = "ERR_JSON_LOAD_FAILED" if "not valid JSON" in fragment else "ERR_INVALID_SOURCE"
    assert out["error"]["code"] == want


def test_no_region_anywhere(vmie_bin, clean_env, image):
    env = dict(clean_env)
    for k in list(env):
        if k.startswith("AWS_") and k not in ("AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE"):
            del env[k]
    r = run(vmie_bin, imp(source=image), env)
    assert_fails(r, 2, "no AWS region is set", "--region")
    assert "AWS_REGION" in hint_lines(r)[0]
    # Without AWS_CONFIG_FILE, the hint names ~/.aws/config under HOME.
    del env["AWS_CONFIG_FILE"]
    r = run(vmie_bin, imp(source=image), env)
    assert_fails(r, 2, "no AWS region is set", "--region")
    assert env["HOME"] in hint_lines(r)[0]


# --- valid inputs: past the checks, stopped by the missing credentials -------
# (the workflows have their own tests against the emulator: test_import.py,
# test_export.py, test_sanboot.py, test_download.py)

def assert_not_implemented(r, op):
    """Valid options: the run got past every check to its first AWS call,
    which finds no credentials in this clean environment."""
    assert r.returncode == 3, (op, r.returncode, r.stderr)
    lines = error_lines(r)
    # (S3 sources reach IAM first: "setting up the vmimport role: no ...")
    assert len(lines) == 1 and "no AWS credentials found" in lines[0], r.stderr
    m = re.search(r"^vmie: full log: (.+)$", r.stderr, re.M)
    assert m, r.stderr
    return pathlib.Path(m.group(1))


@pytest.mark.parametrize("args,op", [
    (["convert", "-b", "my-bucket", "-s", "IMAGE"], "convert"),
    (["convert", "-b", "my-bucket", "-s", "https://example.com/image.ova",
      "--license-type", "BYOL", "--install-sanbootable"], "convert"),
    (["convert", "-b", "my-bucket", "-s", "s3://my-bucket/images/disk.vmdk",
      "--usage-operation", "RunInstances:0010", "--instance-profile", "MyProfile"], "convert"),
    (["convert", "-b", "my-bucket", "-s", "JSON"], "convert"),
    (["export", "-b", "my-bucket", "-a", AMI, "--s3-export-prefix", "exports/x/"], "export"),
    (["export", "-b", "my-bucket", "-a", "ami-12345678", "--install-sanbootable"], "export"),
    (["convert", "-b", "my-bucket", "-s", "IMAGE", "--s3-export-prefix", "exports/y/",
      "--license-type", "AWS"], "convert"),
])
def test_valid_inputs_not_implemented(vmie_bin, env, image, tmp_path, args, op):
    js = write_json(tmp_path, "disks.json", [container(), container(key="b.vmdk", fmt="VMDK")])
    args = [image if a == "IMAGE" else js if a == "JSON" else a for a in args]
    r = run(vmie_bin, args, env)
    path = assert_not_implemented(r, op)
    assert path.parent == log_dir(env)
    assert re.fullmatch(r"vmie-\d{8}-\d{6}-\d+\.log", path.name)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert stat.S_IMODE(path.parent.parent.stat().st_mode) == 0o700
    text = path.read_text()
    assert "DEBUG" in text and "command line:" in text and "my-bucket" in text
    assert re.search(r"ERR_AWS_(CREDENTIALS_NOT_FOUND|VMIMPORT_ROLE_SETUP_FAILED)", text)
    assert r.stdout == ""


def test_log_file_option(vmie_bin, env, image, tmp_path):
    log = tmp_path / "my.log"
    args = conv(source=image) + ["--log-file", str(log)]
    r = run(vmie_bin, args, env)
    assert assert_not_implemented(r, "convert") == log
    assert stat.S_IMODE(log.stat().st_mode) == 0o600
    first = log.read_text()
    r = run(vmie_bin, ["--log-file=" + str(log)] + conv(source=image), env)
    assert assert_not_implemented(r, "convert") == log
    assert log.read_text().startswith(first)  # appended, not replaced
    assert log.read_text().count("command line:") == 2
    assert logs(env) == []  # the default location is not used


def test_log_file_unwritable_warns_and_continues(vmie_bin, env, image, tmp_path):
    bad = tmp_path / "no-such-dir" / "x.log"
    r = run(vmie_bin, conv(source=image) + ["--log-file", str(bad)], env)
    assert r.returncode == 3
    warnings = [l for l in r.stderr.splitlines() if "warning" in l]
    assert len(warnings) == 1 and str(bad) in warnings[0], r.stderr
    assert "continuing without a log file" in warnings[0]
    assert "full log" not in r.stderr


def test_default_log_dir_uses_home_without_xdg(vmie_bin, env, image):
    env = dict(env)
    del env["XDG_STATE_HOME"]
    r = run(vmie_bin, conv(source=image), env)
    path = assert_not_implemented(r, "convert")
    assert path.parent == pathlib.Path(env["HOME"]) / ".local" / "state" / "vmie" / "logs"


def test_options_and_globals_anywhere(vmie_bin, env, image, tmp_path):
    log = tmp_path / "g.log"
    for args in (["--region", "eu-west-1", "--log-file", str(log), "convert", "-b", "my-bucket",
                  "-s", image],
                 ["convert", "--s3-bucket=my-bucket", f"--source={image}", "--region=eu-west-1",
                  f"--log-file={log}", "--no-progress"],
                 ["-v", "convert", "-reu-west-1", "-bmy-bucket", "-s", image,
                  "--log-file", str(log)]):
        r = run(vmie_bin, args, env)
        assert assert_not_implemented(r, "convert") == log
    assert log.read_text().count("region eu-west-1 (from --region)") == 3


def test_quiet_and_debug(vmie_bin, env, image):
    r = run(vmie_bin, conv(source=image) + ["--debug"], env)
    assert "debug: command line:" in r.stderr
    assert "options valid: region us-west-2 (from AWS_REGION)" in r.stderr
    r = run(vmie_bin, conv(source=image), env)
    assert "debug:" not in r.stderr
    r = run(vmie_bin, conv(source=image) + ["-q", "--log-file", "/nonexistent/x.log"], env)
    assert "warning" not in r.stderr  # -q: errors only
    assert error_lines(r)
    assert r.returncode == 3


def test_json_error_object(vmie_bin, env, image):
    r = run(vmie_bin, conv(source=image) + ["--json"], env)
    assert r.returncode == 3
    doc = json.loads(r.stdout)
    assert set(doc) == {"status", "error", "exit_status"}
    assert doc["status"] == -20100
    assert doc["exit_status"] == 3
    e = doc["error"]
    assert e["code"] == "ERR_AWS_CREDENTIALS_NOT_FOUND"
    assert e["message"].startswith("no AWS credentials found; looked in: ")
    assert e["hint"]
    for key in ("aws_code", "request_id", "service", "operation", "http_status"):
        assert key in e
    assert e["aws_code"] is None and e["request_id"] is None
    # Human lines still go to stderr.
    assert error_lines(r)

    r = run(vmie_bin, ["export", "-b", "my-bucket", "-a", "ami-nope", "--json"], env)
    doc = json.loads(r.stdout)
    assert doc["exit_status"] == 2 and doc["error"]["code"] == "ERR_INVALID_ARGUMENT"


# --- colour ------------------------------------------------------------------

def run_tty(vmie_bin, args, env):
    """Run with stderr on a pseudo-terminal; return (exit status, stderr)."""
    master, slave = pty.openpty()
    try:
        p = subprocess.Popen([vmie_bin, *args], env=env, stdout=subprocess.PIPE,
                             stderr=slave, stdin=subprocess.DEVNULL)
        os.close(slave)
        chunks = []
        while True:
            try:
                data = os.read(master, 4096)
            except OSError:
                break
            if not data:
                break
            chunks.append(data)
        p.wait(timeout=30)
        return p.returncode, b"".join(chunks).decode()
    finally:
        os.close(master)


def test_no_escape_codes_without_tty(vmie_bin, env, image):
    env = dict(env)
    env.pop("NO_COLOR", None)
    env["TERM"] = "xterm-256color"
    r = run(vmie_bin, conv(source=image) + ["--debug"], env)
    assert r.returncode == 3
    assert ESC not in r.stderr and ESC not in r.stdout


def test_colour_on_tty_unless_no_color_or_dumb(vmie_bin, env, image):
    env = dict(env, TERM="xterm-256color")
    env.pop("NO_COLOR", None)
    rc, err = run_tty(vmie_bin, conv(source=image) + ["--debug"], env)
    assert rc == 3
    assert "\x1b[31m" in err  # error in red
    assert "\x1b[2m" in err  # debug dim
    for extra in ({"NO_COLOR": ""}, {"NO_COLOR": "1"}, {"TERM": "dumb"}):
        # --no-progress: a bar's cursor controls are not colour; this is
        # about colour.
        rc, err = run_tty(vmie_bin, conv(source=image) + ["--debug", "--no-progress"],
                          dict(env, **extra))
        assert rc == 3
        assert ESC not in err, extra


# --- region sources (vmie_resolve_region) ---------------------------------------

def region_line(r):
    m = re.search(r"options valid: region (\S+) \(from ([^)]+)\)", r.stderr)
    assert m, r.stderr
    return m.group(1), m.group(2)


def test_region_from_environment_and_config(vmie_bin, clean_env, image):
    env = dict(clean_env)
    args = conv(source=image) + ["--debug"]
    r = run(vmie_bin, args, dict(env, AWS_DEFAULT_REGION="eu-central-1"))
    assert r.returncode == 3 and region_line(r) == ("eu-central-1", "AWS_DEFAULT_REGION")
    r = run(vmie_bin, args, dict(env, AWS_DEFAULT_REGION="eu-central-1", AWS_REGION="ap-south-1"))
    assert region_line(r) == ("ap-south-1", "AWS_REGION")
    r = run(vmie_bin, args + ["-r", "us-east-2"], dict(env, AWS_REGION="ap-south-1"))
    assert region_line(r) == ("us-east-2", "--region")
    with open(env["AWS_CONFIG_FILE"], "w") as f:
        f.write("[default]\nregion = sa-east-1\n[profile other]\nregion = ca-central-1\n")
    r = run(vmie_bin, args, env)
    assert r.returncode == 3 and region_line(r) == ("sa-east-1", "config-file")
    r = run(vmie_bin, ["--profile", "other"] + args, env)
    assert region_line(r) == ("ca-central-1", "config-file")
    r = run(vmie_bin, args, dict(env, AWS_PROFILE="other"))
    assert region_line(r) == ("ca-central-1", "config-file")


def test_bad_region_value(vmie_bin, env, image):
    r = run(vmie_bin, conv(source=image) + ["--region", "moon-base-1x"], env)
    assert_fails(r, 2, "invalid region 'moon-base-1x'", "us-east-1")


def test_unknown_profile_is_a_config_error(vmie_bin, env, image):
    r = run(vmie_bin, ["--profile", "ghost"] + conv(source=image), env)
    assert r.returncode == 3, r.stderr
    assert "ghost" in error_lines(r)[0]


# --- signals -----------------------------------------------------------------

@pytest.mark.parametrize("sig,status", [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_interrupted_run_exit_status(vmie_bin, env, image, tmp_path, sig, status):
    # Opening a FIFO as the log file blocks until a reader appears: a run
    # reliably in progress when the signal arrives.
    fifo = tmp_path / "log.fifo"
    os.mkfifo(fifo)
    p = subprocess.Popen([vmie_bin, *conv(source=image), "--log-file", str(fifo)], env=env,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    time.sleep(0.5)
    p.send_signal(sig)
    out, err = p.communicate(timeout=10)
    assert p.returncode == status, err
    assert "interrupted" in err
