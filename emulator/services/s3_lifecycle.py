"""PutBucketLifecycleConfiguration, GetBucketLifecycleConfiguration,
DeleteBucketLifecycle (the S3 model, 2006-03-01): what vmie sets on the
buckets it creates (abort incomplete multipart uploads after N days).

As S3 does: the body must carry an integrity check (Content-MD5 or an
x-amz-checksum-* header: the operation is httpChecksum-required), at most
1000 rules, each with a Status of Enabled or Disabled, a filter (Filter or
the old Prefix, not both), at least one action, IDs unique and at most
255 characters; DaysAfterInitiation a positive integer."""
from ..protocol import ServiceError, x
from . import s3_body
from .s3_buckets import bucket_for
from .s3_common import BUCKETS, buckets, malformed_xml, parse_xml, s3_response, xml_response

ACTIONS = ("Expiration", "Transition", "NoncurrentVersionTransition",
           "NoncurrentVersionExpiration", "AbortIncompleteMultipartUpload")


def _bad(message):
    return ServiceError("InvalidArgument", message, 400)


def _positive_days(el, name):
    text = (el.findtext(name) or "").strip()
    if not text.isdigit() or int(text) < 1:
        raise _bad(f"'{name}' for {el.tag} action must be a positive integer")
    return int(text)


def _rule(el, seen_ids):
    rule = {}
    rid = (el.findtext("ID") or "").strip()
    if len(rid) > 255:
        raise _bad("ID length should not exceed allowed limit of 255")
    if rid and rid in seen_ids:
        raise _bad("Rule ID must be unique. Found same ID for more than one rule")
    seen_ids.add(rid)
    status = (el.findtext("Status") or "").strip()
    if status not in ("Enabled", "Disabled"):
        raise malformed_xml()
    flt, prefix = el.find("Filter"), el.find("Prefix")
    if flt is not None and prefix is not None:
        raise malformed_xml()
    if flt is None and prefix is None:
        raise malformed_xml()
    if flt is not None:
        kinds = [c.tag for c in flt if c.tag in ("Prefix", "Tag", "And",
                                                 "ObjectSizeGreaterThan", "ObjectSizeLessThan")]
        if len(kinds) > 1:
            raise malformed_xml()
        rule["Prefix"] = flt.findtext("Prefix") or ""
    else:
        rule["Prefix"] = prefix.text or ""
    if not any(el.find(a) is not None for a in ACTIONS):
        raise _bad("At least one action needs to be specified in a rule")
    abort = el.find("AbortIncompleteMultipartUpload")
    if abort is not None:
        if flt is not None and flt.find("Tag") is not None:
            raise _bad("AbortIncompleteMultipartUpload cannot be specified with Tags.")
        rule["AbortDays"] = _positive_days(abort, "DaysAfterInitiation")
    exp = el.find("Expiration")
    if exp is not None and exp.find("Days") is not None:
        rule["ExpirationDays"] = _positive_days(exp, "Days")
    rule.update(ID=rid, Status=status)
    return rule


def put_bucket_lifecycle_configuration(emu, req, name):
    body = s3_body.read_small(req)
    bucket_for(emu, req, name)
    has_check = req.headers.get("Content-MD5") or any(
        k.lower().startswith("x-amz-checksum-") for k in req.headers.keys())
    if not has_check:
        raise ServiceError("InvalidRequest", "Missing required header for this request: "
                           "Content-MD5 OR x-amz-checksum-*", 400)
    root = parse_xml(body)
    if root.tag != "LifecycleConfiguration":
        raise malformed_xml()
    rules_el = root.findall("Rule")
    if not rules_el or len(rules_el) > 1000:
        raise malformed_xml()
    seen = set()
    rules = [_rule(el, seen) for el in rules_el]
    with emu.store.lock:
        buckets(emu)[name]["lifecycle"] = rules
        emu.store.save(BUCKETS)
    return s3_response(200, headers=[("x-amz-transition-default-minimum-object-size",
                                      "all_storage_classes_128K")])


def get_bucket_lifecycle_configuration(emu, req, name):
    s3_body.read_small(req)
    rules = bucket_for(emu, req, name).get("lifecycle")
    if not rules:
        raise ServiceError("NoSuchLifecycleConfiguration", "The lifecycle configuration "
                           "does not exist", 404, extra={"BucketName": name})
    out = []
    for r in rules:
        fields = [x("ID", r["ID"])] if r["ID"] else []
        fields.append(x("Filter", [x("Prefix", r["Prefix"])] if r["Prefix"] else ""))
        fields.append(x("Status", r["Status"]))
        if "ExpirationDays" in r:
            fields.append(x("Expiration", [x("Days", r["ExpirationDays"])]))
        if "AbortDays" in r:
            fields.append(x("AbortIncompleteMultipartUpload",
                            [x("DaysAfterInitiation", r["AbortDays"])]))
        out.append(x("Rule", fields))
    return xml_response("LifecycleConfiguration", "".join(out))


def delete_bucket_lifecycle(emu, req, name):
    s3_body.read_small(req)
    bucket_for(emu, req, name)
    with emu.store.lock:
        buckets(emu)[name].pop("lifecycle", None)
        emu.store.save(BUCKETS)
    return s3_response(204)
