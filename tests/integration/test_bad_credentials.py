"""Bad credentials are reported as bad credentials (issue 12, defect 6):
a bodiless 403 (S3 answers HEAD that way for a wrong secret key as for
someone else's bucket) is checked with STS GetCallerIdentity first."""
import pytest

from conftest import EMU_ACCESS_KEY, run
from images import MIB, make_raw

WRONG_SECRET = "this/is/not/the/secret/key/for/that/id0000"


@pytest.fixture
def disk(tmp_path):
    p = tmp_path / "disk.raw"
    make_raw(p, 8 * MIB)
    return p


def test_import_with_a_wrong_secret(vmie_bin, emu_env, control, disk):
    env = dict(emu_env, AWS_SECRET_ACCESS_KEY=WRONG_SECRET)
    r = run(vmie_bin, ["import", "-b", "no-such-bucket-anywhere", "-s", str(disk)], env)
    assert r.returncode == 3, r.stderr
    assert "exists but this account may not use it" not in r.stderr
    assert "AWS refused the credentials in use (environment)" in r.stderr
    assert "S3 HeadBucket answered 403 with no details" in r.stderr
    assert "SignatureDoesNotMatch" in r.stderr
    assert "vmie whoami" in r.stderr
    assert control("GET", "state")["s3"]["buckets"] == []


def test_profile_is_named(vmie_bin, emu_env, tmp_path, disk):
    env = dict(emu_env)
    del env["AWS_ACCESS_KEY_ID"]
    del env["AWS_SECRET_ACCESS_KEY"]
    creds = tmp_path / "credentials"
    creds.write_text(f"[dev]\naws_access_key_id = {EMU_ACCESS_KEY}\n"
                     f"aws_secret_access_key = {WRONG_SECRET}\n")
    env.update(AWS_SHARED_CREDENTIALS_FILE=str(creds), AWS_PROFILE="dev")
    r = run(vmie_bin, ["import", "-b", "no-such-bucket-anywhere", "-s", str(disk)], env)
    assert r.returncode == 3, r.stderr
    assert "(shared-credentials-file, profile dev)" in r.stderr


def test_download_with_a_wrong_secret(vmie_bin, emu_env, aws, tmp_path):
    aws("s3api", "create-bucket", "--bucket", "vmie-creds-b",
        "--create-bucket-configuration", "LocationConstraint=us-west-2")
    src = tmp_path / "obj"
    src.write_bytes(b"x" * 4096)
    aws("s3api", "put-object", "--bucket", "vmie-creds-b", "--key", "obj", "--body", str(src))
    env = dict(emu_env, AWS_SECRET_ACCESS_KEY=WRONG_SECRET)
    r = run(vmie_bin, ["download", "s3://vmie-creds-b/obj", str(tmp_path / "out")], env)
    assert r.returncode == 3, r.stderr
    assert "Forbidden (no error details)" not in r.stderr
    assert "AWS refused the credentials in use (environment)" in r.stderr
    assert "vmie whoami" in r.stderr


def test_good_credentials_still_say_forbidden(vmie_bin, emu_env, control, disk):
    """With good credentials a bodiless 403 stays what it was (here the
    emulator refuses the HEAD outright)."""
    control("POST", "faults", {"operation": "HeadBucket", "status": 403, "code": "Forbidden",
                               "count": 1})
    r = run(vmie_bin, ["import", "-b", "someone-elses-bucket", "-s", str(disk)], emu_env)
    assert r.returncode == 3, r.stderr
    assert "bucket someone-elses-bucket exists but this account may not use it" in r.stderr
    assert "refused the credentials" not in r.stderr
