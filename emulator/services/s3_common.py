"""What the S3 modules share: state tables, blob files, errors, XML and
time formats.  State lives in three store tables so a restart keeps it:

  s3_buckets  name -> {region, created, public_access_block, encryption}
  s3_objects  "bucket/key" -> {bucket, key, size, etag, blob, last_modified, ...}
  s3_uploads  upload id -> {bucket, key, initiated, ..., parts: {"n": {...}}}

Object bytes are files named by a random blob id (never by the key)."""
import email.utils
import os
import time
import uuid
import xml.etree.ElementTree as ET

from ..protocol import S3_NS, Response, ServiceError, request_id

BUCKETS, OBJECTS, UPLOADS = "s3_buckets", "s3_objects", "s3_uploads"
MIB = 1 << 20
MAX_SINGLE_PUT = 5 << 30


def s3_response(status=200, body=b"", headers=None, content_type=None, file=None):
    """Every S3 answer carries x-amz-request-id and x-amz-id-2."""
    rid = request_id()
    hdrs = [("x-amz-request-id", rid), ("x-amz-id-2", rid)] + list(headers or [])
    return Response(status, body, hdrs, content_type=content_type, file=file)


def xml_response(root, inner, headers=None):
    body = (f'<?xml version="1.0" encoding="UTF-8"?>\n<{root} xmlns="{S3_NS}">'
            f"{inner}</{root}>")
    return s3_response(200, body, headers, content_type="application/xml")


def iso_time(t):
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + f".{int(t * 1000) % 1000:03d}Z"


def http_time(t):
    return email.utils.formatdate(t, usegmt=True)


def parse_xml(data, what="request"):
    """The root element with namespaces stripped, or MalformedXML."""
    try:
        root = ET.fromstring(data)
    except ET.ParseError:
        raise malformed_xml()
    for el in root.iter():
        if "}" in el.tag:
            el.tag = el.tag.split("}", 1)[1]
    return root


def malformed_xml():
    return ServiceError("MalformedXML", "The XML you provided was not well-formed or did "
                        "not validate against our published schema", 400)


# --- lookups ---------------------------------------------------------------

def buckets(emu):
    return emu.store.table(BUCKETS)


def objects(emu):
    return emu.store.table(OBJECTS)


def uploads(emu):
    return emu.store.table(UPLOADS)


def object_id(bucket, key):
    return f"{bucket}/{key}"


def get_bucket(emu, name):
    b = buckets(emu).get(name)
    if b is None:
        raise ServiceError("NoSuchBucket", "The specified bucket does not exist", 404,
                           extra={"BucketName": name})
    return b


def get_object(emu, bucket, key):
    get_bucket(emu, bucket)
    o = objects(emu).get(object_id(bucket, key))
    if o is None:
        raise ServiceError("NoSuchKey", "The specified key does not exist.", 404,
                           extra={"Key": key})
    return o


def get_upload(emu, bucket, key, upload_id):
    get_bucket(emu, bucket)
    u = uploads(emu).get(upload_id or "")
    if u is None or u["bucket"] != bucket or u["key"] != key:
        raise ServiceError("NoSuchUpload", "The specified upload does not exist. The upload "
                           "ID may be invalid, or the upload may have been aborted or "
                           "completed.", 404, extra={"UploadId": upload_id or ""})
    return u


# --- files -----------------------------------------------------------------

def tmp_dir(emu):
    return os.path.join(emu.store.dir, "s3", "tmp")


def new_blob():
    return uuid.uuid4().hex


def blob_path(emu, blob):
    return emu.store.path("s3", "blobs", blob[:2], blob)


def remove_blob(emu, blob):
    if blob:
        try:
            os.unlink(blob_path(emu, blob))
        except FileNotFoundError:
            pass


def owner_xml(emu, name="Owner"):
    from ..protocol import x
    return x(name, [x("ID", emu.account * 5 + "abcd"), x("DisplayName", "vmie-emulator")])
