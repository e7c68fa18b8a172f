"""S3 object operations: PutObject, HeadObject, GetObject (Range, partNumber),
DeleteObject, DeleteObjects.  Bodies stream to files (s3_body); GETs stream from them."""
import os
import re

from ..protocol import ServiceError, x
from . import s3_body
from . import s3_checksums as ck
from .s3_buckets import bucket_for
from .s3_common import get_object as get_object_record
from .s3_common import (MAX_SINGLE_PUT, OBJECTS, blob_path, http_time,
                        malformed_xml, new_blob, object_id, objects, parse_xml, remove_blob,
                        s3_response, tmp_dir, xml_response)

STORAGE_CLASSES = {"STANDARD", "REDUCED_REDUNDANCY", "STANDARD_IA", "ONEZONE_IA",
                   "INTELLIGENT_TIERING", "GLACIER", "DEEP_ARCHIVE", "OUTPOSTS", "GLACIER_IR",
                   "SNOW", "EXPRESS_ONEZONE"}
SYSTEM_HEADERS = ("Content-Type", "Content-Encoding", "Content-Disposition",
                  "Content-Language", "Cache-Control", "Expires")
MAX_METADATA = 2048
_RANGE_RE = re.compile(r"^bytes=(\d*)-(\d*)$")


def check_key(key):
    if len(key.encode()) > 1024:
        raise ServiceError("KeyTooLongError", "Your key is too long", 400)


def write_attributes(emu, req, bucket):
    """What PutObject / CreateMultipartUpload headers say about the object:
    user metadata, content headers, storage class, encryption."""
    meta, size = {}, 0
    for name, value in req.headers.items():
        if name.lower().startswith("x-amz-meta-"):
            meta[name.lower()[len("x-amz-meta-"):]] = value
            size += len(name) - len("x-amz-meta-") + len(value)
    if size > MAX_METADATA:
        raise ServiceError("MetadataTooLarge", "Your metadata headers exceed the maximum "
                           "allowed metadata size.", 400)
    sc = (req.headers.get("x-amz-storage-class") or "STANDARD").strip()
    if sc not in STORAGE_CLASSES:
        raise ServiceError("InvalidStorageClass", "The storage class you specified is not "
                           "valid", 400, extra={"StorageClassRequested": sc})
    system = {}
    for h in SYSTEM_HEADERS:
        v = req.headers.get(h)
        if h == "Content-Encoding" and v:
            v = ",".join(p for p in (s.strip() for s in v.split(","))
                         if p and p != "aws-chunked") or None
        if v:
            system[h] = v
    system.setdefault("Content-Type", "binary/octet-stream")
    return {"metadata": meta, "storage_class": sc, "headers": system,
            "sse": _sse(req, bucket)}


def _sse(req, bucket):
    alg = req.headers.get("x-amz-server-side-encryption")
    key = req.headers.get("x-amz-server-side-encryption-aws-kms-key-id")
    if alg is None:
        enc = bucket.get("encryption") or {}
        alg, key = enc.get("algorithm", "AES256"), enc.get("kms_key")
    elif alg not in ("AES256", "aws:kms", "aws:kms:dsse"):
        raise ServiceError("InvalidArgument", "The encryption method specified is not "
                           "supported", 400)
    if alg.startswith("aws:kms") and not key:
        key = f"arn:aws:kms:{bucket['region']}:{{account}}:alias/aws/s3"
    return {"algorithm": alg, "kms_key": key if alg.startswith("aws:kms") else None}


def sse_headers(emu, sse):
    if not sse:
        return []
    out = [("x-amz-server-side-encryption", sse["algorithm"])]
    if sse.get("kms_key"):
        out.append(("x-amz-server-side-encryption-aws-kms-key-id",
                    sse["kms_key"].replace("{account}", emu.account)))
    return out


def _key_exists():
    return ServiceError("PreconditionFailed", "At least one of the pre-conditions you "
                        "specified did not hold", 412, extra={"Condition": "If-None-Match"})


def create_only(emu, req, bucket, key):
    """PutObject's If-None-Match (S3's conditional write): "*" writes the
    object only if the key does not exist; 412 PreconditionFailed when it
    does.  S3 documents no other value ("Expects the '*' character"); like
    S3-compatible servers that follow AWS (versitygw), we refuse one with
    501 NotImplemented.  Debian's botocore (1.29) predates this header on
    PutObject, so its model cannot be checked here: the S3 API reference
    is the source.  S3 also answers 409 ConditionalRequestConflict when a
    conflicting write is in flight; here writes are serialised under the
    store lock, so the loser of a race always gets the 412."""
    value = req.headers.get("If-None-Match")
    if value is None:
        return False
    if value.strip() != "*":
        raise ServiceError("NotImplemented", "A header you provided implies functionality "
                           "that is not implemented", 501, extra={"Header": "If-None-Match"})
    with emu.store.lock:
        if object_id(bucket, key) in objects(emu):
            raise _key_exists()
    return True


def install(emu, bucket, key, src_path, record, only_if_absent=False):
    """Move a finished file into place and record it; the old blob goes.
    only_if_absent: refuse (412) if the key appeared meanwhile."""
    blob = new_blob()
    record = dict(record, bucket=bucket, key=key, blob=blob,
                  last_modified=record.get("last_modified") or emu.now())
    if getattr(emu, "s3_legacy_objects", False):
        record["no_default_checksum"] = True
    with emu.store.lock:
        old = objects(emu).get(object_id(bucket, key))
        if old and only_if_absent:
            os.unlink(src_path)
            raise _key_exists()
        os.replace(src_path, blob_path(emu, blob))
        objects(emu)[object_id(bucket, key)] = record
        emu.store.save(OBJECTS)
    if old:
        remove_blob(emu, old.get("blob"))
    return record


def put_object(emu, req, bucket_name, key):
    bucket = bucket_for(emu, req, bucket_name)
    check_key(key)
    if (s3_body.declared_length(req) or 0) > MAX_SINGLE_PUT:
        raise ServiceError("EntityTooLarge", "Your proposed upload exceeds the maximum "
                           "allowed size", 400, extra={"MaxSizeAllowed": MAX_SINGLE_PUT})
    attrs = write_attributes(emu, req, bucket)
    absent = create_only(emu, req, bucket_name, key)
    got = s3_body.ingest(emu, req, tmp_dir(emu))
    if got.size > MAX_SINGLE_PUT:
        got.discard()
        raise ServiceError("EntityTooLarge", "Your proposed upload exceeds the maximum "
                           "allowed size", 400)
    checksums = {a: ck.b64(v) for a, v in got.checksums.items()}
    install(emu, bucket_name, key, got.path, dict(
        attrs, size=got.size, etag=got.etag, checksums=checksums,
        checksum_type="FULL_OBJECT" if checksums else None), only_if_absent=absent)
    hdrs = [("ETag", got.etag)] + sse_headers(emu, attrs["sse"])
    hdrs += [(ck.header_name(a), v) for a, v in checksums.items()]
    if checksums:
        hdrs.append(("x-amz-checksum-type", "FULL_OBJECT"))
    return s3_response(200, headers=hdrs)


def _part_range(req, rec):
    """?partNumber=N: (start, end inclusive, part record or None) of part N,
    or None without the parameter.  An object uploaded in one piece has one
    part, the whole object.  partNumber with a Range is refused, as S3 does."""
    raw = req.query.get("partNumber")
    if raw is None:
        return None
    try:
        n = int(raw)
    except ValueError:
        n = 0
    if not 1 <= n <= 10000:
        raise ServiceError("InvalidArgument", "Part number must be an integer between 1 and "
                           "10000, inclusive", 400, extra={"ArgumentName": "partNumber",
                                                           "ArgumentValue": raw})
    if req.headers.get("Range"):
        raise ServiceError("InvalidRequest", "Cannot specify both Range header and "
                           "partNumber query parameter", 400)
    parts = rec.get("parts") or [{"size": rec["size"], "checksums": None}]
    if n > len(parts):
        raise ServiceError("InvalidPartNumber", "The requested partnumber is not "
                           "satisfiable", 416, extra={"PartNumberRequested": n,
                                                      "ActualPartCount": len(parts)})
    start = sum(p["size"] for p in parts[:n - 1])
    return start, start + parts[n - 1]["size"] - 1, parts[n - 1] if rec.get("parts") else None


def _part_headers(emu, req, rec, part):
    """The object's headers for one part: a COMPOSITE object's checksum is
    the part's own (with checksum mode), a FULL_OBJECT one's is not sent."""
    hdrs = _object_headers(emu, req, rec, part is None)
    if rec.get("parts_count"):  # sent only when a part is asked for
        hdrs.append(("x-amz-mp-parts-count", str(rec["parts_count"])))
    mode = (req.headers.get("x-amz-checksum-mode") or "").upper()
    if part is not None and mode == "ENABLED" and rec.get("checksum_type") == "COMPOSITE":
        for alg in (rec.get("checksums") or {}):
            value = (part.get("checksums") or {}).get(alg)
            if value:
                hdrs.append((ck.header_name(alg), value))
                hdrs.append(("x-amz-checksum-type", "COMPOSITE"))
    return hdrs


def _stored_checksums(emu, rec):
    """The object's checksums.  S3 gives an object stored without one a
    full-object CRC64NVME; the emulator computes it the first time it is
    asked for (x-amz-checksum-mode: ENABLED) and keeps it.  An object
    stored as before late 2024 (POST /_vmie/s3/legacy-objects) has none."""
    if rec.get("checksums") or rec.get("no_default_checksum"):
        return rec.get("checksums") or {}
    crc = ck.crc64nvme_file(blob_path(emu, rec["blob"]) if rec.get("blob") else None,
                            rec["size"])
    with emu.store.lock:
        rec["checksums"] = {"crc64nvme": ck.b64(crc.to_bytes(8, "big"))}
        rec["checksum_type"] = "FULL_OBJECT"
        emu.store.save(OBJECTS)
    return rec["checksums"]


def _object_headers(emu, req, rec, with_checksums):
    hdrs = [("ETag", rec["etag"]), ("Last-Modified", http_time(rec["last_modified"])),
            ("Accept-Ranges", "bytes")]
    for name, value in rec.get("headers", {}).items():
        override = req.query.get("response-" + name.lower())
        hdrs.append((name, override if override else value))
    for name, value in sorted(rec.get("metadata", {}).items()):
        hdrs.append(("x-amz-meta-" + name, value))
    if rec.get("storage_class", "STANDARD") != "STANDARD":
        hdrs.append(("x-amz-storage-class", rec["storage_class"]))
    hdrs += sse_headers(emu, rec.get("sse"))
    mode = (req.headers.get("x-amz-checksum-mode") or "").upper()
    if with_checksums and mode == "ENABLED":
        for alg, value in _stored_checksums(emu, rec).items():
            hdrs.append((ck.header_name(alg), value))
        hdrs.append(("x-amz-checksum-type", rec.get("checksum_type") or "FULL_OBJECT"))
    return hdrs


def _preconditions(req, rec):
    """If-Match / If-None-Match (ETag comparisons, as S3 does them):
    raises 412, or returns the bodiless 304 answer."""
    etag = rec["etag"].strip('"')
    im = req.headers.get("If-Match")
    if im and im.strip() != "*" and etag not in [t.strip().strip('"') for t in im.split(",")]:
        raise ServiceError("PreconditionFailed", "At least one of the pre-conditions you "
                           "specified did not hold", 412, extra={"Condition": "If-Match"})
    inm = req.headers.get("If-None-Match")
    if inm and (inm.strip() == "*" or etag in [t.strip().strip('"') for t in inm.split(",")]):
        return s3_response(304, headers=[("ETag", rec["etag"]), ("Content-Length", "0")])
    return None


def _range(req, size):
    """(start, end inclusive) or None for the whole object; 416 if
    unsatisfiable.  A malformed or multi-range header is ignored, as S3 does."""
    spec = (req.headers.get("Range") or "").strip()
    m = _RANGE_RE.match(spec)
    if not m or (not m.group(1) and not m.group(2)):
        return None
    first, last = m.group(1), m.group(2)
    if first:
        start = int(first)
        end = min(int(last), size - 1) if last else size - 1
        if last and int(last) < start:
            return None
    else:
        start, end = max(0, size - int(last)), size - 1
        if int(last) == 0:
            start = size
    if start >= size:
        raise ServiceError("InvalidRange", "The requested range is not satisfiable", 416,
                           extra={"RangeRequested": spec, "ActualObjectSize": size},
                           headers=[("Content-Range", f"bytes */{size}")])
    return start, end


def head_object(emu, req, bucket, key):
    s3_body.read_small(req)
    bucket_for(emu, req, bucket)
    rec = get_object_record(emu, bucket, key)
    not_modified = _preconditions(req, rec)
    if not_modified:
        return not_modified
    part = _part_range(req, rec)
    if part:
        start, end, prec = part
        hdrs = _part_headers(emu, req, rec, prec)
        hdrs += [("Content-Range", f"bytes {start}-{end}/{rec['size']}"),
                 ("Content-Length", str(end - start + 1))]
        return s3_response(206, headers=hdrs)
    hdrs = _object_headers(emu, req, rec, True)
    rng = _range(req, rec["size"])
    if rng:
        hdrs += [("Content-Range", f"bytes {rng[0]}-{rng[1]}/{rec['size']}"),
                 ("Content-Length", str(rng[1] - rng[0] + 1))]
        return s3_response(206, headers=hdrs)
    return s3_response(200, headers=hdrs + [("Content-Length", str(rec["size"]))])


def get_object(emu, req, bucket, key):
    s3_body.read_small(req)
    bucket_for(emu, req, bucket)
    rec = get_object_record(emu, bucket, key)
    not_modified = _preconditions(req, rec)
    if not_modified:
        return not_modified
    path = blob_path(emu, rec["blob"])
    part = _part_range(req, rec)
    if part:
        start, end, prec = part
        hdrs = _part_headers(emu, req, rec, prec)
        hdrs.append(("Content-Range", f"bytes {start}-{end}/{rec['size']}"))
        return s3_response(206, headers=hdrs, file=(path, start, end - start + 1))
    rng = _range(req, rec["size"])
    if rng is None:
        return s3_response(200, headers=_object_headers(emu, req, rec, True),
                           file=(path, 0, rec["size"]))
    start, end = rng
    hdrs = _object_headers(emu, req, rec, False)
    hdrs.append(("Content-Range", f"bytes {start}-{end}/{rec['size']}"))
    return s3_response(206, headers=hdrs, file=(path, start, end - start + 1))


def delete_object(emu, req, bucket, key):
    s3_body.read_small(req)
    bucket_for(emu, req, bucket)
    with emu.store.lock:
        old = objects(emu).pop(object_id(bucket, key), None)
        if old:
            emu.store.save(OBJECTS)
    if old:
        remove_blob(emu, old.get("blob"))
    return s3_response(204)


def delete_objects(emu, req, bucket):
    body = s3_body.read_small(req)
    bucket_for(emu, req, bucket)
    root = parse_xml(body)
    if root.tag != "Delete":
        raise malformed_xml()
    quiet = (root.findtext("Quiet") or "").strip().lower() == "true"
    keys = [o.findtext("Key") or "" for o in root.findall("Object")]
    if len(keys) > 1000:
        raise malformed_xml()
    gone = []
    with emu.store.lock:
        for key in keys:
            old = objects(emu).pop(object_id(bucket, key), None)
            if old:
                gone.append(old.get("blob"))
        emu.store.save(OBJECTS)
    for blob in gone:
        remove_blob(emu, blob)
    inner = "" if quiet else "".join(x("Deleted", [x("Key", k)]) for k in keys)
    return xml_response("DeleteResult", inner)
