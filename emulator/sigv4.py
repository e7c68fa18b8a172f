"""Server-side SigV4 verification (header form), written independently of
vmie's C signer so the two check each other."""
import datetime
import hashlib
import hmac
import re
import urllib.parse

_AUTH_RE = re.compile(
    r"AWS4-HMAC-SHA256 Credential=(?P<akid>[^/]+)/(?P<date>\d{8})/(?P<region>[^/]+)/"
    r"(?P<service>[^/]+)/aws4_request, ?SignedHeaders=(?P<signed>[a-z0-9;._-]+), ?"
    r"Signature=(?P<sig>[0-9a-f]{64})$")

MAX_SKEW = datetime.timedelta(minutes=15)


class AuthError(Exception):
    def __init__(self, code, message, status=403):
        super().__init__(message)
        self.code, self.message, self.status = code, message, status


def parse_authorization(value):
    m = _AUTH_RE.match(value or "")
    if not m:
        raise AuthError("IncompleteSignature",
                        "Authorization header requires 'Credential', 'Signature' and "
                        "'SignedHeaders' parameters.", 400)
    return m.groupdict()


def _uri_encode(s, keep_slash):
    safe = "-_.~/" if keep_slash else "-_.~"
    return urllib.parse.quote(s, safe=safe)


def canonical_query(raw):
    pairs = []
    for part in raw.split("&") if raw else []:
        if not part:
            continue
        k, _, v = part.partition("=")
        k = _uri_encode(urllib.parse.unquote(k), False)
        v = _uri_encode(urllib.parse.unquote(v), False)
        pairs.append((k, v))
    pairs.sort()
    return "&".join(f"{k}={v}" for k, v in pairs)


def canonical_uri(raw_path, service):
    if service == "s3":
        return raw_path or "/"
    # Every other service: the path as sent, encoded once more.
    return _uri_encode(raw_path or "/", True)


def _signing_key(secret, date, region, service):
    k = hmac.new(("AWS4" + secret).encode(), date.encode(), hashlib.sha256).digest()
    for part in (region, service, "aws4_request"):
        k = hmac.new(k, part.encode(), hashlib.sha256).digest()
    return k


def verify(method, raw_path, raw_query, headers, body, secrets, now=None):
    """headers: list of (name, value).  secrets: {akid: (secret, token or None)}.
    Returns the parsed Authorization fields; raises AuthError."""
    hmap = {}
    for name, value in headers:
        hmap.setdefault(name.lower(), []).append(" ".join(value.strip().split()))
    auth = parse_authorization(",".join(hmap.get("authorization", [])))
    if auth["akid"] not in secrets:
        raise AuthError("InvalidClientTokenId",
                        "The security token included in the request is invalid.")
    secret, token = secrets[auth["akid"]]
    if token is not None and hmap.get("x-amz-security-token", [None])[0] != token:
        raise AuthError("InvalidClientTokenId",
                        "The security token included in the request is invalid.")
    amz_date = (hmap.get("x-amz-date") or [""])[0]
    try:
        when = datetime.datetime.strptime(amz_date, "%Y%m%dT%H%M%SZ").replace(
            tzinfo=datetime.timezone.utc)
    except ValueError:
        raise AuthError("IncompleteSignature", "Missing or malformed X-Amz-Date.", 400)
    now = now or datetime.datetime.now(datetime.timezone.utc)
    if abs(now - when) > MAX_SKEW:
        raise AuthError("RequestTimeTooSkewed",
                        "The difference between the request time and the current time "
                        "is too large.")
    signed = auth["signed"].split(";")
    if "host" not in signed:
        raise AuthError("SignatureDoesNotMatch", "Host must be a signed header.")
    payload = (hmap.get("x-amz-content-sha256") or [None])[0]
    if payload is None:
        payload = hashlib.sha256(body).hexdigest()
    canon = "\n".join([
        method,
        canonical_uri(raw_path, auth["service"]),
        canonical_query(raw_query),
        "".join(f"{h}:{','.join(hmap.get(h, []))}\n" for h in signed),
        auth["signed"],
        payload,
    ])
    scope = f"{auth['date']}/{auth['region']}/{auth['service']}/aws4_request"
    sts = "\n".join(["AWS4-HMAC-SHA256", amz_date, scope,
                     hashlib.sha256(canon.encode()).hexdigest()])
    key = _signing_key(secret, auth["date"], auth["region"], auth["service"])
    want = hmac.new(key, sts.encode(), hashlib.sha256).hexdigest()
    if not hmac.compare_digest(want, auth["sig"]):
        raise AuthError("SignatureDoesNotMatch",
                        "The request signature we calculated does not match the signature "
                        "you provided. Check your AWS Secret Access Key and signing method.")
    return auth
