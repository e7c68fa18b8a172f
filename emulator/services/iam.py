"""IAM (query protocol, global, signed for us-east-1): roles, inline and
attached policies, instance profiles -- what vmie checks before an import
(the vmimport service role) and what an SSM-managed instance needs.

Tables: "iam_roles" name -> role, "iam_profiles" name -> profile,
"iam_policies" arn -> customer managed policy.  Policy documents are kept
as the JSON text the client sent; IAM returns them URL-encoded.

Internal API for the EC2/SSM modules:
  role_allows_vmimport(emu, role, bucket, write=False) -> (ok, reason)
  role_allows_kms(emu, role, key_arn, aliases=()) -> (ok, reason)
  profile_role_policies(emu, profile) -> [attached managed policy ARNs]
  get_instance_profile(emu, name) -> record or None

Propagation: IAM answers for itself at once, but other services see a new
role or instance profile only some seconds later (the usual cause of a
first import failing with "the service role does not exist").  POST
/_vmie/iam/propagation {"seconds": S} makes roles and profiles created
from then on invisible to VM Import/Export and EC2 for S real seconds
(0, the default, turns it off).
"""
import fnmatch
import json
import secrets
import string
import time
import urllib.parse
from xml.sax.saxutils import escape

from ..protocol import ServiceError, iam_response, members, x

PROTOCOL = "iam"
STREAMING = False

SSM_CORE_ARN = "arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore"

# The few AWS managed policies whose grants matter here, abridged.
AWS_MANAGED = {
    "AmazonSSMManagedInstanceCore": {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Resource": "*", "Action": [
            "ssm:DescribeAssociation", "ssm:GetDocument", "ssm:UpdateInstanceInformation",
            "ssmmessages:*", "ec2messages:*"]}]},
    "AmazonS3FullAccess": {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": ["s3:*", "s3-object-lambda:*"], "Resource": "*"}]},
    "AmazonS3ReadOnlyAccess": {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": ["s3:Get*", "s3:List*", "s3:Describe*"],
         "Resource": "*"}]},
    "AdministratorAccess": {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "*", "Resource": "*"}]},
}


# --- helpers ----------------------------------------------------------------

def _now_iso():
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def _unique_id(prefix):
    """IAM unique ids: AROA/AIPA/ANPA + 17 upper-case alphanumerics."""
    alphabet = string.ascii_uppercase + string.digits
    return prefix + "".join(secrets.choice(alphabet) for _ in range(17))


def _encode(doc):
    """Real IAM answers policy documents URL-encoded (clients decode)."""
    return urllib.parse.quote(doc, safe="")


def _param(req, name):
    """A required parameter; IAM's own wording when it is missing."""
    value = req.params.get(name)
    if not value:
        member = name[0].lower() + name[1:]
        raise ServiceError("ValidationError", f"1 validation error detected: Value null at "
                           f"'{member}' failed to satisfy constraint: Member must not be null")
    return value


def _parse_policy(text):
    """Validate a policy document; MalformedPolicyDocument like IAM."""
    try:
        doc = json.loads(text)
    except ValueError:
        raise ServiceError("MalformedPolicyDocument", "This policy contains invalid Json")
    if not isinstance(doc, dict) or "Statement" not in doc:
        raise ServiceError("MalformedPolicyDocument", "Syntax errors in policy.")
    return doc


def _roles(emu):
    return emu.store.table("iam_roles")


def _profiles(emu):
    return emu.store.table("iam_profiles")


def _role(emu, name):
    role = _roles(emu).get(name)
    if role is None:
        raise ServiceError("NoSuchEntity", f"The role with name {name} cannot be found.", 404)
    return role


def _profile(emu, name):
    prof = _profiles(emu).get(name)
    if prof is None:
        raise ServiceError("NoSuchEntity", f"Instance Profile {name} cannot be found.", 404)
    return prof


def _save(emu, *tables):
    for t in tables:
        emu.store.save(t)


def _path(req):
    path = req.params.get("Path") or "/"
    if not (path.startswith("/") and path.endswith("/")):
        raise ServiceError("ValidationError", "The specified value for path is invalid. It "
                           "must begin and end with / and contain only alphanumeric "
                           "characters and/or / characters.")
    return path


# --- XML --------------------------------------------------------------------

def _role_xml(role):
    parts = [x("Path", role["Path"]), x("RoleName", role["RoleName"]),
             x("RoleId", role["RoleId"]), x("Arn", role["Arn"]),
             x("CreateDate", role["CreateDate"]),
             x("AssumeRolePolicyDocument", _encode(role["AssumeRolePolicyDocument"]))]
    if role.get("Description"):
        parts.append(x("Description", role["Description"]))
    parts.append(x("MaxSessionDuration", role.get("MaxSessionDuration", 3600)))
    parts.append("<RoleLastUsed/>")
    return "".join(parts)


def _profile_xml(emu, prof):
    roles = [_role_xml(_roles(emu)[r]) for r in prof["Roles"] if r in _roles(emu)]
    return (x("Path", prof["Path"]) + x("InstanceProfileName", prof["InstanceProfileName"]) +
            x("InstanceProfileId", prof["InstanceProfileId"]) + x("Arn", prof["Arn"]) +
            x("CreateDate", prof["CreateDate"]) + members("Roles", roles) + "<Tags/>")


# --- roles ------------------------------------------------------------------

def _visible_at(emu):
    """When other services will see an entity created now (real time)."""
    delay = float(emu.store.table("iam_settings").get("propagation_s", 0))
    return time.time() + delay if delay > 0 else 0


def control(emu, method, route, body):
    """POST iam/propagation {"seconds"}: see the module's docstring."""
    if (method, route) == ("POST", "iam/propagation"):
        seconds = float(body.get("seconds", 0))
        if seconds < 0:
            raise ValueError("seconds must be >= 0")
        with emu.store.lock:
            emu.store.table("iam_settings")["propagation_s"] = seconds
            _save(emu, "iam_settings")
        return {"seconds": seconds}
    raise KeyError(f"no control route {method} {route}")


def create_role(emu, req):
    name = _param(req, "RoleName")
    text = _param(req, "AssumeRolePolicyDocument")
    _parse_policy(text)
    path = _path(req)
    with emu.store.lock:
        if name in _roles(emu):
            raise ServiceError("EntityAlreadyExists", f"Role with name {name} already exists.",
                               409)
        role = {"RoleName": name, "Path": path, "RoleId": _unique_id("AROA"),
                "Arn": f"arn:aws:iam::{emu.account}:role{path}{name}",
                "CreateDate": _now_iso(), "AssumeRolePolicyDocument": text,
                "Description": req.params.get("Description", ""),
                "MaxSessionDuration": int(req.params.get("MaxSessionDuration") or 3600),
                "inline": {}, "attached": [], "visible_at": _visible_at(emu)}
        _roles(emu)[name] = role
        _save(emu, "iam_roles")
    return iam_response("CreateRole", x("Role", [_role_xml(role)]))


def get_role(emu, req):
    with emu.store.lock:
        role = _role(emu, _param(req, "RoleName"))
        return iam_response("GetRole", x("Role", [_role_xml(role)]))


def delete_role(emu, req):
    name = _param(req, "RoleName")
    with emu.store.lock:
        role = _role(emu, name)
        in_profile = any(name in p["Roles"] for p in _profiles(emu).values())
        if role["inline"] or role["attached"] or in_profile:
            raise ServiceError("DeleteConflict", "Cannot delete entity, must remove roles from "
                               "instance profile first." if in_profile else
                               "Cannot delete entity, must delete policies first.", 409)
        del _roles(emu)[name]
        _save(emu, "iam_roles")
    return iam_response("DeleteRole", None)


def update_assume_role_policy(emu, req):
    name = _param(req, "RoleName")
    text = _param(req, "PolicyDocument")
    _parse_policy(text)
    with emu.store.lock:
        _role(emu, name)["AssumeRolePolicyDocument"] = text
        _save(emu, "iam_roles")
    return iam_response("UpdateAssumeRolePolicy", None)


def put_role_policy(emu, req):
    name = _param(req, "RoleName")
    pname = _param(req, "PolicyName")
    text = _param(req, "PolicyDocument")
    _parse_policy(text)
    with emu.store.lock:
        _role(emu, name)["inline"][pname] = text
        _save(emu, "iam_roles")
    return iam_response("PutRolePolicy", None)


def _inline(emu, req):
    role = _role(emu, _param(req, "RoleName"))
    pname = _param(req, "PolicyName")
    if pname not in role["inline"]:
        raise ServiceError("NoSuchEntity", f"The role policy with name {pname} cannot be "
                           "found.", 404)
    return role, pname


def get_role_policy(emu, req):
    with emu.store.lock:
        role, pname = _inline(emu, req)
        inner = (x("RoleName", role["RoleName"]) + x("PolicyName", pname) +
                 x("PolicyDocument", _encode(role["inline"][pname])))
    return iam_response("GetRolePolicy", inner)


def delete_role_policy(emu, req):
    with emu.store.lock:
        role, pname = _inline(emu, req)
        del role["inline"][pname]
        _save(emu, "iam_roles")
    return iam_response("DeleteRolePolicy", None)


def _page(req, items):
    """IAM's Marker/MaxItems paging (MaxItems 1-1000, default 100)."""
    try:
        limit = int(req.params.get("MaxItems") or 100)
        start = int(req.params.get("Marker") or 0)
    except ValueError:
        raise ServiceError("ValidationError", "Invalid Marker or MaxItems.")
    if not 1 <= limit <= 1000:
        raise ServiceError("ValidationError", "1 validation error detected: Value at "
                           "'maxItems' failed to satisfy constraint: Member must have value "
                           "less than or equal to 1000")
    chunk = items[start:start + limit]
    more = start + limit < len(items)
    tail = x("IsTruncated", more) + (x("Marker", str(start + limit)) if more else "")
    return chunk, tail


def list_roles(emu, req):
    prefix = req.params.get("PathPrefix") or "/"
    with emu.store.lock:
        roles = [r for _, r in sorted(_roles(emu).items()) if r["Path"].startswith(prefix)]
        chunk, tail = _page(req, roles)
        body = members("Roles", [_role_xml(r) for r in chunk])
    return iam_response("ListRoles", body + tail)


def list_role_policies(emu, req):
    with emu.store.lock:
        role = _role(emu, _param(req, "RoleName"))
        names = sorted(role["inline"])
    chunk, tail = _page(req, names)
    return iam_response("ListRolePolicies", members("PolicyNames", [escape(n) for n in chunk]) +
                        tail)


# --- managed policies ---------------------------------------------------------

def _policy_doc(emu, arn):
    """The document of a managed policy ARN, or None if it does not exist."""
    prefix = "arn:aws:iam::aws:policy/"
    if arn.startswith(prefix):
        # Every AWS managed policy "exists"; only a few have a known body.
        return AWS_MANAGED.get(arn.rsplit("/", 1)[-1], {"Statement": []})
    pol = emu.store.table("iam_policies").get(arn)
    return json.loads(pol["PolicyDocument"]) if pol else None


def create_policy(emu, req):
    name = _param(req, "PolicyName")
    text = _param(req, "PolicyDocument")
    _parse_policy(text)
    path = _path(req)
    arn = f"arn:aws:iam::{emu.account}:policy{path}{name}"
    with emu.store.lock:
        table = emu.store.table("iam_policies")
        if arn in table:
            raise ServiceError("EntityAlreadyExists", f"A policy called {name} already exists. "
                               "Duplicate names are not allowed.", 409)
        pol = {"PolicyName": name, "PolicyId": _unique_id("ANPA"), "Arn": arn, "Path": path,
               "PolicyDocument": text, "CreateDate": _now_iso()}
        table[arn] = pol
        _save(emu, "iam_policies")
    inner = x("Policy", [x("PolicyName", name), x("PolicyId", pol["PolicyId"]), x("Arn", arn),
                         x("Path", path), x("DefaultVersionId", "v1"),
                         x("AttachmentCount", 0), x("IsAttachable", True),
                         x("CreateDate", pol["CreateDate"]),
                         x("UpdateDate", pol["CreateDate"])])
    return iam_response("CreatePolicy", inner)


def attach_role_policy(emu, req):
    name = _param(req, "RoleName")
    arn = _param(req, "PolicyArn")
    with emu.store.lock:
        role = _role(emu, name)
        if _policy_doc(emu, arn) is None:
            raise ServiceError("NoSuchEntity", f"Policy {arn} does not exist or is not "
                               "attachable.", 404)
        if arn not in role["attached"]:
            role["attached"].append(arn)
            _save(emu, "iam_roles")
    return iam_response("AttachRolePolicy", None)


def detach_role_policy(emu, req):
    arn = _param(req, "PolicyArn")
    with emu.store.lock:
        role = _role(emu, _param(req, "RoleName"))
        if arn not in role["attached"]:
            raise ServiceError("NoSuchEntity", f"Policy {arn} was not found.", 404)
        role["attached"].remove(arn)
        _save(emu, "iam_roles")
    return iam_response("DetachRolePolicy", None)


def list_attached_role_policies(emu, req):
    with emu.store.lock:
        role = _role(emu, _param(req, "RoleName"))
        attached = list(role["attached"])
    entries = [x("PolicyName", a.rsplit("/", 1)[-1]) + x("PolicyArn", a) for a in attached]
    return iam_response("ListAttachedRolePolicies", members("AttachedPolicies", entries) +
                        x("IsTruncated", False))


# --- instance profiles --------------------------------------------------------

def create_instance_profile(emu, req):
    name = _param(req, "InstanceProfileName")
    path = _path(req)
    with emu.store.lock:
        if name in _profiles(emu):
            raise ServiceError("EntityAlreadyExists", f"Instance Profile {name} already "
                               "exists.", 409)
        prof = {"InstanceProfileName": name, "Path": path,
                "InstanceProfileId": _unique_id("AIPA"),
                "Arn": f"arn:aws:iam::{emu.account}:instance-profile{path}{name}",
                "CreateDate": _now_iso(), "Roles": [], "visible_at": _visible_at(emu)}
        _profiles(emu)[name] = prof
        _save(emu, "iam_profiles")
        return iam_response("CreateInstanceProfile",
                            x("InstanceProfile", [_profile_xml(emu, prof)]))


def get_instance_profile_op(emu, req):
    with emu.store.lock:
        prof = _profile(emu, _param(req, "InstanceProfileName"))
        return iam_response("GetInstanceProfile", x("InstanceProfile",
                                                    [_profile_xml(emu, prof)]))


def delete_instance_profile(emu, req):
    name = _param(req, "InstanceProfileName")
    with emu.store.lock:
        if _profile(emu, name)["Roles"]:
            raise ServiceError("DeleteConflict", "Cannot delete entity, must remove roles "
                               "from instance profile first.", 409)
        del _profiles(emu)[name]
        _save(emu, "iam_profiles")
    return iam_response("DeleteInstanceProfile", None)


def add_role_to_instance_profile(emu, req):
    pname = _param(req, "InstanceProfileName")
    rname = _param(req, "RoleName")
    with emu.store.lock:
        prof = _profile(emu, pname)
        _role(emu, rname)
        if rname in prof["Roles"]:
            raise ServiceError("EntityAlreadyExists", f"Role {rname} already exists in "
                               f"instance profile {pname}.", 409)
        if prof["Roles"]:
            raise ServiceError("LimitExceeded", "Cannot exceed quota for "
                               "InstanceSessionsPerInstanceProfile: 1", 409)
        prof["Roles"].append(rname)
        _save(emu, "iam_profiles")
    return iam_response("AddRoleToInstanceProfile", None)


def remove_role_from_instance_profile(emu, req):
    pname = _param(req, "InstanceProfileName")
    rname = _param(req, "RoleName")
    with emu.store.lock:
        prof = _profile(emu, pname)
        _role(emu, rname)
        if rname not in prof["Roles"]:
            raise ServiceError("NoSuchEntity", f"The role with name {rname} cannot be found.",
                               404)
        prof["Roles"].remove(rname)
        _save(emu, "iam_profiles")
    return iam_response("RemoveRoleFromInstanceProfile", None)


# --- policy evaluation (internal API) ------------------------------------------

def _as_list(v):
    return v if isinstance(v, list) else [v]


def _statements(doc):
    return [s for s in _as_list(doc.get("Statement", [])) if isinstance(s, dict)]


def _action_matches(stmt, action):
    """Actions are case-insensitive and may use * and ? wildcards."""
    return any(fnmatch.fnmatchcase(action.lower(), str(a).lower())
               for a in _as_list(stmt.get("Action", [])))


def _resource_matches(stmt, resource):
    return any(fnmatch.fnmatchcase(resource, str(r)) for r in _as_list(stmt.get("Resource", [])))


def _condition_holds(stmt, context):
    """A statement's Condition against the request context ({key: [values]},
    keys lower-case).  Only the string operators the emulator needs are
    known; any other operator or key makes the condition false, so an
    Allow the emulator cannot evaluate grants nothing."""
    cond = stmt.get("Condition")
    if not cond:
        return True
    if not isinstance(cond, dict):
        return False
    for op, keys in cond.items():
        base = op.split(":")[-1]
        any_value = op.lower().startswith("foranyvalue:")
        if base not in ("StringEquals", "StringLike") or not isinstance(keys, dict):
            return False
        for key, want in keys.items():
            have = context.get(key.lower())
            if not have:
                return False
            match = (lambda v, w: fnmatch.fnmatchcase(v, w)) if base == "StringLike" \
                else (lambda v, w: v == w)
            hits = [any(match(h, str(w)) for w in _as_list(want)) for h in have]
            if not (any(hits) if any_value else all(hits)):
                return False
    return True


def _role_documents(emu, role):
    docs = [json.loads(t) for t in role["inline"].values()]
    for arn in role["attached"]:
        doc = _policy_doc(emu, arn)
        if doc:
            docs.append(doc)
    return docs


def _allowed(docs, action, resource, context=None):
    """Identity-policy evaluation: an explicit Deny wins, else any Allow."""
    allow = False
    for doc in docs:
        for s in _statements(doc):
            if not (_action_matches(s, action) and _resource_matches(s, resource) and
                    _condition_holds(s, context or {})):
                continue
            if s.get("Effect") == "Deny":
                return False
            if s.get("Effect") == "Allow":
                allow = True
    return allow


def _trust_allows(doc, service, external_id):
    """sts:AssumeRole by `service` under StringEquals sts:ExternalId
    (condition keys are case-insensitive, as in AWS)."""
    for s in _statements(doc):
        if s.get("Effect") != "Allow" or not _action_matches(s, "sts:AssumeRole"):
            continue
        principal = s.get("Principal")
        if principal != "*" and not (isinstance(principal, dict) and
                                     service in _as_list(principal.get("Service", []))):
            continue
        equals = (s.get("Condition") or {}).get("StringEquals", {})
        values = [v for k, v in equals.items() if k.lower() == "sts:externalid"]
        if values and external_id in _as_list(values[0]):
            return True
    return False


def role_allows_vmimport(emu, role_name, bucket, write=False):
    """Can the VM Import/Export service act for the account through this
    role on this bucket?  (ok, reason) -- reason says what is missing."""
    with emu.store.lock:
        role = _roles(emu).get(role_name)
        if role is None or time.time() < role.get("visible_at", 0):
            return False, f"the role {role_name} does not exist"
        trust = json.loads(role["AssumeRolePolicyDocument"])
        docs = _role_documents(emu, role)
    if not _trust_allows(trust, "vmie.amazonaws.com", "vmimport"):
        return False, (f"the trust policy of role {role_name} does not allow "
                       "vmie.amazonaws.com to assume it with sts:ExternalId vmimport")
    needs = [("s3:GetBucketLocation", f"arn:aws:s3:::{bucket}"),
             ("s3:ListBucket", f"arn:aws:s3:::{bucket}"),
             ("s3:GetObject", f"arn:aws:s3:::{bucket}/*")]
    if write:
        needs.append(("s3:PutObject", f"arn:aws:s3:::{bucket}/*"))
    for action, resource in needs:
        if not _allowed(docs, action, resource):
            return False, f"role {role_name} is not allowed {action} on {resource}"
    return True, ""


KMS_ACTIONS = ("kms:CreateGrant", "kms:Decrypt", "kms:DescribeKey", "kms:Encrypt",
               "kms:GenerateDataKey", "kms:ReEncryptFrom")


def role_allows_kms(emu, role_name, key_arn, aliases=()):
    """Can VM Import/Export use the KMS key through this role (the VM
    Import guide's list for a customer managed key)?  (ok, reason)."""
    with emu.store.lock:
        role = _roles(emu).get(role_name)
        if role is None:
            return False, f"the role {role_name} does not exist"
        docs = _role_documents(emu, role)
    context = {"kms:resourcealiases": list(aliases)} if aliases else {}
    for action in KMS_ACTIONS:
        if not _allowed(docs, action, key_arn, context):
            return False, f"role {role_name} is not allowed {action} on {key_arn}"
    return True, ""


def get_instance_profile(emu, name):
    """The profile record (a copy) as other services see it: None while a
    new one propagates."""
    with emu.store.lock:
        prof = _profiles(emu).get(name)
        if prof is None or time.time() < prof.get("visible_at", 0):
            return None
        return dict(prof)


def profile_role_policies(emu, profile_name):
    """Managed policy ARNs attached to the profile's role ([] if none)."""
    with emu.store.lock:
        prof = _profiles(emu).get(profile_name)
        if not prof:
            return []
        arns = []
        for rname in prof["Roles"]:
            arns.extend(_roles(emu).get(rname, {}).get("attached", []))
        return arns


def dump(emu):
    with emu.store.lock:
        return {"roles": sorted(_roles(emu)), "instance_profiles": {
            n: p["Roles"] for n, p in _profiles(emu).items()}}


OPERATIONS = {
    "CreateRole": create_role,
    "GetRole": get_role,
    "DeleteRole": delete_role,
    "UpdateAssumeRolePolicy": update_assume_role_policy,
    "PutRolePolicy": put_role_policy,
    "GetRolePolicy": get_role_policy,
    "DeleteRolePolicy": delete_role_policy,
    "ListRolePolicies": list_role_policies,
    "ListRoles": list_roles,
    "CreatePolicy": create_policy,
    "AttachRolePolicy": attach_role_policy,
    "DetachRolePolicy": detach_role_policy,
    "ListAttachedRolePolicies": list_attached_role_policies,
    "CreateInstanceProfile": create_instance_profile,
    "GetInstanceProfile": get_instance_profile_op,
    "DeleteInstanceProfile": delete_instance_profile,
    "AddRoleToInstanceProfile": add_role_to_instance_profile,
    "RemoveRoleFromInstanceProfile": remove_role_from_instance_profile,
}
