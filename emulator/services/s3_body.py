"""S3 request bodies: read them in 1 MiB blocks into a temp file while
hashing, never whole in memory, and check every integrity claim the client
made (aws-facts.md §4):

  x-amz-content-sha256   hex SHA-256 (checked after streaming), UNSIGNED-PAYLOAD,
                         or a STREAMING-* value meaning an aws-chunked body
  aws-chunked framing    <hex-len>[;chunk-signature=<sig>]\\r\\n<data>\\r\\n ... 0 chunk,
                         then optional trailers (x-amz-checksum-*), then \\r\\n
  Content-MD5            base64 MD5 (InvalidDigest / BadDigest)
  x-amz-checksum-<alg>   header or trailer (BadDigest on mismatch)

HTTP Transfer-Encoding: chunked is undone below us by Request.read(); the
aws-chunked layer is undone here."""
import hashlib
import hmac
import os
import re
import uuid

from ..protocol import ServiceError
from . import s3_checksums as ck

BLOCK = 1 << 20
EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()
UNSIGNED = "UNSIGNED-PAYLOAD"
SIGNED_STREAMING = ("STREAMING-AWS4-HMAC-SHA256-PAYLOAD",
                    "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER")
UNSIGNED_STREAMING = "STREAMING-UNSIGNED-PAYLOAD-TRAILER"
_HEX64 = re.compile(r"^[0-9a-f]{64}$")
MAX_LINE = 4096


def incomplete(msg="The request body terminated unexpectedly"):
    return ServiceError("IncompleteBody", msg, 400)


def bad_chunk_signature():
    return ServiceError("SignatureDoesNotMatch", "The request signature we calculated does "
                        "not match the signature you provided. Check your key and signing "
                        "method.", 403)


class ChunkSigner:
    """Checks the chain of chunk signatures of a STREAMING-AWS4-HMAC-SHA256-
    PAYLOAD body (AWS docs "sigv4-streaming"): each chunk signs its data's
    hash and the previous signature, starting from the header's (seed)."""

    def __init__(self, key, amz_date, scope, seed):
        self.key, self.amz_date, self.scope, self.prev = key, amz_date, scope, seed

    def _sign(self, kind, *lines):
        sts = "\n".join([kind, self.amz_date, self.scope, self.prev, *lines])
        return hmac.new(self.key, sts.encode(), hashlib.sha256).hexdigest()

    def check_chunk(self, data_sha256_hex, sig):
        want = self._sign("AWS4-HMAC-SHA256-PAYLOAD", EMPTY_SHA256, data_sha256_hex)
        if sig is None or not hmac.compare_digest(want, sig):
            raise bad_chunk_signature()
        self.prev = want

    def check_trailer(self, canonical_trailers, sig):
        want = self._sign("AWS4-HMAC-SHA256-TRAILER",
                          hashlib.sha256(canonical_trailers.encode()).hexdigest())
        if sig is None or not hmac.compare_digest(want, sig):
            raise bad_chunk_signature()
        self.prev = want


class _Source:
    """Line and exact-length reads over a read(n) function."""

    def __init__(self, read):
        self._read, self.buf = read, b""

    def line(self):
        while b"\n" not in self.buf:
            if len(self.buf) > MAX_LINE:
                raise incomplete("An aws-chunked line is too long")
            data = self._read(MAX_LINE)
            if not data:
                raise incomplete()
            self.buf += data
        text, _, self.buf = self.buf.partition(b"\n")
        return text.rstrip(b"\r")

    def take(self, n):
        """Yield pieces adding up to exactly n bytes."""
        if self.buf:
            piece, self.buf = self.buf[:n], self.buf[n:]
            n -= len(piece)
            yield piece
        while n > 0:
            data = self._read(min(n, BLOCK))
            if not data:
                raise incomplete()
            if len(data) > n:
                data, self.buf = data[:n], data[n:]
            n -= len(data)
            yield data


class AwsChunkedDecoder:
    """Iterate to get the decoded payload; .trailers is filled at the end.
    With a ChunkSigner, every chunk signature (and a trailer signature, if
    one is sent) is verified."""

    def __init__(self, read, signer=None):
        self.src, self.signer, self.trailers = _Source(read), signer, {}

    def __iter__(self):
        while True:
            size, sig = self._chunk_header()
            h = hashlib.sha256() if self.signer else None
            for piece in self.src.take(size):
                if h:
                    h.update(piece)
                yield piece
            if size and self.src.line() != b"":
                raise incomplete("An aws-chunked chunk is longer than its size")
            if self.signer:
                self.signer.check_chunk(h.hexdigest(), sig)
            if size == 0:
                break
        self._read_trailers()

    def _chunk_header(self):
        head = self.src.line()
        size_hex, _, ext = head.partition(b";")
        try:
            size = int(size_hex, 16)
        except ValueError:
            raise incomplete("Malformed aws-chunked chunk header")
        sig = None
        for param in ext.split(b";"):
            name, _, value = param.partition(b"=")
            if name.strip() == b"chunk-signature":
                sig = value.strip().decode("ascii", "replace")
        return size, sig

    def _read_trailers(self):
        sig, canon = None, []
        while True:
            line = self.src.line()
            if line == b"":
                break
            name, _, value = line.decode("latin-1").partition(":")
            name, value = name.strip().lower(), value.strip()
            if name == "x-amz-trailer-signature":
                sig = value
            else:
                self.trailers[name] = value
                canon.append(f"{name}:{value}\n")
        if self.signer and (sig is not None or canon):
            self.signer.check_trailer("".join(canon), sig)


class Ingested:
    """What a stored body turned out to be."""

    def __init__(self, path, size, md5, checksums):
        self.path, self.size, self.md5, self.checksums = path, size, md5, checksums

    @property
    def etag(self):
        return '"' + self.md5.hex() + '"'

    def discard(self):
        try:
            os.unlink(self.path)
        except FileNotFoundError:
            pass


def _header(req, name):
    v = req.headers.get(name)
    return v.strip() if v is not None else None


def requested_algorithms(req, extra=()):
    """The checksums this request asks for: headers, declared trailers,
    x-amz-sdk-checksum-algorithm, plus `extra` (an upload's algorithm)."""
    algs = set(a.lower() for a in extra if a)
    for alg in ck.ALGORITHMS:
        if req.headers.get(ck.header_name(alg)) is not None:
            algs.add(alg)
    for name in (_header(req, "x-amz-trailer") or "").split(","):
        name = name.strip().lower()
        if name.startswith("x-amz-checksum-"):
            algs.add(name[len("x-amz-checksum-"):])
    sdk = _header(req, "x-amz-sdk-checksum-algorithm")
    if sdk:
        algs.add(sdk.lower())
    for alg in algs:
        if alg not in ck.ALGORITHMS:
            raise ServiceError("InvalidRequest", f"Checksum algorithm {alg.upper()} is not "
                               f"supported by this emulator", 400)
    return sorted(algs)


def _signer_for(emu, req):
    """The chunk-signature checker for a signed streaming body."""
    scope = req.scope or {}
    secret = emu.credentials().get(req.akid, {}).get("secret")
    if not secret or "sig" not in scope:
        raise bad_chunk_signature()
    from ..auth import signing_key
    key = signing_key(secret, scope["date"], scope["region"], scope["service"])
    return ChunkSigner(key, _header(req, "x-amz-date") or "",
                       f"{scope['date']}/{scope['region']}/{scope['service']}/aws4_request",
                       scope["sig"])


def payload_mode(req):
    """('plain'|'chunked', expected decoded length or None, content sha)."""
    sha = _header(req, "x-amz-content-sha256") or UNSIGNED
    enc = (_header(req, "Content-Encoding") or "").lower()
    chunked = sha.startswith("STREAMING-") or "aws-chunked" in enc
    if chunked:
        dl = _header(req, "x-amz-decoded-content-length")
        if dl is None or not dl.isdigit():
            raise ServiceError("MissingContentLength", "You must provide the "
                               "x-amz-decoded-content-length header.", 411)
        return "chunked", int(dl), sha
    cl = _header(req, "Content-Length")
    if cl is None and "chunked" not in (_header(req, "Transfer-Encoding") or "").lower():
        raise ServiceError("MissingContentLength",
                           "You must provide the Content-Length HTTP header.", 411)
    if sha != UNSIGNED and not _HEX64.match(sha):
        raise ServiceError("InvalidArgument", "x-amz-content-sha256 must be UNSIGNED-PAYLOAD, "
                           "STREAMING-UNSIGNED-PAYLOAD-TRAILER, "
                           "STREAMING-AWS4-HMAC-SHA256-PAYLOAD or a valid sha256 value.", 400)
    return "plain", int(cl) if cl is not None and cl.isdigit() else None, sha


def declared_length(req):
    """The payload length the client announced, if it did (for size limits
    checked before reading)."""
    try:
        return payload_mode(req)[1]
    except ServiceError:
        return None


def _blocks(emu, req, mode, sha):
    """The payload blocks, plus the decoder (for trailers) if aws-chunked."""
    if mode == "plain":
        return iter(req.read, b""), None
    signer = _signer_for(emu, req) if sha in SIGNED_STREAMING else None
    dec = AwsChunkedDecoder(req.read, signer)
    return iter(dec), dec


def ingest(emu, req, tmp_dir, extra_algorithms=()):
    """Stream the body into a new file under tmp_dir, hashing as it goes;
    verify lengths, x-amz-content-sha256, Content-MD5 and checksums.
    Returns an Ingested (the caller renames .path into place) or raises."""
    mode, length, sha = payload_mode(req)
    algs = requested_algorithms(req, extra_algorithms)
    md5_claim = _content_md5(req)
    # Sink mode (benchmarks) spares the MD5 unless the client sent one to
    # check: its ETags are then only unique, not MD5s.
    real_md5 = not emu.sink or md5_claim is not None
    hashers = {a: ck.new(a) for a in algs}
    md5 = hashlib.md5()
    sha_h = hashlib.sha256() if _HEX64.match(sha) else None
    path = os.path.join(tmp_dir, "put-" + uuid.uuid4().hex)
    os.makedirs(tmp_dir, exist_ok=True)
    size = 0
    try:
        with open(path, "wb") as f:
            blocks, dec = _blocks(emu, req, mode, sha)
            for block in blocks:
                size += len(block)
                if real_md5:
                    md5.update(block)
                if sha_h:
                    sha_h.update(block)
                for h in hashers.values():
                    h.update(block)
                if not emu.sink:
                    f.write(block)
            if emu.sink:
                f.truncate(size)  # a hole of the right size
        if dec is not None:
            if req.read():  # nothing may follow the aws-chunked body
                raise incomplete("Data after the end of the aws-chunked body")
        sums = {a: h.digest() for a, h in hashers.items()}
        if not real_md5:
            md5 = hashlib.md5(repr((size, sorted(sums.items()))).encode())
        got = Ingested(path, size, md5.digest(), sums)
        _verify(req, got, length, sha_h, md5_claim, dec)
        return got
    except BaseException:
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass
        raise


def _content_md5(req):
    v = _header(req, "Content-MD5")
    if v is None:
        return None
    raw = ck.unb64(v, "md5")
    if raw is None:
        raise ServiceError("InvalidDigest", "The Content-MD5 you specified was invalid.", 400)
    return raw


def _verify(req, got, length, sha_h, md5_claim, dec):
    if length is not None and got.size != length:
        raise incomplete("You did not provide the number of bytes specified by the "
                         "Content-Length HTTP header" if dec is None else
                         "The decoded length does not match x-amz-decoded-content-length")
    if sha_h and sha_h.hexdigest() != _header(req, "x-amz-content-sha256"):
        raise ServiceError("XAmzContentSHA256Mismatch", "The provided 'x-amz-content-sha256' "
                           "header does not match what was computed.", 400)
    if md5_claim is not None and md5_claim != got.md5:
        raise ServiceError("BadDigest", "The Content-MD5 you specified did not match what "
                           "we received.", 400)
    trailers = dec.trailers if dec else {}
    for alg, raw in got.checksums.items():
        name = ck.header_name(alg)
        claim = req.headers.get(name) if req.headers.get(name) is not None else trailers.get(name)
        if claim is None:
            continue
        want = ck.unb64(claim, alg)
        if want is None:
            raise ServiceError("InvalidRequest", f"Value for {name} header is invalid.", 400)
        if want != raw:
            raise ServiceError("BadDigest", f"The {alg.upper()} you specified did not match "
                               f"the calculated checksum.", 400)


def read_small(req, limit=1 << 20):
    """A small (XML) body, with the same integrity checks, in memory."""
    mode, length, sha = payload_mode_lenient(req)
    if mode == "chunked":
        data = b"".join(AwsChunkedDecoder(req.read))
    else:
        data = req.read_all(limit)
    if _HEX64.match(sha) and hashlib.sha256(data).hexdigest() != sha:
        raise ServiceError("XAmzContentSHA256Mismatch", "The provided 'x-amz-content-sha256' "
                           "header does not match what was computed.", 400)
    claim = _content_md5(req)
    if claim is not None and claim != hashlib.md5(data).digest():
        raise ServiceError("BadDigest", "The Content-MD5 you specified did not match what "
                           "we received.", 400)
    return data


def payload_mode_lenient(req):
    """payload_mode for bodies that may be absent (GET, DELETE ...)."""
    sha = _header(req, "x-amz-content-sha256") or UNSIGNED
    enc = (_header(req, "Content-Encoding") or "").lower()
    if sha.startswith("STREAMING-") or "aws-chunked" in enc:
        return "chunked", None, sha
    return "plain", None, sha
