"""Server-side SigV4 verification, header and presigned-query forms.

Written independently of vmie's C signer so that each checks the other.
Errors are raised as AuthError with a protocol-neutral `kind`; each
service's protocol turns the kind into the code that service really uses
(EC2 says AuthFailure where STS says SignatureDoesNotMatch).
"""
import datetime
import hashlib
import hmac
import re
import urllib.parse

_AUTH_RE = re.compile(
    r"AWS4-HMAC-SHA256 Credential=(?P<akid>[^/]+)/(?P<date>\d{8})/(?P<region>[^/]+)/"
    r"(?P<service>[^/]+)/aws4_request, ?SignedHeaders=(?P<signed>[a-z0-9;._-]+), ?"
    r"Signature=(?P<sig>[0-9a-f]{64})$")
_SCOPE_RE = re.compile(
    r"(?P<akid>[^/]+)/(?P<date>\d{8})/(?P<region>[^/]+)/(?P<service>[^/]+)/aws4_request$")

MAX_SKEW = datetime.timedelta(minutes=15)

# kinds
MALFORMED = "malformed"        # missing/garbled Authorization or date
UNKNOWN_KEY = "unknown_key"    # access key id not known
BAD_TOKEN = "bad_token"        # session token missing or wrong
EXPIRED = "expired"            # temporary credentials expired
PRESIGN_EXPIRED = "presign_expired"  # a presigned URL past X-Amz-Expires
ANONYMOUS = "anonymous"        # no signature at all
SKEWED = "skewed"              # request time too far from ours
BAD_SIGNATURE = "bad_signature"


class AuthError(Exception):
    def __init__(self, kind, message):
        super().__init__(message)
        self.kind, self.message = kind, message


def scope_of(headers, query):
    """The credential scope (akid, date, region, service) a request claims,
    without verifying anything; None when it is unsigned."""
    q = urllib.parse.parse_qs(query, keep_blank_values=True)
    if "X-Amz-Credential" in q:
        m = _SCOPE_RE.match(q["X-Amz-Credential"][0])
        return m.groupdict() if m else None
    m = _AUTH_RE.match(headers.get("Authorization", "") or "")
    return m.groupdict() if m else None


# Global services answer only signatures scoped to their home region (IAM:
# us-east-1, the signing region of iam.amazonaws.com).
GLOBAL_SCOPES = {"iam": "us-east-1"}


def check_global_scope(service, region):
    """A request to a global service signed for another region fails as
    AWS fails it: 403 SignatureDoesNotMatch, "Credential should be scoped
    to a valid region"."""
    home = GLOBAL_SCOPES.get(service)
    if home and region != home:
        raise AuthError(BAD_SIGNATURE, "Credential should be scoped to a valid region, "
                        f"not '{region}'. ")


def uri_encode(s, keep_slash):
    return urllib.parse.quote(s, safe="-_.~/" if keep_slash else "-_.~")


def canonical_query(raw, drop=()):
    pairs = []
    for part in raw.split("&") if raw else []:
        if not part:
            continue
        k, _, v = part.partition("=")
        k = urllib.parse.unquote(k)
        if k in drop:
            continue
        pairs.append((uri_encode(k, False), uri_encode(urllib.parse.unquote(v), False)))
    pairs.sort()
    return "&".join(f"{k}={v}" for k, v in pairs)


def canonical_uri(raw_path, service):
    if service == "s3":
        return raw_path or "/"
    return uri_encode(raw_path or "/", True)


def signing_key(secret, date, region, service):
    k = hmac.new(("AWS4" + secret).encode(), date.encode(), hashlib.sha256).digest()
    for part in (region, service, "aws4_request"):
        k = hmac.new(k, part.encode(), hashlib.sha256).digest()
    return k


def _header_map(headers):
    hmap = {}
    for name, value in headers:
        hmap.setdefault(name.lower(), []).append(" ".join(value.strip().split()))
    return hmap


def _parse_time(amz_date):
    try:
        return datetime.datetime.strptime(amz_date, "%Y%m%dT%H%M%SZ").replace(
            tzinfo=datetime.timezone.utc)
    except ValueError:
        raise AuthError(MALFORMED, "Missing or malformed X-Amz-Date.")


def _check_key(akid, token, credentials, now):
    """credentials: {akid: {"secret":, "token": or None, "expires": datetime or None}}"""
    c = credentials.get(akid)
    if c is None:
        raise AuthError(UNKNOWN_KEY, "The security token included in the request is invalid.")
    if c.get("token") is not None and token != c["token"]:
        raise AuthError(BAD_TOKEN, "The security token included in the request is invalid.")
    if c.get("expires") is not None and now >= c["expires"]:
        raise AuthError(EXPIRED, "The security token included in the request is expired")
    return c["secret"]


def verify(method, raw_path, raw_query, headers, payload_hash, credentials, now=None):
    """Check a signed request.  headers: list of (name, value) as received.
    payload_hash: hex SHA-256 of the body as received (for services whose
    body the caller read), or None to take x-amz-content-sha256 (S3).
    Returns the scope dict (akid, date, region, service, signed)."""
    now = now or datetime.datetime.now(datetime.timezone.utc)
    hmap = _header_map(headers)
    q = urllib.parse.parse_qs(raw_query, keep_blank_values=True)
    presigned = "X-Amz-Signature" in q
    if presigned:
        m = _SCOPE_RE.match(q.get("X-Amz-Credential", [""])[0])
        if not m or q.get("X-Amz-Algorithm", [""])[0] != "AWS4-HMAC-SHA256":
            raise AuthError(MALFORMED, "Query-string authentication requires the "
                            "X-Amz-Algorithm, X-Amz-Credential, X-Amz-Signature, X-Amz-Date, "
                            "X-Amz-SignedHeaders, and X-Amz-Expires parameters.")
        auth = dict(m.groupdict(), signed=q.get("X-Amz-SignedHeaders", [""])[0],
                    sig=q["X-Amz-Signature"][0])
        amz_date = q.get("X-Amz-Date", [""])[0]
        token = q.get("X-Amz-Security-Token", [None])[0]
        when = _parse_time(amz_date)
        try:
            expires = int(q.get("X-Amz-Expires", ["0"])[0])
        except ValueError:
            raise AuthError(MALFORMED, "X-Amz-Expires should be a number")
        if now > when + datetime.timedelta(seconds=expires):
            raise AuthError(PRESIGN_EXPIRED, "Request has expired")
    else:
        m = _AUTH_RE.match(",".join(hmap.get("authorization", [])))
        if not m:
            raise AuthError(MALFORMED, "Authorization header requires 'Credential', "
                            "'Signature' and 'SignedHeaders' parameters.")
        auth = m.groupdict()
        amz_date = (hmap.get("x-amz-date") or [""])[0]
        token = (hmap.get("x-amz-security-token") or [None])[0]
        when = _parse_time(amz_date)
        if abs(now - when) > MAX_SKEW:
            raise AuthError(SKEWED, "The difference between the request time and the "
                            "current time is too large.")
    secret = _check_key(auth["akid"], token, credentials, now)
    signed = auth["signed"].split(";")
    if "host" not in signed:
        raise AuthError(BAD_SIGNATURE, "Host must be a signed header.")
    if presigned:
        payload = (hmap.get("x-amz-content-sha256") or ["UNSIGNED-PAYLOAD"])[0]
        if auth["service"] != "s3" and payload_hash is not None:
            payload = payload_hash
    else:
        payload = (hmap.get("x-amz-content-sha256") or [None])[0]
        if payload is None:
            payload = payload_hash
        if payload is None:
            raise AuthError(MALFORMED, "Missing required header for this request: "
                            "x-amz-content-sha256")
    canon = "\n".join([
        method,
        canonical_uri(raw_path, auth["service"]),
        canonical_query(raw_query, drop=("X-Amz-Signature",) if presigned else ()),
        "".join(f"{h}:{','.join(hmap.get(h, []))}\n" for h in signed),
        auth["signed"],
        payload,
    ])
    scope = f"{auth['date']}/{auth['region']}/{auth['service']}/aws4_request"
    sts = "\n".join(["AWS4-HMAC-SHA256", amz_date, scope,
                     hashlib.sha256(canon.encode()).hexdigest()])
    want = hmac.new(signing_key(secret, auth["date"], auth["region"], auth["service"]),
                    sts.encode(), hashlib.sha256).hexdigest()
    if not hmac.compare_digest(want, auth["sig"]):
        raise AuthError(BAD_SIGNATURE, "The request signature we calculated does not match "
                        "the signature you provided. Check your AWS Secret Access Key and "
                        "signing method. Consult the service documentation for details.")
    auth["canonical_request"] = canon
    auth["presigned"] = presigned
    return auth
