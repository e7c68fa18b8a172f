"""STS (query protocol): GetCallerIdentity, AssumeRole (sts_assume.py),
AssumeRoleWithWebIdentity."""
from ..protocol import STS_NS, ServiceError, iam_response, x
from . import sts_assume

PROTOCOL = "iam"
NAMESPACE = STS_NS
STREAMING = False
UNSIGNED = {"AssumeRoleWithWebIdentity"}


def get_caller_identity(emu, req):
    who = emu.identity_of(req.akid)
    # A session knows its account (an SSO role may be in any); keys are
    # the emulator's own account's.
    acct = who["arn"].split(":")[4] if who["arn"].startswith("arn:") else emu.account
    return iam_response("GetCallerIdentity",
                        x("UserId", who["user_id"]) + x("Account", acct) + x("Arn", who["arn"]),
                        ns=STS_NS)


def assume_role_with_web_identity(emu, req):
    p = req.params
    for name, minlen in (("RoleArn", 20), ("RoleSessionName", 2), ("WebIdentityToken", 4)):
        if len(p.get(name, "")) < minlen:
            raise ServiceError("ValidationError", f"1 validation error detected: Value at "
                               f"'{name[0].lower() + name[1:]}' failed to satisfy constraint: "
                               f"Member must have length greater than or equal to {minlen}")
    if p["WebIdentityToken"] not in emu.web_identity_tokens:
        raise ServiceError("InvalidIdentityToken",
                           "The web identity token that was passed could not be validated by "
                           "Amazon Web Services. Get a new identity token from the identity "
                           "provider and then retry the request.")
    creds = emu.issue_session_credentials(p["RoleArn"], p["RoleSessionName"])
    role = p["RoleArn"].split("/", 1)[-1]
    inner = (x("Credentials", [x("AccessKeyId", creds["akid"]),
                               x("SecretAccessKey", creds["secret"]),
                               x("SessionToken", creds["token"]),
                               x("Expiration", creds["expiration"])]) +
             x("SubjectFromWebIdentityToken", "vmie-test-subject") +
             x("AssumedRoleUser", [x("AssumedRoleId", f"AROAVMIEEMULATOR:{p['RoleSessionName']}"),
                                   x("Arn", f"arn:aws:sts::{emu.account}:assumed-role/{role}/"
                                            f"{p['RoleSessionName']}")]) +
             x("Provider", "vmie-emulator") + x("Audience", "sts.amazonaws.com"))
    return iam_response("AssumeRoleWithWebIdentity", inner, ns=STS_NS)


def assume_role(emu, req):
    c = sts_assume.assume_role(emu, req)
    inner = (x("Credentials", [x("AccessKeyId", c["akid"]), x("SecretAccessKey", c["secret"]),
                               x("SessionToken", c["token"]),
                               x("Expiration", c["expiration"])]) +
             x("AssumedRoleUser", [x("AssumedRoleId", c["user_id"]), x("Arn", c["arn"])]))
    return iam_response("AssumeRole", inner, ns=STS_NS)


control = sts_assume.control

OPERATIONS = {
    "GetCallerIdentity": get_caller_identity,
    "AssumeRole": assume_role,
    "AssumeRoleWithWebIdentity": assume_role_with_web_identity,
}
