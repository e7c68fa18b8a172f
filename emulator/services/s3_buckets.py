"""S3 bucket operations: create/head/delete, location, public access block,
default encryption, and the object listings (ListObjectsV2, ListObjects)."""
import base64
import re
import urllib.parse

from ..protocol import ServiceError, x
from . import s3_body
from .s3_common import (BUCKETS, OBJECTS, buckets, get_bucket, iso_time, malformed_xml,
                        objects, owner_xml, parse_xml, s3_response, xml_response)

_NAME_RE = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
_IP_RE = re.compile(r"^\d+\.\d+\.\d+\.\d+$")
REGIONS = {"us-east-1", "us-east-2", "us-west-1", "us-west-2", "ca-central-1", "ca-west-1",
           "eu-west-1", "eu-west-2", "eu-west-3", "eu-central-1", "eu-central-2",
           "eu-north-1", "eu-south-1", "eu-south-2", "ap-south-1", "ap-south-2",
           "ap-northeast-1", "ap-northeast-2", "ap-northeast-3", "ap-southeast-1",
           "ap-southeast-2", "ap-southeast-3", "ap-southeast-4", "ap-east-1",
           "sa-east-1", "me-south-1", "me-central-1", "af-south-1", "il-central-1",
           "mx-central-1", "ap-southeast-5", "ap-southeast-7", "EU"}
PAB_FIELDS = ("BlockPublicAcls", "IgnorePublicAcls", "BlockPublicPolicy", "RestrictPublicBuckets")
SSE_ALGORITHMS = ("AES256", "aws:kms", "aws:kms:dsse")


def valid_bucket_name(name):
    """S3's general-purpose bucket naming rules."""
    return bool(_NAME_RE.match(name)) and ".." not in name and not _IP_RE.match(name) \
        and not name.startswith(("xn--", "sthree-")) \
        and not name.endswith(("-s3alias", "--ol-s3", ".mrap", "--x-s3")) \
        and ".-" not in name and "-." not in name


def region_error(name, bucket_region, signed_region):
    """A request signed for the wrong region: S3 names the right one."""
    return ServiceError("AuthorizationHeaderMalformed", "The authorization header is "
                        f"malformed; the region '{signed_region}' is wrong; expecting "
                        f"'{bucket_region}'", 400, extra={"Region": bucket_region},
                        headers=[("x-amz-bucket-region", bucket_region)])


def bucket_for(emu, req, name):
    """The bucket record, checking that the request was signed for its region."""
    b = get_bucket(emu, name)
    if req.scope is not None and req.region != b["region"]:
        raise region_error(name, b["region"], req.region)
    return b


def _location_constraint(body):
    if not body.strip():
        return None
    root = parse_xml(body)
    if root.tag != "CreateBucketConfiguration":
        raise malformed_xml()
    el = root.find("LocationConstraint")
    return el.text.strip() if el is not None and el.text else None


def create_bucket(emu, req, name):
    """LocationConstraint rules: the us-east-1 endpoint takes no constraint
    (and rejects 'us-east-1'); any other region needs its own name."""
    body = s3_body.read_small(req)
    if not valid_bucket_name(name):
        raise ServiceError("InvalidBucketName", "The specified bucket is not valid.", 400,
                           extra={"BucketName": name})
    constraint = _location_constraint(body)
    if constraint is not None and constraint not in REGIONS:
        raise ServiceError("InvalidLocationConstraint",
                           "The specified location-constraint is not valid", 400,
                           extra={"LocationConstraint": constraint})
    if req.region == "us-east-1":
        if constraint == "us-east-1":
            raise ServiceError("InvalidLocationConstraint",
                               "The specified location-constraint is not valid", 400,
                               extra={"LocationConstraint": constraint})
        region = constraint or "us-east-1"
    else:
        if constraint != req.region:
            what = f"The {constraint} location constraint" if constraint else \
                "The unspecified location constraint"
            raise ServiceError("IllegalLocationConstraintException", f"{what} is incompatible "
                               "for the region specific endpoint this request was sent to.", 400)
        region = constraint
    region = "eu-west-1" if region == "EU" else region
    with emu.store.lock:
        existing = buckets(emu).get(name)
        if existing is not None:
            if existing["region"] == "us-east-1" and region == "us-east-1":
                return s3_response(200, headers=[("Location", f"/{name}")])  # legacy quirk
            raise ServiceError("BucketAlreadyOwnedByYou", "Your previous request to create "
                               "the named bucket succeeded and you already own it.", 409,
                               extra={"BucketName": name})
        buckets(emu)[name] = {
            "region": region, "created": emu.now(),
            # S3 defaults since 2023: public access blocked, SSE-S3 encryption
            "public_access_block": {f: True for f in PAB_FIELDS},
            "encryption": {"algorithm": "AES256", "kms_key": None, "bucket_key": False},
        }
        emu.store.save(BUCKETS)
    return s3_response(200, headers=[("Location", f"/{name}")])


def head_bucket(emu, req, name):
    s3_body.read_small(req)
    b = buckets(emu).get(name)
    if b is None:
        raise ServiceError("NoSuchBucket", "Not Found", 404)
    hdrs = [("x-amz-bucket-region", b["region"]), ("x-amz-access-point-alias", "false")]
    if req.scope is not None and req.region != b["region"]:
        # A regional endpoint redirects a HEAD for a bucket elsewhere.
        raise ServiceError("PermanentRedirect", "Moved Permanently", 301, headers=hdrs)
    return s3_response(200, headers=hdrs)


def delete_bucket(emu, req, name):
    s3_body.read_small(req)
    bucket_for(emu, req, name)
    with emu.store.lock:
        if any(o["bucket"] == name for o in objects(emu).values()):
            raise ServiceError("BucketNotEmpty", "The bucket you tried to delete is not "
                               "empty", 409, extra={"BucketName": name})
        del buckets(emu)[name]
        emu.store.save(BUCKETS)
    return s3_response(204)


def list_buckets(emu, req):
    s3_body.read_small(req)
    items = [x("Bucket", [x("Name", n), x("CreationDate", iso_time(b["created"])),
                          x("BucketRegion", b["region"])])
             for n, b in sorted(buckets(emu).items())]
    return xml_response("ListAllMyBucketsResult", owner_xml(emu) + x("Buckets", items))


def get_bucket_location(emu, req, name):
    s3_body.read_small(req)
    b = get_bucket(emu, name)
    loc = "" if b["region"] == "us-east-1" else b["region"]
    return xml_response("LocationConstraint", loc.replace("&", "&amp;"))


# --- public access block ---------------------------------------------------

def put_public_access_block(emu, req, name):
    body = s3_body.read_small(req)
    bucket_for(emu, req, name)
    root = parse_xml(body)
    if root.tag != "PublicAccessBlockConfiguration":
        raise malformed_xml()
    conf = {}
    for f in PAB_FIELDS:
        el = root.find(f)
        conf[f] = el is not None and (el.text or "").strip().lower() == "true"
    with emu.store.lock:
        buckets(emu)[name]["public_access_block"] = conf
        emu.store.save(BUCKETS)
    return s3_response(200)


def get_public_access_block(emu, req, name):
    s3_body.read_small(req)
    conf = bucket_for(emu, req, name).get("public_access_block")
    if not conf:
        raise ServiceError("NoSuchPublicAccessBlockConfiguration", "The public access block "
                           "configuration was not found", 404, extra={"BucketName": name})
    return xml_response("PublicAccessBlockConfiguration",
                        "".join(x(f, bool(conf.get(f))) for f in PAB_FIELDS))


def delete_public_access_block(emu, req, name):
    s3_body.read_small(req)
    bucket_for(emu, req, name)
    with emu.store.lock:
        buckets(emu)[name]["public_access_block"] = None
        emu.store.save(BUCKETS)
    return s3_response(204)


# --- default encryption ----------------------------------------------------

def put_bucket_encryption(emu, req, name):
    body = s3_body.read_small(req)
    bucket_for(emu, req, name)
    root = parse_xml(body)
    rule = root.find("Rule")
    default = rule.find("ApplyServerSideEncryptionByDefault") if rule is not None else None
    if root.tag != "ServerSideEncryptionConfiguration" or default is None:
        raise malformed_xml()
    alg = (default.findtext("SSEAlgorithm") or "").strip()
    if alg not in SSE_ALGORITHMS:
        raise malformed_xml()
    key = (default.findtext("KMSMasterKeyID") or "").strip() or None
    if key and alg == "AES256":
        raise ServiceError("InvalidArgument", "a KMSMasterKeyID is not applicable if the "
                           "default sse algorithm is not aws:kms or aws:kms:dsse", 400)
    bucket_key = (rule.findtext("BucketKeyEnabled") or "").strip().lower() == "true"
    with emu.store.lock:
        buckets(emu)[name]["encryption"] = {"algorithm": alg, "kms_key": key,
                                            "bucket_key": bucket_key}
        emu.store.save(BUCKETS)
    return s3_response(200)


def get_bucket_encryption(emu, req, name):
    s3_body.read_small(req)
    enc = bucket_for(emu, req, name).get("encryption")
    if not enc:
        raise ServiceError("ServerSideEncryptionConfigurationNotFoundError", "The server side "
                           "encryption configuration was not found", 404,
                           extra={"BucketName": name})
    inner = [x("SSEAlgorithm", enc["algorithm"])]
    if enc.get("kms_key"):
        inner.append(x("KMSMasterKeyID", enc["kms_key"]))
    rule = x("Rule", [x("ApplyServerSideEncryptionByDefault", inner),
                      x("BucketKeyEnabled", bool(enc.get("bucket_key")))])
    return xml_response("ServerSideEncryptionConfiguration", rule)


def delete_bucket_encryption(emu, req, name):
    """S3 falls back to SSE-S3: there is no unencrypted bucket any more."""
    s3_body.read_small(req)
    bucket_for(emu, req, name)
    with emu.store.lock:
        buckets(emu)[name]["encryption"] = {"algorithm": "AES256", "kms_key": None,
                                            "bucket_key": False}
        emu.store.save(BUCKETS)
    return s3_response(204)


# --- listing -----------------------------------------------------------------

def _int_param(req, name, default, cap=1000):
    v = req.query.get(name)
    if v is None or v == "":
        return default
    try:
        n = int(v)
    except ValueError:
        n = -1
    if n < 0:
        raise ServiceError("InvalidArgument", f"Provided {name} not valid.", 400)
    return min(n, cap)


def walk(emu, bucket, prefix, delimiter, after, limit):
    """Keys and common prefixes in order, strictly after `after`: returns
    (entries [(name, record or None)], truncated)."""
    keys = sorted(o["key"] for o in objects(emu).values()
                  if o["bucket"] == bucket and o["key"].startswith(prefix))
    out, truncated, last_cp = [], False, None
    for key in keys:
        name, rec = key, objects(emu)[f"{bucket}/{key}"]
        if delimiter:
            i = key.find(delimiter, len(prefix))
            if i >= 0:
                name, rec = key[:i + len(delimiter)], None
        if name <= after or (rec is None and name == last_cp):
            continue
        if len(out) >= limit:
            truncated = True
            break
        out.append((name, rec))
        if rec is None:
            last_cp = name
    return out, truncated


def _enc(req):
    url = req.query.get("encoding-type") == "url"
    if req.query.get("encoding-type") not in (None, "url"):
        raise ServiceError("InvalidArgument", "Invalid Encoding Method specified in "
                           "Request", 400)
    return (lambda s: urllib.parse.quote(s, safe="/~")) if url else (lambda s: s)


def _contents(entries, enc, owner):
    parts = []
    for name, rec in entries:
        if rec is None:
            parts.append(x("CommonPrefixes", [x("Prefix", enc(name))]))
            continue
        fields = [x("Key", enc(name)), x("LastModified", iso_time(rec["last_modified"])),
                  x("ETag", rec["etag"]), x("Size", rec["size"])]
        for alg in sorted(rec.get("checksums") or {}):
            fields.append(x("ChecksumAlgorithm", alg.upper()))
        if rec.get("checksum_type"):
            fields.append(x("ChecksumType", rec["checksum_type"]))
        fields.append(x("StorageClass", rec.get("storage_class") or "STANDARD"))
        if owner:
            fields.append(owner)
        parts.append(x("Contents", fields))
    return parts


def list_objects_v2(emu, req, name):
    s3_body.read_small(req)
    bucket_for(emu, req, name)
    q, enc = req.query, _enc(req)
    prefix, delim = q.get("prefix", ""), q.get("delimiter", "")
    limit = _int_param(req, "max-keys", 1000)
    token = q.get("continuation-token")
    after = q.get("start-after", "")
    if token is not None:
        try:
            after = base64.urlsafe_b64decode(token.encode()).decode()
        except (ValueError, UnicodeDecodeError):
            raise ServiceError("InvalidArgument", "The continuation token provided is "
                               "incorrect", 400)
    entries, truncated = walk(emu, name, prefix, delim, after, limit)
    fields = [x("Name", name), x("Prefix", enc(prefix))]
    if "start-after" in q:
        fields.append(x("StartAfter", enc(q["start-after"])))
    if token is not None:
        fields.append(x("ContinuationToken", token))
    if delim:
        fields.append(x("Delimiter", enc(delim)))
    if q.get("encoding-type"):
        fields.append(x("EncodingType", "url"))
    fields += [x("KeyCount", len(entries)), x("MaxKeys", limit), x("IsTruncated", truncated)]
    if truncated:
        fields.append(x("NextContinuationToken",
                        base64.urlsafe_b64encode(entries[-1][0].encode()).decode()))
    owner = owner_xml(emu) if q.get("fetch-owner") == "true" else None
    return xml_response("ListBucketResult", "".join(fields + _contents(entries, enc, owner)))


def list_objects(emu, req, name):
    """ListObjects (v1): marker / NextMarker (only with a delimiter)."""
    s3_body.read_small(req)
    bucket_for(emu, req, name)
    q, enc = req.query, _enc(req)
    prefix, delim, marker = q.get("prefix", ""), q.get("delimiter", ""), q.get("marker", "")
    limit = _int_param(req, "max-keys", 1000)
    entries, truncated = walk(emu, name, prefix, delim, marker, limit)
    fields = [x("Name", name), x("Prefix", enc(prefix)), x("Marker", enc(marker))]
    if delim:
        fields.append(x("Delimiter", enc(delim)))
    if q.get("encoding-type"):
        fields.append(x("EncodingType", "url"))
    fields += [x("MaxKeys", limit), x("IsTruncated", truncated)]
    if truncated and delim:
        fields.append(x("NextMarker", enc(entries[-1][0])))
    return xml_response("ListBucketResult",
                        "".join(fields + _contents(entries, enc, owner_xml(emu))))


def save_objects(emu):
    emu.store.save(OBJECTS)
