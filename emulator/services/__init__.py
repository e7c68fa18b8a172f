"""One module per service.  Each module defines:

  PROTOCOL    "ec2" | "iam" (IAM/STS query) | "s3" | "json" | "rest-json"
              (the IAM Identity Center portal and OIDC; such a module also
              has operation_name(req) and error_response(ServiceError))
  STREAMING   True when the handler reads the request body itself (S3);
              otherwise the server reads it (at most 16 MiB) into req.body
  UNSIGNED    operation names that need no signature (STS web identity)
  operation_name(req) -> str      (only for "s3" and "rest-json"; the
                                  others are derived)
  OPERATIONS  {name: handler(emu, req) -> protocol.Response}; a handler
              raises protocol.ServiceError for an AWS error answer
  dump(emu) -> dict               (optional) state for GET /_vmie/state
"""
from . import ec2, iam, ssm, sts
from . import s3
from . import sso, sso_oidc

SERVICES = {
    "sts": sts,
    "iam": iam,
    "ec2": ec2,
    "ssm": ssm,
    "s3": s3,
    "sso": sso,
    "sso-oidc": sso_oidc,
}
