"""STS, query protocol: GetCallerIdentity."""
import uuid

NS = "https://sts.amazonaws.com/doc/2011-06-15/"


def handle(emu, action, params, auth):
    rid = str(uuid.uuid4())
    if action == "GetCallerIdentity":
        acct = emu.account
        body = (f'<GetCallerIdentityResponse xmlns="{NS}"><GetCallerIdentityResult>'
                f"<UserId>AIDAVMIEEMULATOR</UserId><Account>{acct}</Account>"
                f"<Arn>arn:aws:iam::{acct}:user/vmie-emulator</Arn>"
                f"</GetCallerIdentityResult><ResponseMetadata><RequestId>{rid}</RequestId>"
                f"</ResponseMetadata></GetCallerIdentityResponse>")
        return 200, body
    return error(400, "InvalidAction", f"Could not find operation {action} for version "
                 f"{params.get('Version', '')}", rid)


def error(status, code, message, rid=None):
    rid = rid or str(uuid.uuid4())
    typ = "Receiver" if status >= 500 else "Sender"
    return status, (f'<ErrorResponse xmlns="{NS}"><Error><Type>{typ}</Type><Code>{code}</Code>'
                    f"<Message>{message}</Message></Error><RequestId>{rid}</RequestId>"
                    f"</ErrorResponse>")
