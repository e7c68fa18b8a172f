"""CompleteMultipartUpload: the checks S3 makes, in its order, and the
object it builds (aws-facts.md §3.2, §4):

  no parts / bad XML        MalformedXML
  part numbers not rising   InvalidPartOrder
  unknown part, ETag or per-part checksum mismatch   InvalidPart
  non-last part < 5 MiB     EntityTooSmall
  ETag      md5(concat raw part md5s) + "-N"
  COMPOSITE base64(ALG(concat raw part digests)) + "-N"
  FULL_OBJECT  the CRC of the whole object (no suffix)

A repeated Complete of an upload that already completed answers as the
first did (S3 does, so a retry after a lost response still succeeds)."""
import base64
import os
import shutil

from ..protocol import ServiceError, x
from . import s3_body
from . import s3_checksums as ck
from .s3_buckets import bucket_for
from .s3_common import UPLOADS, get_upload, malformed_xml, parse_xml, tmp_dir, uploads, \
    xml_response
from .s3_multipart import MIN_PART, _part_path
from .s3_objects import install, sse_headers

COMPLETED = "s3_completed"


def invalid_part(number):
    return ServiceError("InvalidPart", "One or more of the specified parts could not be "
                        "found.  The part may not have been uploaded, or the specified entity "
                        "tag may not match the part's entity tag.", 400,
                        extra={"PartNumber": number})


def _requested_parts(body):
    root = parse_xml(body)
    if root.tag != "CompleteMultipartUpload":
        raise malformed_xml()
    parts = []
    for el in root.findall("Part"):
        try:
            number = int((el.findtext("PartNumber") or "").strip())
        except ValueError:
            raise malformed_xml()
        sums = {a: (el.findtext(ck.xml_name(a)) or "").strip() for a in ck.ALGORITHMS
                if el.find(ck.xml_name(a)) is not None}
        parts.append({"number": number, "etag": (el.findtext("ETag") or "").strip(),
                      "checksums": sums})
    if not parts:
        raise malformed_xml()
    return parts


def _validate(up, requested):
    """The stored parts chosen, in order, after S3's checks."""
    prev = 0
    for p in requested:
        if p["number"] <= prev:
            raise ServiceError("InvalidPartOrder", "The list of parts was not in ascending "
                               "order. Parts must be ordered by part number.", 400)
        prev = p["number"]
    alg = up.get("checksum_algorithm")
    chosen = []
    for i, p in enumerate(requested):
        stored = up["parts"].get(str(p["number"]))
        if stored is None or p["etag"].strip('"') != stored["etag"].strip('"'):
            raise invalid_part(p["number"])
        for a, value in p["checksums"].items():
            if stored.get("checksums", {}).get(a) != value:
                raise invalid_part(p["number"])
        if alg and alg not in p["checksums"]:
            raise ServiceError("InvalidRequest", f"The upload was created using a {alg} "
                               "checksum. The complete request must include the checksum for "
                               f"each part. It was missing for part {p['number']} in the "
                               "request.", 400)
        if i < len(requested) - 1 and stored["size"] < MIN_PART:
            raise ServiceError("EntityTooSmall", "Your proposed upload is smaller than the "
                               "minimum allowed size", 400, extra={
                                   "ProposedSize": stored["size"], "MinSizeAllowed": MIN_PART,
                                   "PartNumber": p["number"], "ETag": stored["etag"]})
        chosen.append((p["number"], stored))
    return chosen


def _object_algorithm(up, chosen):
    """The upload's algorithm, else one every part carried."""
    if up.get("checksum_algorithm"):
        return up["checksum_algorithm"]
    common = set.intersection(*(set(s.get("checksums", {})) for _, s in chosen))
    return sorted(common)[0] if common else None


def _assemble(emu, upload_id, chosen, full_object_alg):
    """Concatenate the parts into one temp file (hashing only when a
    FULL_OBJECT CRC is wanted); returns (path, digest or None)."""
    os.makedirs(tmp_dir(emu), exist_ok=True)
    path = os.path.join(tmp_dir(emu), f"complete-{upload_id}")
    h = ck.new(full_object_alg) if full_object_alg else None
    if emu.sink:  # the parts are holes: so is the object
        with open(path, "wb") as out:
            out.truncate(sum(stored["size"] for _, stored in chosen))
        return path, None
    with open(path, "wb") as out:
        for number, stored in chosen:
            with open(_part_path(emu, upload_id, number), "rb") as src:
                if h is None and hasattr(os, "copy_file_range"):
                    _copy_range(src, out, stored["size"])
                    continue
                for block in iter(lambda: src.read(1 << 20), b""):
                    if h:
                        h.update(block)
                    out.write(block)
    return path, h.digest() if h else None


def _copy_range(src, out, size):
    out.flush()
    left = size
    while left > 0:
        n = os.copy_file_range(src.fileno(), out.fileno(), left)
        if n == 0:
            break
        left -= n
    if left:
        shutil.copyfileobj(src, out)


def _checksum_fields(up, chosen, alg, full_digest, req):
    """({alg: value}, type) for the object; checks a full-object claim."""
    if not alg:
        return {}, None
    ctype = up.get("checksum_type") or "COMPOSITE"
    if ctype == "FULL_OBJECT":
        value = ck.b64(full_digest)
    else:
        raws = [base64.b64decode(s["checksums"][alg]) for _, s in chosen]
        value = ck.composite(alg, raws)
    claim = req.headers.get(ck.header_name(alg))
    if claim is not None and claim.strip() != value:
        raise ServiceError("BadDigest", f"The {alg.upper()} you specified did not match the "
                           "calculated checksum.", 400)
    return {alg: value}, ctype


def complete_multipart_upload(emu, req, bucket_name, key):
    body = s3_body.read_small(req)
    bucket_for(emu, req, bucket_name)
    upload_id = req.query.get("uploadId") or ""
    done = emu.store.table(COMPLETED).get(upload_id)
    if done and done["bucket"] == bucket_name and done["key"] == key:
        return _answer(emu, req, done)
    up = get_upload(emu, bucket_name, key, upload_id)
    chosen = _validate(up, _requested_parts(body))
    total = sum(s["size"] for _, s in chosen)
    claimed = req.headers.get("x-amz-mp-object-size")
    if claimed is not None and claimed.strip() != str(total):
        raise ServiceError("InvalidRequest", f"The provided 'x-amz-mp-object-size' header "
                           f"value {claimed} does not match what was computed: {total}", 400)
    alg = _object_algorithm(up, chosen)
    full = alg if alg and up.get("checksum_type") == "FULL_OBJECT" else None
    path, digest = _assemble(emu, upload_id, chosen, full)
    try:
        sums, ctype = _checksum_fields(up, chosen, alg, digest, req)
    except ServiceError:
        os.unlink(path)
        raise
    etag = ck.multipart_etag([bytes.fromhex(s["etag"].strip('"')) for _, s in chosen])
    record = {k: up[k] for k in ("metadata", "storage_class", "headers", "sse")}
    # Each part's size and checksums: GetObject / HeadObject ?partNumber=N
    # answer with the part's range (and, for COMPOSITE, its checksum).
    record.update(size=total, etag=etag, checksums=sums, checksum_type=ctype,
                  parts_count=len(chosen),
                  parts=[{"size": s["size"], "checksums": dict(s.get("checksums") or {})}
                         for _, s in chosen])
    with emu.store.lock:
        if upload_id not in uploads(emu):
            os.unlink(path)
            get_upload(emu, bucket_name, key, upload_id)
        install(emu, bucket_name, key, path, record)
        del uploads(emu)[upload_id]
        done = {"bucket": bucket_name, "key": key, "etag": etag, "checksums": sums,
                "checksum_type": ctype, "sse": up.get("sse")}
        emu.store.table(COMPLETED)[upload_id] = done
        emu.store.save(UPLOADS)
        emu.store.save(COMPLETED)
    shutil.rmtree(os.path.join(emu.store.dir, "s3", "parts", upload_id), ignore_errors=True)
    return _answer(emu, req, done)


def _answer(emu, req, done):
    host = req.headers.get("Host") or "s3.amazonaws.com"
    fields = [x("Location", f"http://{host}/{done['bucket']}/{done['key']}"),
              x("Bucket", done["bucket"]), x("Key", done["key"]), x("ETag", done["etag"])]
    for alg, value in sorted(done["checksums"].items()):
        fields.append(x(ck.xml_name(alg), value))
    if done.get("checksum_type"):
        fields.append(x("ChecksumType", done["checksum_type"]))
    return xml_response("CompleteMultipartUploadResult", "".join(fields),
                        sse_headers(emu, done.get("sse")))
