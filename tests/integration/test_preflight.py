"""The import preflight: a local image AWS would refuse is refused before
anything is uploaded (exit status 4, the finding and --force named), and
--force overrides it.  No AWS is needed: the preflight runs right after
validation, before any AWS call.  Past it, import and convert reach for
AWS and stop there (no credentials: exit 3)."""
import json
import shutil
import subprocess

import pytest

from conftest import run as _run
from images import make_raw


def run(vmie_bin, args, env, **kw):
    r = _run(vmie_bin, args, env, **kw)
    assert "Sanitizer" not in r.stderr and "runtime error:" not in r.stderr, r.stderr
    return r


@pytest.fixture
def env(clean_env):
    # Region set, no credentials: any AWS call would fail with status 3.
    return dict(clean_env, AWS_REGION="us-west-2")


@pytest.fixture
def good_raw(tmp_path):
    p = tmp_path / "good.raw"
    make_raw(p, 8 << 20)
    return p


@pytest.fixture
def bad_qcow2(tmp_path, good_raw):
    if not shutil.which("qemu-img"):
        pytest.skip("qemu-img not found: install qemu-utils (scripts/bootstrap.sh does)")
    p = tmp_path / "bad.qcow2"
    subprocess.run(["qemu-img", "convert", "-f", "raw", "-O", "qcow2", str(good_raw), str(p)],
                   check=True, capture_output=True, timeout=120)
    return p


def past_preflight(r, cmd="import"):
    """The run went on after the preflight, to AWS, which finds no
    credentials here (import and convert alike)."""
    assert r.returncode == 3, (cmd, r.stderr)
    assert "credentials" in r.stderr.lower(), r.stderr


def imp(source, *extra, cmd="import"):
    return [cmd, "--s3-bucket", "my-bucket", "--source", str(source), *extra]


@pytest.mark.parametrize("cmd", ["import", "convert"])
def test_refused_before_any_aws_call(vmie_bin, env, bad_qcow2, cmd):
    r = run(vmie_bin, imp(bad_qcow2, cmd=cmd), env)
    assert r.returncode == 4, r.stderr
    err = r.stderr
    assert "unsupported-qcow2" in err and "QCOW2" in err
    assert "qemu-img convert" in err                 # the fix
    assert "AWS: " in err                            # what AWS would do
    assert "--force" in err
    assert "vmie: hint: fix the image, or pass --force" in err
    assert "not implemented" not in err


def test_refusal_json(vmie_bin, env, bad_qcow2):
    r = run(vmie_bin, imp(bad_qcow2, "--json"), env)
    assert r.returncode == 4
    doc = json.loads(r.stdout)
    assert doc["exit_status"] == 4
    assert doc["error"]["code"] == "ERR_FILE_UNSUPPORTED_FORMAT"
    assert doc["status"] == -20202
    assert "unsupported-qcow2" in doc["error"]["message"]
    assert "--force" in doc["error"]["hint"]


@pytest.mark.parametrize("cmd", ["import", "convert"])
def test_force_overrides(vmie_bin, env, bad_qcow2, cmd):
    r = run(vmie_bin, imp(bad_qcow2, "--force", cmd=cmd), env)
    past_preflight(r, cmd)
    assert "unsupported-qcow2" in r.stderr           # the finding is still shown
    assert "vmie: warning: --force: going on despite 1 preflight error" in r.stderr


def test_good_image_passes(vmie_bin, env, good_raw):
    r = run(vmie_bin, imp(good_raw), env)
    past_preflight(r)
    assert "preflight: " in r.stderr and "no errors" in r.stderr
    assert "--force" not in r.stderr and "vmie: warning:" not in r.stderr


def test_warnings_do_not_refuse(vmie_bin, env, good_raw, tmp_path):
    # Named .vhd but RAW inside: a warning, not a refusal.
    p = tmp_path / "misnamed.vhd"
    shutil.copyfile(good_raw, p)
    r = run(vmie_bin, imp(p), env)
    past_preflight(r)
    assert "vmie: warning: " in r.stderr and "extension-mismatch" in r.stderr


def test_empty_source_still_a_validation_error(vmie_bin, env, tmp_path):
    p = tmp_path / "empty.raw"
    p.write_bytes(b"")
    r = run(vmie_bin, imp(p), env)
    assert r.returncode == 4
    assert "is empty" in r.stderr


def test_preflight_in_the_log_file(vmie_bin, env, bad_qcow2, tmp_path):
    log = tmp_path / "run.log"
    r = run(vmie_bin, imp(bad_qcow2, "--log-file", str(log)), env)
    assert r.returncode == 4
    text = log.read_text()
    assert "unsupported-qcow2" in text and "ERROR" in text


def test_url_sources_are_not_read(vmie_bin, env):
    # Checked on the stream later: the preflight lets them through.
    r = run(vmie_bin, imp("https://example.com/disk.ova"), env)
    past_preflight(r)
    assert "preflight: " not in r.stderr


def test_force_is_not_an_export_option(vmie_bin, env):
    r = run(vmie_bin, ["export", "-b", "my-bucket", "-a", "ami-0123456789abcdef0", "--force"],
            env)
    assert r.returncode == 2
    assert "--force is not an option of 'vmie export'" in r.stderr


def test_help_lists_force(vmie_bin, env):
    for cmd in ["import", "convert"]:
        r = run(vmie_bin, [cmd, "--help"], env)
        assert "--force" in r.stdout
