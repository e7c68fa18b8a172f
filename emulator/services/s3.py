"""S3 (REST + XML, path-style /bucket/key): routing, and the internal API
the other services import (EC2 import reads the disk image, EC2 export
writes one).  The operations live in s3_buckets, s3_objects, s3_multipart
and s3_complete; bodies and checksums in s3_body and s3_checksums."""
import hashlib
import os
import shutil
import urllib.parse

from . import s3_buckets as buckets_ops
from . import s3_complete, s3_lifecycle, s3_multipart
from . import s3_objects as objects_ops
from .s3_common import (OBJECTS, blob_path, buckets, new_blob, object_id, objects,
                        remove_blob, tmp_dir, uploads)

PROTOCOL = "s3"
STREAMING = True
UNSIGNED = set()

_BUCKET_SUBRESOURCES = {
    # (method, subresource in the query) -> operation
    ("PUT", "publicAccessBlock"): "PutPublicAccessBlock",
    ("GET", "publicAccessBlock"): "GetPublicAccessBlock",
    ("DELETE", "publicAccessBlock"): "DeletePublicAccessBlock",
    ("PUT", "encryption"): "PutBucketEncryption",
    ("GET", "encryption"): "GetBucketEncryption",
    ("DELETE", "encryption"): "DeleteBucketEncryption",
    ("GET", "uploads"): "ListMultipartUploads",
    ("GET", "location"): "GetBucketLocation",
    ("POST", "delete"): "DeleteObjects",
    ("PUT", "lifecycle"): "PutBucketLifecycleConfiguration",
    ("GET", "lifecycle"): "GetBucketLifecycleConfiguration",
    ("DELETE", "lifecycle"): "DeleteBucketLifecycle",
}
_BUCKET_PLAIN = {"PUT": "CreateBucket", "HEAD": "HeadBucket", "DELETE": "DeleteBucket",
                 "GET": "ListObjects"}


def target(req):
    """(bucket, key) of a path-style request; key is '' for bucket requests."""
    bucket, _, key = req.raw_path.lstrip("/").partition("/")
    return urllib.parse.unquote(bucket), urllib.parse.unquote(key)


def operation_name(req):
    """S3 operation from method, path and query (used for dispatch and faults)."""
    bucket, key = target(req)
    m, q = req.method, req.query
    if not bucket:
        return "ListBuckets" if m == "GET" else "UnknownOperation"
    if not key:
        for (meth, sub), op in _BUCKET_SUBRESOURCES.items():
            if m == meth and sub in q:
                return op
        if m == "GET" and q.get("list-type") == "2":
            return "ListObjectsV2"
        return _BUCKET_PLAIN.get(m, "UnknownOperation")
    copy = req.headers.get("x-amz-copy-source") is not None
    if m == "PUT":
        if "partNumber" in q and "uploadId" in q:
            return "UploadPartCopy" if copy else "UploadPart"
        return "CopyObject" if copy else "PutObject"
    if m == "POST":
        if "uploads" in q:
            return "CreateMultipartUpload"
        if "uploadId" in q:
            return "CompleteMultipartUpload"
    if m == "GET":
        return "ListParts" if "uploadId" in q else "GetObject"
    if m == "HEAD":
        return "HeadObject"
    if m == "DELETE":
        return "AbortMultipartUpload" if "uploadId" in q else "DeleteObject"
    return "UnknownOperation"


def _bucket_op(fn):
    return lambda emu, req: fn(emu, req, target(req)[0])


def _object_op(fn):
    return lambda emu, req: fn(emu, req, *target(req))


OPERATIONS = {
    "ListBuckets": buckets_ops.list_buckets,
    "CreateBucket": _bucket_op(buckets_ops.create_bucket),
    "HeadBucket": _bucket_op(buckets_ops.head_bucket),
    "DeleteBucket": _bucket_op(buckets_ops.delete_bucket),
    "GetBucketLocation": _bucket_op(buckets_ops.get_bucket_location),
    "PutPublicAccessBlock": _bucket_op(buckets_ops.put_public_access_block),
    "GetPublicAccessBlock": _bucket_op(buckets_ops.get_public_access_block),
    "DeletePublicAccessBlock": _bucket_op(buckets_ops.delete_public_access_block),
    "PutBucketEncryption": _bucket_op(buckets_ops.put_bucket_encryption),
    "GetBucketEncryption": _bucket_op(buckets_ops.get_bucket_encryption),
    "DeleteBucketEncryption": _bucket_op(buckets_ops.delete_bucket_encryption),
    "ListObjectsV2": _bucket_op(buckets_ops.list_objects_v2),
    "ListObjects": _bucket_op(buckets_ops.list_objects),
    "DeleteObjects": _bucket_op(objects_ops.delete_objects),
    "ListMultipartUploads": _bucket_op(s3_multipart.list_multipart_uploads),
    "PutBucketLifecycleConfiguration":
        _bucket_op(s3_lifecycle.put_bucket_lifecycle_configuration),
    "GetBucketLifecycleConfiguration":
        _bucket_op(s3_lifecycle.get_bucket_lifecycle_configuration),
    "DeleteBucketLifecycle": _bucket_op(s3_lifecycle.delete_bucket_lifecycle),
    "PutObject": _object_op(objects_ops.put_object),
    "HeadObject": _object_op(objects_ops.head_object),
    "GetObject": _object_op(objects_ops.get_object),
    "DeleteObject": _object_op(objects_ops.delete_object),
    "CreateMultipartUpload": _object_op(s3_multipart.create_multipart_upload),
    "UploadPart": _object_op(s3_multipart.upload_part),
    "ListParts": _object_op(s3_multipart.list_parts),
    "AbortMultipartUpload": _object_op(s3_multipart.abort_multipart_upload),
    "CompleteMultipartUpload": _object_op(s3_complete.complete_multipart_upload),
}


# --- the internal API (for EC2 import/export and tests) ------------------------

def head(emu, bucket, key):
    """{size, etag, path, metadata, content_type, last_modified, storage_class,
    checksums} of an object, or None."""
    rec = objects(emu).get(object_id(bucket, key))
    if rec is None:
        return None
    return {"size": rec["size"], "etag": rec["etag"], "path": blob_path(emu, rec["blob"]),
            "metadata": dict(rec.get("metadata", {})),
            "content_type": rec.get("headers", {}).get("Content-Type"),
            "last_modified": rec["last_modified"],
            "storage_class": rec.get("storage_class", "STANDARD"),
            "checksums": dict(rec.get("checksums") or {})}


def object_path(emu, bucket, key):
    """The file holding an object's bytes (read it, never write it), or None."""
    rec = objects(emu).get(object_id(bucket, key))
    return blob_path(emu, rec["blob"]) if rec else None


def put_file(emu, bucket, key, src_path, metadata=None, content_type=None, etag=None):
    """Store a file as an object: hard-linked in when possible (the caller
    keeps its copy), copied otherwise.  The ETag is the file's MD5 unless
    given.  Raises KeyError if the bucket does not exist.  Returns head()."""
    if bucket not in buckets(emu):
        raise KeyError(f"no bucket {bucket}")
    os.makedirs(tmp_dir(emu), exist_ok=True)
    tmp = os.path.join(tmp_dir(emu), "link-" + new_blob())
    try:
        os.link(src_path, tmp)
    except OSError:
        shutil.copyfile(src_path, tmp)
    if etag is None:
        md5 = hashlib.md5()
        with open(tmp, "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                md5.update(block)
        etag = f'"{md5.hexdigest()}"'
    enc = buckets(emu)[bucket].get("encryption") or {}
    objects_ops.install(emu, bucket, key, tmp, {
        "size": os.path.getsize(tmp), "etag": etag, "metadata": dict(metadata or {}),
        "storage_class": "STANDARD", "checksums": {}, "checksum_type": None,
        "headers": {"Content-Type": content_type or "binary/octet-stream"},
        "sse": {"algorithm": enc.get("algorithm", "AES256"), "kms_key": enc.get("kms_key")}})
    return head(emu, bucket, key)


def delete(emu, bucket, key):
    """Remove an object if present (for services cleaning up after themselves)."""
    with emu.store.lock:
        rec = objects(emu).pop(object_id(bucket, key), None)
        if rec:
            emu.store.save(OBJECTS)
    if rec:
        remove_blob(emu, rec.get("blob"))
    return rec is not None


def bucket_exists(emu, bucket):
    return bucket in buckets(emu)


def bucket_region(emu, bucket):
    b = buckets(emu).get(bucket)
    return b["region"] if b else None


def bucket_encryption(emu, bucket):
    """"AES256" | "aws:kms" | "aws:kms:dsse" (the bucket default), None if no bucket."""
    b = buckets(emu).get(bucket)
    if b is None:
        return None
    return (b.get("encryption") or {}).get("algorithm") or "AES256"


def control(emu, method, route, body):
    """POST s3/legacy-objects {"enabled": true}: objects stored from now on
    get no default CRC-64/NVME, as those S3 stored before late 2024 (which
    it still serves that way); false: as S3 does now."""
    if (method, route) == ("POST", "s3/legacy-objects"):
        emu.s3_legacy_objects = bool(body.get("enabled", True))
        return {"legacy_objects": emu.s3_legacy_objects}
    raise KeyError(f"no control route {method} {route}")


def dump(emu):
    with emu.store.lock:
        return {
            "buckets": sorted(buckets(emu)),
            "objects": len(objects(emu)),
            "multipart_uploads_open": [
                {"bucket": u["bucket"], "key": u["key"], "upload_id": uid,
                 "parts": len(u["parts"])}
                for uid, u in sorted(uploads(emu).items())],
        }
