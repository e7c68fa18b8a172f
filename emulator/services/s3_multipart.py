"""S3 multipart uploads (aws-facts.md §3.2, §4): Create, UploadPart, ListParts,
ListMultipartUploads, Complete (ETag and composite-checksum rules), Abort.

Parts are files under s3/parts/<upload id>/; completing concatenates the
listed parts into one object file (copy_file_range: in-kernel, no Python
buffers) so other services get one plain path per object."""
import os
import shutil
import uuid

from ..protocol import ServiceError, x
from . import s3_body
from . import s3_checksums as ck
from .s3_buckets import bucket_for
from .s3_common import (MIB, UPLOADS, get_upload, iso_time, owner_xml, s3_response, tmp_dir,
                        uploads, xml_response)
from .s3_objects import check_key, sse_headers, write_attributes

MAX_PARTS = 10000
MIN_PART = 5 * MIB
MAX_PART = 5 << 30
CHECKSUM_TYPES = ("COMPOSITE", "FULL_OBJECT")


def _part_path(emu, upload_id, number):
    return emu.store.path("s3", "parts", upload_id, str(number))


def create_multipart_upload(emu, req, bucket_name, key):
    s3_body.read_small(req)
    bucket = bucket_for(emu, req, bucket_name)
    check_key(key)
    attrs = write_attributes(emu, req, bucket)
    alg = (req.headers.get("x-amz-checksum-algorithm") or "").strip().lower() or None
    if alg and alg not in ck.ALGORITHMS:
        raise ServiceError("InvalidRequest", f"Checksum algorithm {alg.upper()} is not "
                           "supported by this emulator", 400)
    ctype = (req.headers.get("x-amz-checksum-type") or "").strip().upper() or None
    if ctype and (ctype not in CHECKSUM_TYPES or not alg):
        raise ServiceError("InvalidRequest", "The x-amz-checksum-type header can only be "
                           "used with the x-amz-checksum-algorithm header.", 400)
    if ctype == "FULL_OBJECT" and alg in ("sha1", "sha256") or \
            ctype == "COMPOSITE" and alg == "crc64nvme":
        raise ServiceError("InvalidRequest", f"The {ctype} checksum type cannot be used with "
                           f"the {alg} checksum algorithm.", 400)
    upload_id = uuid.uuid4().hex + uuid.uuid4().hex
    with emu.store.lock:
        uploads(emu)[upload_id] = dict(attrs, bucket=bucket_name, key=key,
                                       initiated=emu.now(), checksum_algorithm=alg,
                                       checksum_type=ctype or ("COMPOSITE" if alg else None),
                                       parts={})
        emu.store.save(UPLOADS)
    hdrs = sse_headers(emu, attrs["sse"])
    if alg:
        hdrs += [("x-amz-checksum-algorithm", alg.upper()),
                 ("x-amz-checksum-type", ctype or "COMPOSITE")]
    return xml_response("InitiateMultipartUploadResult",
                        x("Bucket", bucket_name) + x("Key", key) + x("UploadId", upload_id),
                        hdrs)


def _part_number(req):
    try:
        n = int(req.query.get("partNumber", ""))
    except ValueError:
        n = 0
    if not 1 <= n <= MAX_PARTS:
        raise ServiceError("InvalidArgument", "Part number must be an integer between 1 and "
                           "10000, inclusive", 400, extra={
                               "ArgumentName": "partNumber",
                               "ArgumentValue": req.query.get("partNumber", "")})
    return n


def upload_part(emu, req, bucket_name, key):
    bucket_for(emu, req, bucket_name)
    upload_id = req.query.get("uploadId")
    number = _part_number(req)
    up = get_upload(emu, bucket_name, key, upload_id)
    if (s3_body.declared_length(req) or 0) > MAX_PART:
        raise ServiceError("EntityTooLarge", "Your proposed upload exceeds the maximum "
                           "allowed size", 400, extra={"MaxSizeAllowed": MAX_PART})
    extra = [up["checksum_algorithm"]] if up.get("checksum_algorithm") else []
    got = s3_body.ingest(emu, req, tmp_dir(emu), extra)
    part = {"etag": got.etag, "size": got.size, "last_modified": emu.now(),
            "checksums": {a: ck.b64(v) for a, v in got.checksums.items()}}
    with emu.store.lock:
        if upload_id not in uploads(emu):  # aborted while we were reading
            got.discard()
            get_upload(emu, bucket_name, key, upload_id)
        os.replace(got.path, _part_path(emu, upload_id, number))
        uploads(emu)[upload_id]["parts"][str(number)] = part
        emu.store.save(UPLOADS)
    hdrs = [("ETag", got.etag)] + sse_headers(emu, up.get("sse"))
    hdrs += [(ck.header_name(a), v) for a, v in sorted(part["checksums"].items())]
    return s3_response(200, headers=hdrs)


def _page(req, name, default=1000):
    try:
        n = int(req.query.get(name, default))
    except ValueError:
        n = -1
    if n < 0:
        raise ServiceError("InvalidArgument", f"Provided {name} not valid.", 400)
    return min(n, 1000)


def _part_xml(number, p):
    fields = [x("PartNumber", number), x("LastModified", iso_time(p["last_modified"])),
              x("ETag", p["etag"]), x("Size", p["size"])]
    fields += [x(ck.xml_name(a), v) for a, v in sorted(p.get("checksums", {}).items())]
    return x("Part", fields)


def list_parts(emu, req, bucket_name, key):
    s3_body.read_small(req)
    bucket_for(emu, req, bucket_name)
    up = get_upload(emu, bucket_name, key, req.query.get("uploadId"))
    limit = _page(req, "max-parts")
    try:
        marker = int(req.query.get("part-number-marker") or 0)
    except ValueError:
        raise ServiceError("InvalidArgument", "Provided part-number-marker not valid.", 400)
    numbers = sorted(n for n in map(int, up["parts"]) if n > marker)
    page, truncated = numbers[:limit], len(numbers) > limit
    fields = [x("Bucket", bucket_name), x("Key", key), x("UploadId", req.query["uploadId"]),
              x("PartNumberMarker", marker),
              x("NextPartNumberMarker", page[-1] if page else marker), x("MaxParts", limit),
              x("IsTruncated", truncated),
              owner_xml(emu, "Initiator"), owner_xml(emu),
              x("StorageClass", up.get("storage_class") or "STANDARD")]
    if up.get("checksum_algorithm"):
        fields += [x("ChecksumAlgorithm", up["checksum_algorithm"].upper()),
                   x("ChecksumType", up["checksum_type"])]
    fields += [_part_xml(n, up["parts"][str(n)]) for n in page]
    return xml_response("ListPartsResult", "".join(fields))


def list_multipart_uploads(emu, req, bucket_name):
    s3_body.read_small(req)
    bucket_for(emu, req, bucket_name)
    q = req.query
    prefix, key_marker = q.get("prefix", ""), q.get("key-marker", "")
    id_marker = q.get("upload-id-marker", "")
    limit = _page(req, "max-uploads")
    ups = sorted((u["key"], u["initiated"], uid) for uid, u in uploads(emu).items()
                 if u["bucket"] == bucket_name and u["key"].startswith(prefix))
    ups = [u for u in ups if u[0] > key_marker or
           (u[0] == key_marker and id_marker and u[2] > id_marker)]
    page, truncated = ups[:limit], len(ups) > limit
    fields = [x("Bucket", bucket_name), x("KeyMarker", key_marker),
              x("UploadIdMarker", id_marker),
              x("NextKeyMarker", page[-1][0] if page else ""),
              x("NextUploadIdMarker", page[-1][2] if page else ""),
              x("Prefix", prefix), x("MaxUploads", limit), x("IsTruncated", truncated)]
    for key, initiated, uid in page:
        u = uploads(emu)[uid]
        item = [x("Key", key), x("UploadId", uid), owner_xml(emu, "Initiator"),
                owner_xml(emu), x("StorageClass", u.get("storage_class") or "STANDARD"),
                x("Initiated", iso_time(initiated))]
        if u.get("checksum_algorithm"):
            item += [x("ChecksumAlgorithm", u["checksum_algorithm"].upper()),
                     x("ChecksumType", u["checksum_type"])]
        fields.append(x("Upload", item))
    return xml_response("ListMultipartUploadsResult", "".join(fields))


def abort_multipart_upload(emu, req, bucket_name, key):
    s3_body.read_small(req)
    bucket_for(emu, req, bucket_name)
    upload_id = req.query.get("uploadId")
    with emu.store.lock:
        get_upload(emu, bucket_name, key, upload_id)
        del uploads(emu)[upload_id]
        emu.store.save(UPLOADS)
    shutil.rmtree(os.path.join(emu.store.dir, "s3", "parts", upload_id), ignore_errors=True)
    return s3_response(204)
