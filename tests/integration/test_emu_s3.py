"""The emulator's S3 against Debian's AWS CLI (a client nobody here wrote),
plus raw requests for what the CLI never sends over plain HTTP (aws-chunked
bodies, trailers), and direct checks of the decoder and checksums."""
import base64
import concurrent.futures
import hashlib
import json
import os
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
import zlib

import pytest

import emu_s3_client as raw
from conftest import AWS_CLI, EMU_ACCESS_KEY, EMU_SECRET_KEY, ROOT

sys.path.insert(0, str(ROOT))
from emulator.protocol import ServiceError  # noqa: E402
from emulator.services import s3_body, s3_checksums as ck  # noqa: E402

MIB = 1 << 20
WEST = {"AWS_REGION": "us-west-2", "AWS_DEFAULT_REGION": "us-west-2"}


@pytest.fixture
def s3(aws):
    """The aws fixture, in one region (us-west-2 unless told).
    High-level `aws s3 ...` commands print text: their result is returned."""
    def call(*args, check=True, region="us-west-2"):
        env = {"AWS_REGION": region, "AWS_DEFAULT_REGION": region}
        if args[0] != "s3":
            return aws(*args, check=check, env=env)
        r = aws(*args, check=False, env=env)
        assert r.returncode == 0 or not check, r.stderr
        return r
    return call


@pytest.fixture
def bucket(emulator):
    """A us-west-2 bucket, made with a raw request (the CLI's create-bucket
    has its own test; each CLI run costs ~0.8 s of start-up)."""
    body = (b"<CreateBucketConfiguration><LocationConstraint>us-west-2</LocationConstraint>"
            b"</CreateBucketConfiguration>")
    _put(emulator, "/vmie-test", body)
    return "vmie-test"


def par(*calls):
    """Run independent CLI calls at once (each costs ~0.8 s of start-up)."""
    with concurrent.futures.ThreadPoolExecutor(len(calls)) as pool:
        return list(pool.map(lambda c: c(), calls))


def b64(raw_bytes):
    return base64.b64encode(raw_bytes).decode()


def fails_with(result, code):
    assert result.returncode != 0, result.stdout
    assert code in result.stderr, result.stderr


# --- checksums and the aws-chunked decoder, directly -------------------------------

def test_crc32c_known_vectors_python_and_isal():
    impls = [ck.crc32c_py] + ([ck.crc32c_isal] if ck.crc32c_isal else [])
    vectors = {b"123456789": 0xE3069283, b"": 0, bytes(32): 0x8A9136AA,
               b"\xff" * 32: 0x62A8AB43, bytes(range(32)): 0x46DD794E}
    for fn in impls:
        for data, want in vectors.items():
            assert fn(data) == want, (fn, data)
    data = os.urandom(3 * MIB + 12345)
    want = impls[-1](data)
    for fn in impls:
        for n in (1, 255, 256, 1023, 4096, 70001):
            assert fn(data[:n]) == impls[0](data[:n])
        assert fn(data) == want
        assert fn(data[700000:], fn(data[:700000])) == want  # chaining like zlib.crc32


def test_checksum_helpers_and_composite():
    assert ck.b64(ck.digest("crc32", b"hello")) == b64(zlib.crc32(b"hello").to_bytes(4, "big"))
    assert ck.digest("sha256", b"x") == hashlib.sha256(b"x").digest()
    parts = [b"a" * 10, b"b" * 20]
    raws = [ck.digest("crc32c", p) for p in parts]
    assert ck.composite("crc32c", raws) == \
        b64(ck.crc32c(b"".join(raws)).to_bytes(4, "big")) + "-2"
    md5s = [hashlib.md5(p).digest() for p in parts]
    assert ck.multipart_etag(md5s) == f'"{hashlib.md5(b"".join(md5s)).hexdigest()}-2"'
    assert ck.unb64("not base64!", "crc32") is None
    assert ck.unb64(b64(b"1234"), "crc32") == b"1234"


def _reader(data, step=1000):
    """A read(n) over bytes that hands out at most `step` bytes at a time."""
    pos = [0]

    def read(n=1 << 20):
        piece = data[pos[0]:pos[0] + min(n, step)]
        pos[0] += len(piece)
        return piece
    return read


# The AWS docs example (sigv4-streaming): 66560 bytes of 'a' in 64 KiB chunks.
EXAMPLE_SEED = "4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9"
EXAMPLE_SIGS = ["ad80c730a21e5b8d04586a2213dd63b9a0e99e0e2307b0ade35a65485a288648",
                "0055627c9e194cb4542bae2aa5492e3c1575bbb81b612b7d234b86a503ef5497",
                "b6c6ea8a5354eaf15b3cb7646744f4275b71ea724fed81ceb9323e279d449df9"]


def _example_signer():
    key = raw.signing_key("wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "20130524", "us-east-1")
    return s3_body.ChunkSigner(key, "20130524T000000Z", "20130524/us-east-1/s3/aws4_request",
                               EXAMPLE_SEED)


def _example_body(data_1024=b"a" * 1024):
    body = b""
    for size, data, sig in ((65536, b"a" * 65536, EXAMPLE_SIGS[0]),
                            (1024, data_1024, EXAMPLE_SIGS[1]), (0, b"", EXAMPLE_SIGS[2])):
        body += f"{size:x};chunk-signature={sig}\r\n".encode() + data + b"\r\n"
    return body


def test_decoder_accepts_aws_signed_example():
    body = _example_body()
    for step in (1, 7, 4096, 1 << 20):
        if step == 1:
            body_small = body[:300]  # byte-by-byte framing of the first header only
            dec = s3_body._Source(_reader(body_small, 1))
            assert dec.line().startswith(b"10000;chunk-signature=")
            continue
        dec = s3_body.AwsChunkedDecoder(_reader(body, step), _example_signer())
        assert b"".join(dec) == b"a" * 66560
        assert dec.trailers == {}


def test_decoder_rejects_tampered_signed_chunks():
    dec = s3_body.AwsChunkedDecoder(_reader(_example_body(b"a" * 1023 + b"b")),
                                    _example_signer())
    with pytest.raises(ServiceError) as e:
        b"".join(dec)
    assert e.value.code == "SignatureDoesNotMatch"
    swapped = _example_body().replace(EXAMPLE_SIGS[0].encode(), EXAMPLE_SIGS[1].encode(), 1)
    with pytest.raises(ServiceError):
        b"".join(s3_body.AwsChunkedDecoder(_reader(swapped), _example_signer()))


def test_decoder_unsigned_trailer_and_truncation():
    data = os.urandom(200000)
    value = b64(ck.digest("crc32c", data))
    body = raw.unsigned_trailer_chunks(data, "x-amz-checksum-crc32c", value)
    dec = s3_body.AwsChunkedDecoder(_reader(body, 5000))
    assert b"".join(dec) == data
    assert dec.trailers == {"x-amz-checksum-crc32c": value}
    with pytest.raises(ServiceError) as e:
        b"".join(s3_body.AwsChunkedDecoder(_reader(body[:150000])))
    assert e.value.code == "IncompleteBody"


# --- the AWS CLI -------------------------------------------------------------------

def test_mb_and_64mib_multipart_round_trip(s3, tmp_path):
    src = tmp_path / "disk.raw"
    src.write_bytes(os.urandom(64 * MIB))
    s3("s3", "mb", "s3://vmie-mb")
    s3("s3api", "head-bucket", "--bucket", "vmie-mb")
    assert s3("s3api", "get-bucket-location",
              "--bucket", "vmie-mb")["LocationConstraint"] == "us-west-2"
    s3("s3", "cp", "--only-show-errors", str(src), "s3://vmie-mb/images/disk.raw")
    head = s3("s3api", "head-object", "--bucket", "vmie-mb", "--key", "images/disk.raw")
    assert head["ContentLength"] == 64 * MIB
    assert head["ETag"].endswith('-8"') and "PartsCount" not in head  # only with a part
    part = s3("s3api", "head-object", "--bucket", "vmie-mb", "--key", "images/disk.raw",
              "--part-number", "1")
    assert part["PartsCount"] == 8
    back = tmp_path / "back.raw"
    s3("s3", "cp", "--only-show-errors", "s3://vmie-mb/images/disk.raw", str(back))
    assert hashlib.sha256(back.read_bytes()).digest() == \
        hashlib.sha256(src.read_bytes()).digest()


def test_put_object_content_md5_and_flexible_checksums(s3, bucket, tmp_path):
    f = tmp_path / "obj"
    data = os.urandom(300000)
    f.write_bytes(data)
    md5 = b64(hashlib.md5(data).digest())
    out = s3("s3api", "put-object", "--bucket", bucket, "--key", "md5", "--body", str(f),
             "--content-md5", md5, "--metadata", "purpose=test",
             "--storage-class", "STANDARD_IA", "--content-type", "application/x-raw")
    assert out["ETag"] == f'"{hashlib.md5(data).hexdigest()}"'
    bad = b64(hashlib.md5(b"other").digest())
    r_bad, r_invalid, r_crc, head = par(
        lambda: s3("s3api", "put-object", "--bucket", bucket, "--key", "md5", "--body", str(f),
                   "--content-md5", bad, check=False),
        lambda: s3("s3api", "put-object", "--bucket", bucket, "--key", "md5", "--body", str(f),
                   "--content-md5", "short", check=False),
        lambda: s3("s3api", "put-object", "--bucket", bucket, "--key", "bad", "--body", str(f),
                   "--checksum-crc32", b64(b"\0\0\0\0"), check=False),
        lambda: s3("s3api", "head-object", "--bucket", bucket, "--key", "md5"))
    fails_with(r_bad, "BadDigest")
    fails_with(r_invalid, "InvalidDigest")
    fails_with(r_crc, "BadDigest")
    assert head["Metadata"] == {"purpose": "test"}
    assert head["StorageClass"] == "STANDARD_IA"
    assert head["ContentType"] == "application/x-raw"
    algs = ("CRC32C", "SHA256")
    par(*[lambda a=a: s3("s3api", "put-object", "--bucket", bucket, "--key", a, "--body",
                         str(f), "--checksum-algorithm", a) for a in algs])
    heads = par(*[lambda a=a: s3("s3api", "head-object", "--bucket", bucket, "--key", a,
                                 "--checksum-mode", "ENABLED") for a in algs])
    for alg, head in zip(algs, heads):
        assert head["Checksum" + alg] == ck.b64(ck.digest(alg.lower(), data))
        assert "StorageClass" not in head  # STANDARD is not announced


def test_get_object_range(s3, bucket, tmp_path):
    f = tmp_path / "obj"
    data = bytes(range(256)) * 40
    f.write_bytes(data)
    s3("s3api", "put-object", "--bucket", bucket, "--key", "r", "--body", str(f))
    out = tmp_path / "part"
    meta = s3("s3api", "get-object", "--bucket", bucket, "--key", "r", "--range",
              "bytes=100-199", str(out))
    assert meta["ContentRange"] == f"bytes 100-199/{len(data)}"
    assert out.read_bytes() == data[100:200]
    s3("s3api", "get-object", "--bucket", bucket, "--key", "r", "--range", "bytes=-10", str(out))
    assert out.read_bytes() == data[-10:]
    fails_with(s3("s3api", "get-object", "--bucket", bucket, "--key", "r", "--range",
                  f"bytes={len(data)}-", str(out), check=False), "InvalidRange")
    fails_with(s3("s3api", "get-object", "--bucket", bucket, "--key", "nope", str(out),
                  check=False), "NoSuchKey")


def _put(emulator, path, data):
    h = {"host": raw.host_of(emulator)}
    _signer().sign("PUT", path, {}, h, hashlib.sha256(data).hexdigest())
    status, _, out = raw.request(emulator, "PUT", path, h, data)
    assert status == 200, out


def test_list_objects_v2_prefix_delimiter_pagination(s3, bucket, emulator):
    keys = ["a/1", "a/2", "a/b/3", "b/1", "c", "d e+f"]
    for k in keys:
        _put(emulator, f"/{bucket}/{k}", b"x")
    out, delim, out2 = par(
        lambda: s3("s3api", "list-objects-v2", "--bucket", bucket),
        lambda: s3("s3api", "list-objects-v2", "--bucket", bucket, "--delimiter", "/",
                   "--no-paginate"),
        lambda: s3("s3api", "list-objects-v2", "--bucket", bucket, "--prefix", "a/",
                   "--delimiter", "/"))
    assert [o["Key"] for o in out["Contents"]] == sorted(keys)
    assert [p["Prefix"] for p in delim["CommonPrefixes"]] == ["a/", "b/"]
    assert [o["Key"] for o in delim["Contents"]] == ["c", "d e+f"]
    assert delim["KeyCount"] == 4
    out = out2
    assert [o["Key"] for o in out["Contents"]] == ["a/1", "a/2"]
    assert out["CommonPrefixes"] == [{"Prefix": "a/b/"}]
    page = s3("s3api", "list-objects-v2", "--bucket", bucket, "--max-keys", "2",
              "--no-paginate")
    assert page["IsTruncated"] is True and page["KeyCount"] == 2
    seen = [o["Key"] for o in page["Contents"]]
    while page.get("NextContinuationToken"):
        page = s3("s3api", "list-objects-v2", "--bucket", bucket, "--max-keys", "2",
                  "--no-paginate", "--continuation-token", page["NextContinuationToken"])
        seen += [o["Key"] for o in page.get("Contents", [])]
    assert seen == sorted(keys) and page["IsTruncated"] is False
    s3("s3api", "delete-object", "--bucket", bucket, "--key", "c")
    fails_with(s3("s3api", "head-object", "--bucket", bucket, "--key", "c", check=False),
               "404")


def _mpu(s3, bucket, key, *extra):
    return s3("s3api", "create-multipart-upload", "--bucket", bucket, "--key", key,
              *extra)["UploadId"]


def _part(s3, bucket, key, uid, n, path, *extra):
    return s3("s3api", "upload-part", "--bucket", bucket, "--key", key, "--upload-id", uid,
              "--part-number", str(n), "--body", str(path), *extra)


def _complete(s3, bucket, key, uid, parts, check=True):
    return s3("s3api", "complete-multipart-upload", "--bucket", bucket, "--key", key,
              "--upload-id", uid, "--multipart-upload", json.dumps({"Parts": parts}),
              check=check)


def test_multipart_lifecycle_and_state(s3, bucket, control, tmp_path):
    p1, p2 = tmp_path / "p1", tmp_path / "p2"
    d1, d2 = os.urandom(5 * MIB), os.urandom(1000)
    p1.write_bytes(d1)
    p2.write_bytes(d2)
    uid = _mpu(s3, bucket, "big", "--metadata", "k=v")
    e1, e2 = (r["ETag"] for r in par(lambda: _part(s3, bucket, "big", uid, 1, p1),
                                        lambda: _part(s3, bucket, "big", uid, 2, p2)))
    assert e1 == f'"{hashlib.md5(d1).hexdigest()}"'
    parts, ups = par(lambda: s3("s3api", "list-parts", "--bucket", bucket, "--key", "big",
                                "--upload-id", uid),
                     lambda: s3("s3api", "list-multipart-uploads", "--bucket", bucket))
    assert [(p["PartNumber"], p["Size"]) for p in parts["Parts"]] == [(1, 5 * MIB), (2, 1000)]
    assert [(u["Key"], u["UploadId"]) for u in ups["Uploads"]] == [("big", uid)]
    state = control("GET", "state")["s3"]
    assert {"bucket": bucket, "key": "big", "upload_id": uid, "parts": 2} in \
        state["multipart_uploads_open"]
    done = _complete(s3, bucket, "big", uid, [{"PartNumber": 1, "ETag": e1},
                                              {"PartNumber": 2, "ETag": e2}])
    want = hashlib.md5(hashlib.md5(d1).digest() + hashlib.md5(d2).digest()).hexdigest()
    assert done["ETag"] == f'"{want}-2"'
    assert control("GET", "state")["s3"]["multipart_uploads_open"] == []
    head = s3("s3api", "head-object", "--bucket", bucket, "--key", "big")
    assert head["ContentLength"] == 5 * MIB + 1000 and head["Metadata"] == {"k": "v"}
    out = tmp_path / "out"
    s3("s3api", "get-object", "--bucket", bucket, "--key", "big", str(out))
    assert out.read_bytes() == d1 + d2


def test_multipart_errors(s3, bucket, control, tmp_path):
    small = tmp_path / "small"
    small.write_bytes(b"s" * 1000)
    uid = _mpu(s3, bucket, "k")
    e1, e2 = (r["ETag"] for r in par(lambda: _part(s3, bucket, "k", uid, 1, small),
                                        lambda: _part(s3, bucket, "k", uid, 2, small)))
    cases = [
        ("EntityTooSmall", uid, [{"PartNumber": 1, "ETag": e1}, {"PartNumber": 2, "ETag": e2}]),
        ("InvalidPart", uid, [{"PartNumber": 1, "ETag": '"' + "0" * 32 + '"'}]),
        ("InvalidPart", uid, [{"PartNumber": 3, "ETag": e1}]),
        ("InvalidPartOrder", uid, [{"PartNumber": 2, "ETag": e2}, {"PartNumber": 1, "ETag": e1}]),
        ("NoSuchUpload", "nosuchupload", [{"PartNumber": 1, "ETag": e1}]),
    ]
    results = par(*[lambda u=u, p=p: _complete(s3, bucket, "k", u, p, False)
                    for _, u, p in cases],
                  lambda: s3("s3api", "upload-part", "--bucket", bucket, "--key", "k",
                             "--upload-id", uid, "--part-number", "10001", "--body",
                             str(small), check=False))
    for (code, _, _), r in zip(cases + [("InvalidArgument", 0, 0)], results):
        fails_with(r, code)
    s3("s3api", "abort-multipart-upload", "--bucket", bucket, "--key", "k", "--upload-id", uid)
    assert control("GET", "state")["s3"]["multipart_uploads_open"] == []
    fails_with(s3("s3api", "list-parts", "--bucket", bucket, "--key", "k", "--upload-id", uid,
                  check=False), "NoSuchUpload")


def test_multipart_composite_checksum(s3, bucket, tmp_path):
    p1, p2 = tmp_path / "p1", tmp_path / "p2"
    d1, d2 = os.urandom(5 * MIB), os.urandom(4321)
    p1.write_bytes(d1)
    p2.write_bytes(d2)
    uid = _mpu(s3, bucket, "c", "--checksum-algorithm", "CRC32C")
    r1, r2 = par(lambda: _part(s3, bucket, "c", uid, 1, p1, "--checksum-algorithm", "CRC32C"),
                 lambda: _part(s3, bucket, "c", uid, 2, p2, "--checksum-algorithm", "CRC32C"))
    c1, c2 = (ck.digest("crc32c", d) for d in (d1, d2))
    assert r1["ChecksumCRC32C"] == ck.b64(c1)  # echoed by UploadPart
    parts = [{"PartNumber": 1, "ETag": r1["ETag"], "ChecksumCRC32C": ck.b64(c1)},
             {"PartNumber": 2, "ETag": r2["ETag"], "ChecksumCRC32C": ck.b64(c2)}]
    wrong = [dict(parts[0]), parts[1]]
    wrong[0]["ChecksumCRC32C"] = ck.b64(c2)
    fails_with(_complete(s3, bucket, "c", uid, wrong, False), "InvalidPart")
    done = _complete(s3, bucket, "c", uid, parts)
    want = ck.b64(ck.digest("crc32c", c1 + c2)) + "-2"
    assert done["ChecksumCRC32C"] == want
    head = s3("s3api", "head-object", "--bucket", bucket, "--key", "c",
              "--checksum-mode", "ENABLED")
    assert head["ChecksumCRC32C"] == want


def test_bucket_public_access_block_and_encryption(s3, bucket, tmp_path):
    s3("s3api", "put-public-access-block", "--bucket", bucket, "--public-access-block-"
       "configuration", "BlockPublicAcls=true,IgnorePublicAcls=true,BlockPublicPolicy=false,"
       "RestrictPublicBuckets=true")
    pab = s3("s3api", "get-public-access-block", "--bucket", bucket)
    assert pab["PublicAccessBlockConfiguration"]["BlockPublicPolicy"] is False
    assert pab["PublicAccessBlockConfiguration"]["BlockPublicAcls"] is True
    enc = s3("s3api", "get-bucket-encryption", "--bucket", bucket)
    rule = enc["ServerSideEncryptionConfiguration"]["Rules"][0]
    assert rule["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"
    conf = {"Rules": [{"ApplyServerSideEncryptionByDefault": {
        "SSEAlgorithm": "aws:kms", "KMSMasterKeyID": "alias/vmie"}, "BucketKeyEnabled": True}]}
    s3("s3api", "put-bucket-encryption", "--bucket", bucket,
       "--server-side-encryption-configuration", json.dumps(conf))
    enc = s3("s3api", "get-bucket-encryption", "--bucket", bucket)
    rule = enc["ServerSideEncryptionConfiguration"]["Rules"][0]
    assert rule["ApplyServerSideEncryptionByDefault"] == {"SSEAlgorithm": "aws:kms",
                                                          "KMSMasterKeyID": "alias/vmie"}
    assert rule["BucketKeyEnabled"] is True
    f = tmp_path / "o"
    f.write_bytes(b"secret")
    out = s3("s3api", "put-object", "--bucket", bucket, "--key", "kms", "--body", str(f))
    assert out["ServerSideEncryption"] == "aws:kms" and out["SSEKMSKeyId"] == "alias/vmie"


def test_create_bucket_location_rules(s3):
    r1, r2, r3, r4 = par(
        lambda: s3("s3api", "create-bucket", "--bucket", "vmie-west", check=False),
        lambda: s3("s3api", "create-bucket", "--bucket", "vmie-west",
                   "--create-bucket-configuration", "LocationConstraint=eu-west-1",
                   check=False),
        lambda: s3("s3api", "create-bucket", "--bucket", "vmie-east", "--create-bucket-"
                   "configuration", "LocationConstraint=us-east-1", region="us-east-1",
                   check=False),
        lambda: s3("s3api", "create-bucket", "--bucket", "Bad_Name",
                   "--create-bucket-configuration", "LocationConstraint=us-west-2",
                   check=False))
    fails_with(r1, "IllegalLocationConstraintException")
    fails_with(r2, "IllegalLocationConstraintException")
    fails_with(r3, "InvalidLocationConstraint")
    fails_with(r4, "InvalidBucketName")
    par(lambda: s3("s3api", "create-bucket", "--bucket", "vmie-east", region="us-east-1"),
        lambda: s3("s3api", "create-bucket", "--bucket", "vmie-west",
                   "--create-bucket-configuration", "LocationConstraint=us-west-2"))
    _, loc, again, nope = par(
        lambda: s3("s3api", "head-bucket", "--bucket", "vmie-east", region="us-east-1"),
        lambda: s3("s3api", "get-bucket-location", "--bucket", "vmie-east",
                   region="us-east-1"),
        lambda: s3("s3api", "create-bucket", "--bucket", "vmie-west",
                   "--create-bucket-configuration", "LocationConstraint=us-west-2",
                   check=False),
        lambda: s3("s3api", "list-objects-v2", "--bucket", "vmie-nope", check=False))
    assert loc["LocationConstraint"] is None
    fails_with(again, "BucketAlreadyOwnedByYou")
    fails_with(nope, "NoSuchBucket")


def test_wrong_signature_rejected(aws, bucket):
    r = aws("s3api", "list-objects-v2", "--bucket", bucket, check=False,
            env=dict(WEST, AWS_SECRET_ACCESS_KEY="wrong" + EMU_SECRET_KEY))
    fails_with(r, "SignatureDoesNotMatch")


def test_presigned_get(s3, bucket, tmp_path, emulator):
    f = tmp_path / "o"
    f.write_bytes(b"presigned body")
    s3("s3api", "put-object", "--bucket", bucket, "--key", "p/q r", "--body", str(f))
    url = subprocess.run([AWS_CLI, "--endpoint-url", emulator, "s3", "presign",
                          f"s3://{bucket}/p/q r", "--expires-in", "2"], capture_output=True,
                         text=True, env=dict(os.environ, AWS_ACCESS_KEY_ID=EMU_ACCESS_KEY,
                                             AWS_SECRET_ACCESS_KEY=EMU_SECRET_KEY,
                                             **WEST)).stdout.strip()
    with urllib.request.urlopen(url, timeout=10) as r:
        assert r.read() == b"presigned body"
    sig_at = url.index("X-Amz-Signature=") + len("X-Amz-Signature=")
    tampered = url[:sig_at] + ("0" if url[sig_at] != "0" else "1") + url[sig_at + 1:]
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(tampered, timeout=10)
    assert e.value.code == 403 and b"SignatureDoesNotMatch" in e.value.read()
    time.sleep(2.5)
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(url, timeout=10)
    body = e.value.read()
    assert e.value.code == 403 and b"AccessDenied" in body and b"Request has expired" in body


def test_slowdown_on_upload_part_is_retried(s3, bucket, control, tmp_path):
    f = tmp_path / "f"
    f.write_bytes(os.urandom(17 * MIB))
    control("POST", "faults", {"service": "s3", "operation": "UploadPart", "status": 503,
                               "code": "SlowDown", "message": "Please reduce your request "
                               "rate.", "count": 2})
    s3("s3", "cp", "--only-show-errors", str(f), f"s3://{bucket}/slow")
    assert control("GET", "state")["faults_pending"] == []
    ops = [r["operation"] for r in control("GET", "requests")]
    assert ops.count("UploadPart") == 3 + 2  # three parts, two throttled attempts
    head = s3("s3api", "head-object", "--bucket", bucket, "--key", "slow")
    assert head["ContentLength"] == 17 * MIB


# --- raw requests: aws-chunked, trailers, signed payloads -------------------------------

def _signer(region="us-west-2"):
    return raw.Signer(EMU_ACCESS_KEY, EMU_SECRET_KEY, region)


def _get(emulator, path):
    h = {"host": raw.host_of(emulator)}
    _signer().sign("GET", path, {}, h, raw.EMPTY)
    return raw.request(emulator, "GET", path, h)


def test_raw_signed_streaming_put(emulator, bucket):
    data = os.urandom(200000)
    path = f"/{bucket}/streamed"
    for tamper in (None, 1):
        s = _signer()
        h = {"host": raw.host_of(emulator), "content-encoding": "aws-chunked",
             "x-amz-decoded-content-length": str(len(data)), "x-amz-storage-class": "STANDARD"}
        seed = s.sign("PUT", path, {}, h, "STREAMING-AWS4-HMAC-SHA256-PAYLOAD")
        body = raw.signed_chunks(s, seed, data, tamper_chunk=tamper)
        status, hdrs, out = raw.request(emulator, "PUT", path, h, body)
        if tamper is None:
            assert status == 200, out
            assert hdrs["etag"] == f'"{hashlib.md5(data).hexdigest()}"'
        else:
            assert status == 403 and b"SignatureDoesNotMatch" in out
    status, _, out = _get(emulator, path)
    assert status == 200 and out == data  # the tampered upload replaced nothing
    s = _signer()
    h = {"host": raw.host_of(emulator), "content-encoding": "aws-chunked",
         "x-amz-decoded-content-length": str(len(data) + 1)}
    seed = s.sign("PUT", path, {}, h, "STREAMING-AWS4-HMAC-SHA256-PAYLOAD")
    status, _, out = raw.request(emulator, "PUT", path, h, raw.signed_chunks(s, seed, data))
    assert status == 400 and b"IncompleteBody" in out


def test_raw_unsigned_trailer_over_http_chunked(emulator, bucket):
    data = os.urandom(300000)
    path = f"/{bucket}/trailer"
    good = ck.b64(ck.digest("crc32c", data))
    for value, want in ((ck.b64(b"\1\2\3\4"), 400), (good, 200)):
        h = {"host": raw.host_of(emulator), "content-encoding": "aws-chunked",
             "x-amz-decoded-content-length": str(len(data)),
             "x-amz-trailer": "x-amz-checksum-crc32c",
             "x-amz-sdk-checksum-algorithm": "CRC32C", "expect": "100-continue"}
        _signer().sign("PUT", path, {}, h, "STREAMING-UNSIGNED-PAYLOAD-TRAILER")
        body = raw.unsigned_trailer_chunks(data, "x-amz-checksum-crc32c", value)
        status, hdrs, out = raw.request(emulator, "PUT", path, h, body, http_chunked=True)
        assert status == want, out
        if want == 400:
            assert b"BadDigest" in out
        else:
            assert hdrs["x-amz-checksum-crc32c"] == good
    status, _, out = _get(emulator, path)
    assert out == data


def test_raw_payload_hash_mismatch_and_upload_part_echo(emulator, bucket, s3):
    path = f"/{bucket}/signed"
    h = {"host": raw.host_of(emulator)}
    _signer().sign("PUT", path, {}, h, hashlib.sha256(b"other").hexdigest())
    status, _, out = raw.request(emulator, "PUT", path, h, b"payload")
    assert status == 400 and b"XAmzContentSHA256Mismatch" in out
    uid = _mpu(s3, bucket, "echo")
    data = os.urandom(100000)
    q = {"partNumber": "1", "uploadId": uid}
    for value, want in ((ck.b64(b"\0\0\0\0"), 400), (ck.b64(ck.digest("crc32c", data)), 200)):
        h = {"host": raw.host_of(emulator), "x-amz-checksum-crc32c": value}
        _signer().sign("PUT", "/" + bucket + "/echo", q, h, "UNSIGNED-PAYLOAD")
        status, hdrs, out = raw.request(emulator, "PUT", f"/{bucket}/echo", h, data, q)
        assert status == want, out
    assert hdrs["x-amz-checksum-crc32c"] == value
    assert hdrs["etag"] == f'"{hashlib.md5(data).hexdigest()}"'


def test_wrong_region_signature_names_bucket_region(emulator, bucket):
    h = {"host": raw.host_of(emulator)}
    _signer("eu-west-1").sign("HEAD", f"/{bucket}", {}, h, raw.EMPTY)
    status, hdrs, _ = raw.request(emulator, "HEAD", f"/{bucket}", h)
    assert status == 301 and hdrs["x-amz-bucket-region"] == "us-west-2"  # as S3 redirects


# --- restart and the internal API ---------------------------------------------------

class _Emu:
    """An emulator process that can be stopped and started on one state dir."""

    def __init__(self, state):
        self.state, self.proc = state, None

    def start(self):
        port = self.state / "port"
        if port.exists():
            port.unlink()
        self.proc = subprocess.Popen([sys.executable, "-m", "emulator", "--port", "0",
                                      "--state-dir", str(self.state)], cwd=str(ROOT),
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.time() + 15
        while not port.exists():
            assert self.proc.poll() is None and time.time() < deadline, "no emulator"
            time.sleep(0.05)
        self.url = f"http://127.0.0.1:{port.read_text().strip()}"
        return self.url

    def stop(self):
        self.proc.terminate()
        self.proc.wait(timeout=10)


@pytest.fixture
def restartable(tmp_path):
    state = tmp_path / "restart-state"
    state.mkdir()
    emu = _Emu(state)
    emu.start()
    yield emu
    if emu.proc.poll() is None:
        emu.stop()


def test_state_survives_restart(restartable, emu_env, tmp_path):
    def cli(*args):
        r = subprocess.run([AWS_CLI, "--endpoint-url", restartable.url, "--output", "json",
                            *args], env=dict(emu_env, **WEST), capture_output=True, text=True,
                           timeout=60)
        assert r.returncode == 0, r.stderr
        return json.loads(r.stdout) if r.stdout.strip() else {}
    f = tmp_path / "o"
    f.write_bytes(os.urandom(10000))
    cli("s3api", "create-bucket", "--bucket", "vmie-keep", "--create-bucket-configuration",
        "LocationConstraint=us-west-2")
    cli("s3api", "put-object", "--bucket", "vmie-keep", "--key", "k", "--body", str(f))
    uid = cli("s3api", "create-multipart-upload", "--bucket", "vmie-keep",
              "--key", "m")["UploadId"]
    restartable.stop()
    restartable.start()
    out = tmp_path / "back"
    cli("s3api", "get-object", "--bucket", "vmie-keep", "--key", "k", str(out))
    assert out.read_bytes() == f.read_bytes()
    ups = cli("s3api", "list-multipart-uploads", "--bucket", "vmie-keep")
    assert [u["UploadId"] for u in ups["Uploads"]] == [uid]
    with urllib.request.urlopen(restartable.url + "/_vmie/state", timeout=10) as r:
        state = json.loads(r.read())["s3"]
    assert state["buckets"] == ["vmie-keep"] and state["objects"] == 1
    assert state["multipart_uploads_open"][0]["upload_id"] == uid


def test_internal_api(tmp_path):
    from emulator.server import serve
    from emulator.services import s3
    httpd = serve(str(tmp_path / "st"))
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        emu = httpd.emulator
        url = f"http://127.0.0.1:{httpd.server_address[1]}"
        h = {"host": raw.host_of(url)}
        body = b"<CreateBucketConfiguration><LocationConstraint>us-west-2" \
               b"</LocationConstraint></CreateBucketConfiguration>"
        _signer().sign("PUT", "/vmie-api", {}, h, hashlib.sha256(body).hexdigest())
        assert raw.request(url, "PUT", "/vmie-api", h, body)[0] == 200
        assert s3.bucket_exists(emu, "vmie-api") and not s3.bucket_exists(emu, "nope")
        assert s3.bucket_region(emu, "vmie-api") == "us-west-2"
        assert s3.bucket_encryption(emu, "vmie-api") == "AES256"
        src = tmp_path / "export.vmdk"
        src.write_bytes(b"exported disk")
        info = s3.put_file(emu, "vmie-api", "exports/export-i-1.vmdk", str(src), {"a": "b"})
        assert info["size"] == 13 and info["etag"] == f'"{hashlib.md5(b"exported disk").hexdigest()}"'
        assert src.exists()  # linked or copied, the caller keeps its file
        path = s3.object_path(emu, "vmie-api", "exports/export-i-1.vmdk")
        assert open(path, "rb").read() == b"exported disk"
        assert s3.head(emu, "vmie-api", "exports/export-i-1.vmdk")["metadata"] == {"a": "b"}
        assert s3.head(emu, "vmie-api", "missing") is None
        status, _, out = _get(url, "/vmie-api/exports/export-i-1.vmdk")
        assert status == 200 and out == b"exported disk"
        assert s3.dump(emu) == {"buckets": ["vmie-api"], "objects": 1,
                                "multipart_uploads_open": []}
    finally:
        httpd.shutdown()
        httpd.server_close()
