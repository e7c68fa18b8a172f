"""Wire shapes shared by the services: responses, errors, XML building.

Three protocols (aws-facts.md §6-§7):
  query  - EC2 (its own error shape), IAM and STS (ErrorResponse)
  rest   - S3 (<Error> documents, x-amz-request-id header)
  json   - SSM, JSON 1.1 ({"__type": ..., "message": ...})
"""
import json
import uuid
from xml.sax.saxutils import escape

from . import auth

EC2_NS = "http://ec2.amazonaws.com/doc/2016-11-15/"
IAM_NS = "https://iam.amazonaws.com/doc/2010-05-08/"
STS_NS = "https://sts.amazonaws.com/doc/2011-06-15/"
S3_NS = "http://s3.amazonaws.com/doc/2006-03-01/"


def request_id():
    return str(uuid.uuid4())


class Response:
    """status, headers (list of pairs) and a body: bytes, or a file to
    stream (path, offset, length) so large S3 objects never sit in memory."""

    def __init__(self, status=200, body=b"", headers=None, content_type=None, file=None):
        self.status = status
        self.body = body.encode() if isinstance(body, str) else body
        self.headers = list(headers or [])
        self.file = file
        if content_type:
            self.headers.append(("Content-Type", content_type))


class ServiceError(Exception):
    """An AWS error answer.  `extra` adds elements to S3 error documents
    (Key, BucketName, UploadId ...)."""

    def __init__(self, code, message, status=400, extra=None, headers=None):
        super().__init__(f"{code}: {message}")
        self.code, self.message, self.status = code, message, status
        self.extra = extra or {}
        self.headers = headers or []


# --- XML building ---------------------------------------------------------

def x(name, value=None, **children):
    """<name>value</name>; value may be a str/number/bool, a list of
    already-built child strings, or None for an empty element."""
    if value is None and not children:
        return f"<{name}/>"
    if isinstance(value, bool):
        inner = "true" if value else "false"
    elif isinstance(value, (list, tuple)):
        inner = "".join(value)
    elif value is None:
        inner = ""
    else:
        inner = escape(str(value))
    inner += "".join(x(k, v) for k, v in children.items())
    return f"<{name}>{inner}</{name}>"


def items(name, elements):
    """An EC2-style list: <name><item>..</item>...</name>."""
    return f"<{name}>" + "".join(f"<item>{e}</item>" for e in elements) + f"</{name}>"


def members(name, elements):
    """An IAM-style list: <name><member>..</member>...</name>."""
    return f"<{name}>" + "".join(f"<member>{e}</member>" for e in elements) + f"</{name}>"


# --- query protocol -------------------------------------------------------

def ec2_response(action, inner, rid=None):
    rid = rid or request_id()
    body = (f'<?xml version="1.0" encoding="UTF-8"?>\n<{action}Response xmlns="{EC2_NS}">'
            f"<requestId>{rid}</requestId>{inner}</{action}Response>")
    return Response(200, body, [("x-amzn-RequestId", rid)],
                    content_type="text/xml;charset=UTF-8")


def iam_response(action, inner, ns=IAM_NS, rid=None):
    rid = rid or request_id()
    result = f"<{action}Result>{inner}</{action}Result>" if inner is not None else ""
    body = (f'<{action}Response xmlns="{ns}">{result}<ResponseMetadata>'
            f"<RequestId>{rid}</RequestId></ResponseMetadata></{action}Response>")
    return Response(200, body, [("x-amzn-RequestId", rid)], content_type="text/xml")


def ec2_error(e):
    rid = request_id()
    body = (f'<?xml version="1.0" encoding="UTF-8"?>\n<Response><Errors><Error>'
            f"<Code>{escape(e.code)}</Code><Message>{escape(e.message)}</Message>"
            f"</Error></Errors><RequestID>{rid}</RequestID></Response>")
    return Response(e.status, body, e.headers, content_type="text/xml;charset=UTF-8")


def iam_error(e, ns=IAM_NS):
    rid = request_id()
    typ = "Receiver" if e.status >= 500 else "Sender"
    body = (f'<ErrorResponse xmlns="{ns}"><Error><Type>{typ}</Type>'
            f"<Code>{escape(e.code)}</Code><Message>{escape(e.message)}</Message></Error>"
            f"<RequestId>{rid}</RequestId></ErrorResponse>")
    return Response(e.status, body, e.headers, content_type="text/xml")


def s3_error(e, method="GET"):
    rid = request_id()
    hdrs = [("x-amz-request-id", rid), ("x-amz-id-2", rid)] + list(e.headers)
    if method == "HEAD":  # HEAD answers carry no body
        return Response(e.status, b"", hdrs)
    extra = "".join(x(k, v) for k, v in e.extra.items())
    body = (f'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>{escape(e.code)}</Code>'
            f"<Message>{escape(e.message)}</Message>{extra}<RequestId>{rid}</RequestId>"
            f"<HostId>{rid}</HostId></Error>")
    return Response(e.status, body, hdrs, content_type="application/xml")


def json_response(obj, rid=None):
    return Response(200, json.dumps(obj), [("x-amzn-RequestId", rid or request_id())],
                    content_type="application/x-amz-json-1.1")


def json_error(e):
    body = json.dumps({"__type": e.code, "message": e.message})
    return Response(e.status, body, [("x-amzn-RequestId", request_id())] + list(e.headers),
                    content_type="application/x-amz-json-1.1")


# --- authentication failures, as each service words them ------------------

_AUTH_CODES = {
    # kind: {protocol: (code, status, message or None to keep ours)}
    auth.MALFORMED: {"ec2": ("AuthFailure", 401, None), "iam": ("IncompleteSignature", 400, None),
                     "s3": ("AuthorizationHeaderMalformed", 400, None),
                     "json": ("IncompleteSignatureException", 400, None)},
    auth.UNKNOWN_KEY: {"ec2": ("AuthFailure", 401,
                               "AWS was not able to validate the provided access credentials"),
                       "iam": ("InvalidClientTokenId", 403, None),
                       "s3": ("InvalidAccessKeyId", 403, "The AWS Access Key Id you provided "
                              "does not exist in our records."),
                       "json": ("UnrecognizedClientException", 400, None)},
    auth.BAD_TOKEN: {"ec2": ("AuthFailure", 401,
                             "AWS was not able to validate the provided access credentials"),
                     "iam": ("InvalidClientTokenId", 403, None),
                     "s3": ("InvalidToken", 400, "The provided token is malformed or "
                            "otherwise invalid."),
                     "json": ("UnrecognizedClientException", 400, None)},
    auth.EXPIRED: {"ec2": ("RequestExpired", 400, None), "iam": ("ExpiredToken", 403, None),
                   "s3": ("ExpiredToken", 400, "The provided token has expired."),
                   "json": ("ExpiredTokenException", 400, None)},
    auth.PRESIGN_EXPIRED: {"ec2": ("RequestExpired", 400, None), "iam": ("ExpiredToken", 403, None),
                           "s3": ("AccessDenied", 403, None),
                           "json": ("ExpiredTokenException", 400, None)},
    auth.ANONYMOUS: {"ec2": ("AuthFailure", 401, None), "iam": ("MissingAuthenticationToken", 403,
                                                               None),
                     "s3": ("AccessDenied", 403, "Anonymous access is forbidden for this "
                            "operation"),
                     "json": ("MissingAuthenticationTokenException", 400, None)},
    auth.SKEWED: {"ec2": ("RequestExpired", 400, "Request has expired."),
                  "iam": ("RequestExpired", 403, None),
                  "s3": ("RequestTimeTooSkewed", 403, None),
                  "json": ("InvalidSignatureException", 400, None)},
    auth.BAD_SIGNATURE: {"ec2": ("AuthFailure", 401, None),
                         "iam": ("SignatureDoesNotMatch", 403, None),
                         "s3": ("SignatureDoesNotMatch", 403, None),
                         "json": ("InvalidSignatureException", 400, None)},
}


def auth_error(err, protocol):
    code, status, message = _AUTH_CODES[err.kind][protocol]
    return ServiceError(code, message or err.message, status)
