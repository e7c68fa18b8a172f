"""vmie whoami against the local emulator: the signer, credential chain,
endpoint resolution and STS parsing end to end, checked by a SigV4
verifier written independently in Python."""
import json

from conftest import EMU_ACCESS_KEY, EMU_SECRET_KEY, run


def test_whoami_env_credentials(vmie_bin, emu_env, emulator):
    r = run(vmie_bin, ["whoami"], emu_env)
    assert r.returncode == 0, r.stderr
    assert "123456789012" in r.stdout
    assert "arn:aws:iam::123456789012:user/vmie-emulator" in r.stdout
    assert "us-west-2" in r.stdout
    assert emulator in r.stdout
    assert "environment" in r.stdout


def test_whoami_json(vmie_bin, emu_env):
    r = run(vmie_bin, ["whoami", "--json"], emu_env)
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    assert doc["Account"] == "123456789012"
    assert doc["Region"] == "us-west-2"
    assert doc["Credentials"] == "environment"


def test_whoami_profile_credentials_file(vmie_bin, clean_env, emulator):
    env = dict(clean_env)
    with open(env["AWS_SHARED_CREDENTIALS_FILE"], "w") as f:
        f.write(f"[emu]\naws_access_key_id = {EMU_ACCESS_KEY}\n"
                f"aws_secret_access_key = {EMU_SECRET_KEY}\n")
    with open(env["AWS_CONFIG_FILE"], "w") as f:
        f.write(f"[profile emu]\nregion = eu-west-1\nendpoint_url = {emulator}\n")
    r = run(vmie_bin, ["--profile", "emu", "whoami", "--json"], env)
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    assert doc["Region"] == "eu-west-1"
    assert doc["Credentials"] == "shared-credentials-file"


def test_whoami_wrong_secret_is_an_aws_error(vmie_bin, emu_env):
    env = dict(emu_env, AWS_SECRET_ACCESS_KEY="wrong-secret")
    r = run(vmie_bin, ["whoami"], env)
    assert r.returncode == 3, (r.returncode, r.stderr)
    assert "SignatureDoesNotMatch" in r.stderr
    assert "wrong-secret" not in r.stderr  # the secret is never printed


def test_whoami_unknown_key(vmie_bin, emu_env):
    env = dict(emu_env, AWS_ACCESS_KEY_ID="AKIANOTKNOWN00000000")
    r = run(vmie_bin, ["whoami"], env)
    assert r.returncode == 3
    assert "InvalidClientTokenId" in r.stderr


def test_whoami_no_credentials_lists_where_it_looked(vmie_bin, clean_env, emulator):
    env = dict(clean_env, AWS_REGION="us-west-2", AWS_ENDPOINT_URL=emulator)
    r = run(vmie_bin, ["whoami"], env)
    assert r.returncode == 3, r.stderr
    assert "credentials" in r.stderr.lower()
    assert "AWS_ACCESS_KEY_ID" in r.stderr
    assert env["AWS_SHARED_CREDENTIALS_FILE"] in r.stderr


def test_whoami_unreachable_endpoint(vmie_bin, emu_env):
    # Port 9 on loopback: nothing listens there, the connection is refused.
    env = dict(emu_env, AWS_ENDPOINT_URL="http://127.0.0.1:9", AWS_MAX_ATTEMPTS="1")
    r = run(vmie_bin, ["whoami"], env)
    assert r.returncode == 3
    assert "127.0.0.1:9" in r.stderr


def test_secret_never_in_log_file(vmie_bin, emu_env, tmp_path):
    log = tmp_path / "run.log"
    r = run(vmie_bin, ["--debug", "--log-file", str(log), "whoami"], emu_env)
    assert r.returncode == 0, r.stderr
    text = log.read_text()
    assert "GetCallerIdentity" in text
    assert EMU_SECRET_KEY not in text and EMU_SECRET_KEY not in r.stderr
    assert "Signature=" not in text


def test_whoami_web_identity_end_to_end(vmie_bin, clean_env, emulator, tmp_path):
    """vmie's chain calls the emulator's unsigned AssumeRoleWithWebIdentity,
    then signs GetCallerIdentity with the session credentials it got."""
    token = tmp_path / "token"
    token.write_text("vmie-test-web-identity-token\n")
    env = dict(clean_env, AWS_REGION="us-west-2", AWS_ENDPOINT_URL=emulator,
               AWS_WEB_IDENTITY_TOKEN_FILE=str(token),
               AWS_ROLE_ARN="arn:aws:iam::123456789012:role/ci-deployer",
               AWS_ROLE_SESSION_NAME="vmie-ci")
    r = run(vmie_bin, ["whoami", "--json"], env)
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    assert doc["Credentials"] == "web-identity"
    assert doc["Arn"] == "arn:aws:sts::123456789012:assumed-role/ci-deployer/vmie-ci"


def test_whoami_web_identity_rejected_token(vmie_bin, clean_env, emulator, tmp_path):
    token = tmp_path / "token"
    token.write_text("not-a-valid-token")
    env = dict(clean_env, AWS_REGION="us-west-2", AWS_ENDPOINT_URL=emulator,
               AWS_WEB_IDENTITY_TOKEN_FILE=str(token),
               AWS_ROLE_ARN="arn:aws:iam::123456789012:role/ci-deployer")
    r = run(vmie_bin, ["whoami"], env)
    assert r.returncode == 3
    assert "InvalidIdentityToken" in r.stderr
    assert "not-a-valid-token" not in r.stderr


def test_aws_cli_web_identity_interop(aws):
    out = aws("sts", "assume-role-with-web-identity", "--no-sign-request",
              "--role-arn", "arn:aws:iam::123456789012:role/ci-deployer",
              "--role-session-name", "cli", "--web-identity-token",
              "vmie-test-web-identity-token")
    assert out["Credentials"]["AccessKeyId"].startswith("ASIA")
    assert out["AssumedRoleUser"]["Arn"].endswith("assumed-role/ci-deployer/cli")
