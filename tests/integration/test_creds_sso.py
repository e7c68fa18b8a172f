"""IAM Identity Center (SSO) profiles end to end, in both forms ([sso-session
NAME] and the legacy sso_start_url in the profile), each with a valid, an
expired-but-refreshable and an expired sign-in.  The test writes the token
file `aws sso login` would write (~/.aws/sso/cache/<SHA-1>.json); the
emulator's portal accepts any well-formed token except those marked
expired, and its OIDC renews tokens with their refresh token."""
import datetime
import hashlib
import json
import os
import subprocess

import pytest

from conftest import AWS_CLI, run
from creds_util import ACCOUNT, requests, write_config

START_URL = "https://corp.awsapps.com/start"
LEGACY_URL = "https://legacy.awsapps.com/start"

CONFIG = f"""[profile corp]
sso_session = corp
sso_account_id = {ACCOUNT}
sso_role_name = Admin
[sso-session corp]
sso_start_url = {START_URL}
sso_region = eu-central-1
sso_registration_scopes = sso:account:access
[profile legacy]
sso_start_url = {LEGACY_URL}
sso_region = eu-central-1
sso_account_id = {ACCOUNT}
sso_role_name = ReadOnly
"""

# profile -> (the role, what names the token file, what whoami says)
FORMS = {
    "corp": ("Admin", "corp", f"SSO session corp → account {ACCOUNT} role Admin"),
    "legacy": ("ReadOnly", LEGACY_URL,
               f"SSO start URL {LEGACY_URL} → account {ACCOUNT} role ReadOnly"),
}


def iso(delta):
    t = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(seconds=delta)
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def token_path(env, key):
    name = hashlib.sha1(key.encode()).hexdigest()
    return os.path.join(env["HOME"], ".aws", "sso", "cache", name + ".json")


def write_token(env, key, **doc):
    path = token_path(env, key)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        json.dump(doc, f)
    return path


@pytest.fixture
def env(clean_env, emulator):
    e = dict(clean_env, AWS_REGION="us-west-2", AWS_ENDPOINT_URL=emulator)
    write_config(e, CONFIG)
    return e


@pytest.mark.parametrize("profile", sorted(FORMS))
def test_valid_token(vmie_bin, env, control, profile):
    role, key, chain = FORMS[profile]
    write_token(env, key, startUrl=START_URL, region="eu-central-1",
                accessToken="aoaVALIDTOKEN-" + profile + "-0123456789", expiresAt=iso(3600))
    r = run(vmie_bin, ["--profile", profile, "whoami", "--json"], env)
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    assert doc["Credentials"] == "sso"
    assert doc["Chain"] == chain
    assert doc["Account"] == ACCOUNT
    assert f":assumed-role/AWSReservedSSO_{role}_" in doc["Arn"]
    assert doc["Expiration"]
    calls = requests(control, "GetRoleCredentials")
    assert len(calls) == 1 and calls[0]["status"] == 200
    assert f"role_name={role}" in calls[0]["query"]
    assert f"account_id={ACCOUNT}" in calls[0]["query"]
    assert "x-amz-sso_bearer_token" not in calls[0]["headers"]  # never logged
    assert requests(control, "CreateToken") == []
    # The role credentials are cached where the CLI keeps them, 0600.
    cache = os.path.join(env["HOME"], ".aws", "cli", "cache")
    files = os.listdir(cache)
    assert len(files) == 1
    assert os.stat(os.path.join(cache, files[0])).st_mode & 0o777 == 0o600


@pytest.mark.parametrize("profile", sorted(FORMS))
def test_expired_but_refreshable_token(vmie_bin, env, control, profile):
    role, key, chain = FORMS[profile]
    old = "aoaEXPIREDTOKEN-" + profile + "-0123456789"
    path = write_token(env, key, startUrl=START_URL, region="eu-central-1", accessToken=old,
                       expiresAt=iso(-600), refreshToken="aorREFRESH-" + profile + "-0123",
                       clientId="client-id-0123456789", clientSecret="client-secret-0123456789",
                       registrationExpiresAt=iso(30 * 86400))
    # The portal refuses the old token: only a renewed one gets in.
    control("POST", "sso/tokens", {"accessToken": old, "state": "expired"})
    r = run(vmie_bin, ["--profile", profile, "whoami", "--json"], env)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["Chain"] == chain
    assert [c["status"] for c in requests(control, "CreateToken")] == [200]
    assert [c["status"] for c in requests(control, "GetRoleCredentials")] == [200]
    # Written back as the CLI writes it: a new token, its expiry, the
    # registration kept, the new refresh token.
    with open(path) as f:
        tok = json.load(f)
    assert tok["accessToken"] != old
    assert tok["expiresAt"] > iso(0)
    assert tok["refreshToken"] != "aorREFRESH-" + profile + "-0123"
    assert tok["clientId"] == "client-id-0123456789"
    assert tok["registrationExpiresAt"]
    assert os.stat(path).st_mode & 0o777 == 0o600


@pytest.mark.parametrize("profile", sorted(FORMS))
def test_expired_token(vmie_bin, env, control, profile):
    role, key, chain = FORMS[profile]
    write_token(env, key, startUrl=START_URL, region="eu-central-1",
                accessToken="aoaEXPIREDTOKEN-0123456789", expiresAt=iso(-60))
    r = run(vmie_bin, ["--profile", profile, "whoami"], env)
    assert r.returncode == 3, r.stderr
    assert f"run aws sso login --profile {profile}" in r.stderr
    assert "Traceback" not in r.stderr
    assert requests(control, "GetRoleCredentials") == []


def test_revoked_refresh_token_and_no_token(vmie_bin, env, control):
    """A refresh token OIDC refuses, then no token file at all: both say
    to sign in again, --json included."""
    write_token(env, "corp", startUrl=START_URL, region="eu-central-1",
                accessToken="aoaEXPIREDTOKEN-0123456789", expiresAt=iso(-60),
                refreshToken="aorREVOKED-0123456789", clientId="client-id-0123456789",
                clientSecret="client-secret-0123456789", registrationExpiresAt=iso(86400))
    control("POST", "sso-oidc/refresh-tokens", {"refreshToken": "aorREVOKED-0123456789"})
    r = run(vmie_bin, ["--profile", "corp", "whoami", "--json"], env)
    assert r.returncode == 3
    err = json.loads(r.stdout)
    assert "run aws sso login --profile corp" in err["error"]["message"]
    assert [c["status"] for c in requests(control, "CreateToken")] == [400]
    os.unlink(token_path(env, "corp"))
    r = run(vmie_bin, ["--profile", "corp", "whoami"], env)
    assert r.returncode == 3
    assert "no token in" in r.stderr and "run aws sso login --profile corp" in r.stderr


def test_token_the_portal_refuses(vmie_bin, env, control):
    """Not expired by its file, but signed out on the server."""
    write_token(env, "corp", startUrl=START_URL, region="eu-central-1",
                accessToken="aoaSIGNEDOUT-0123456789", expiresAt=iso(3600))
    control("POST", "sso/tokens", {"accessToken": "aoaSIGNEDOUT-0123456789",
                                   "state": "revoked"})
    r = run(vmie_bin, ["--profile", "corp", "whoami"], env)
    assert r.returncode == 3
    assert "run aws sso login --profile corp" in r.stderr
    assert [c["status"] for c in requests(control, "GetRoleCredentials")] == [401]


def test_sso_as_source_of_an_assumed_role(vmie_bin, env, control, emulator):
    """An SSO profile is the source_profile of a role: the role is assumed
    with the SSO role's credentials (role chaining)."""
    from creds_util import create_role
    role = create_role(emulator, "Deploy", principal=ACCOUNT)
    write_config(env, CONFIG + f"""[profile deploy]
role_arn = {role}
source_profile = corp
""")
    write_token(env, "corp", startUrl=START_URL, region="eu-central-1",
                accessToken="aoaVALIDTOKEN-0123456789", expiresAt=iso(3600))
    r = run(vmie_bin, ["--profile", "deploy", "whoami", "--json"], env)
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    assert ":assumed-role/Deploy/" in doc["Arn"]
    assert doc["Chain"] == (f"SSO session corp → account {ACCOUNT} role Admin → "
                            f"assumed {role} from profile corp")
    assert requests(control, "AssumeRole")[0]["akid"].startswith("ASIA")


def test_aws_cli_reads_the_role_credentials_vmie_cached(vmie_bin, env, emulator, control):
    """Same cache key as the AWS CLI: after vmie's run the CLI signs with
    the cached role credentials, without asking the portal (it could not:
    this CLI would call the real portal host)."""
    write_token(env, "corp", startUrl=START_URL, region="eu-central-1",
                accessToken="aoaVALIDTOKEN-0123456789", expiresAt=iso(3600))
    r = run(vmie_bin, ["--profile", "corp", "whoami", "--json"], env)
    assert r.returncode == 0, r.stderr
    arn = json.loads(r.stdout)["Arn"]
    cli = subprocess.run([AWS_CLI, "--endpoint-url", emulator, "--profile", "corp",
                          "--output", "json", "sts", "get-caller-identity"],
                         env=dict(env, AWS_DEFAULT_REGION="us-west-2", AWS_PAGER=""),
                         capture_output=True, text=True, timeout=60)
    assert cli.returncode == 0, cli.stderr
    assert json.loads(cli.stdout)["Arn"] == arn
    assert len(requests(control, "GetRoleCredentials")) == 1
