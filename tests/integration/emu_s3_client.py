"""A tiny raw S3 client for the emulator tests: SigV4 header signing plus
the two aws-chunked body encodings (signed chunks, unsigned + trailer),
written from the AWS docs so the tests can send what the AWS CLI v2.9
never sends over plain HTTP.  Not shared with the emulator's code."""
import datetime
import hashlib
import hmac
import http.client
import urllib.parse

EMPTY = hashlib.sha256(b"").hexdigest()


def _hmac(key, text):
    return hmac.new(key, text.encode(), hashlib.sha256)


def signing_key(secret, date, region, service="s3"):
    k = _hmac(("AWS4" + secret).encode(), date).digest()
    for part in (region, service, "aws4_request"):
        k = _hmac(k, part).digest()
    return k


class Signer:
    def __init__(self, akid, secret, region, when=None):
        self.akid, self.secret, self.region = akid, secret, region
        when = when or datetime.datetime.now(datetime.timezone.utc)
        self.amz_date = when.strftime("%Y%m%dT%H%M%SZ")
        self.date = self.amz_date[:8]
        self.scope = f"{self.date}/{region}/s3/aws4_request"
        self.key = signing_key(secret, self.date, region)

    def sign(self, method, path, query, headers, payload_hash):
        """Adds x-amz-date, x-amz-content-sha256 and Authorization to headers
        (a dict with lower-case names, including host); returns the signature."""
        headers["x-amz-date"] = self.amz_date
        headers["x-amz-content-sha256"] = payload_hash
        names = sorted(headers)
        q = sorted((urllib.parse.quote(k, safe="-_.~"), urllib.parse.quote(v, safe="-_.~"))
                   for k, v in query.items())
        canon = "\n".join([method, urllib.parse.quote(path, safe="/-_.~"),
                           "&".join(f"{k}={v}" for k, v in q),
                           "".join(f"{n}:{' '.join(str(headers[n]).split())}\n" for n in names),
                           ";".join(names), payload_hash])
        sts = "\n".join(["AWS4-HMAC-SHA256", self.amz_date, self.scope,
                         hashlib.sha256(canon.encode()).hexdigest()])
        sig = _hmac(self.key, sts).hexdigest()
        headers["authorization"] = (f"AWS4-HMAC-SHA256 Credential={self.akid}/{self.scope}, "
                                    f"SignedHeaders={';'.join(names)}, Signature={sig}")
        return sig

    def chunk_signature(self, prev, data):
        sts = "\n".join(["AWS4-HMAC-SHA256-PAYLOAD", self.amz_date, self.scope, prev, EMPTY,
                         hashlib.sha256(data).hexdigest()])
        return _hmac(self.key, sts).hexdigest()


def signed_chunks(signer, seed, data, chunk=65536, tamper_chunk=None):
    """A STREAMING-AWS4-HMAC-SHA256-PAYLOAD body (docs "sigv4-streaming")."""
    out, prev = [], seed
    pieces = [data[i:i + chunk] for i in range(0, len(data), chunk)] + [b""]
    for i, piece in enumerate(pieces):
        prev = signer.chunk_signature(prev, piece)
        if i == tamper_chunk:
            piece = bytes([piece[0] ^ 1]) + piece[1:]
        out.append(f"{len(piece):x};chunk-signature={prev}\r\n".encode() + piece + b"\r\n")
    return b"".join(out)


def unsigned_trailer_chunks(data, trailer_name, trailer_value, chunk=65536):
    """A STREAMING-UNSIGNED-PAYLOAD-TRAILER body, as botocore frames it."""
    out = [f"{len(data[i:i + chunk]):x}\r\n".encode() + data[i:i + chunk] + b"\r\n"
           for i in range(0, len(data), chunk)]
    out.append(f"0\r\n{trailer_name}:{trailer_value}\r\n\r\n".encode())
    return b"".join(out)


def request(url, method, path, headers, body=b"", query=None, http_chunked=False):
    """Send one request; returns (status, headers dict lower-case, body)."""
    u = urllib.parse.urlsplit(url)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=120)
    target = urllib.parse.quote(path, safe="/-_.~")
    if query:
        target += "?" + urllib.parse.urlencode(query, quote_via=urllib.parse.quote)
    try:
        if http_chunked:
            conn.putrequest(method, target, skip_host=True, skip_accept_encoding=True)
            for k, v in headers.items():
                conn.putheader(k, v)
            conn.putheader("Transfer-Encoding", "chunked")
            conn.endheaders()
            for i in range(0, len(body), 100000):
                piece = body[i:i + 100000]
                conn.send(f"{len(piece):x}\r\n".encode() + piece + b"\r\n")
            conn.send(b"0\r\n\r\n")
        else:
            conn.request(method, target, body=body, headers=headers)
        r = conn.getresponse()
        return r.status, {k.lower(): v for k, v in r.getheaders()}, r.read()
    finally:
        conn.close()


def host_of(url):
    return urllib.parse.urlsplit(url).netloc
