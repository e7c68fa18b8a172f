"""ExportImage, DescribeExportImageTasks: refused synchronously as AWS
refuses (Windows or encrypted AMIs, SSE-KMS buckets, the role), then a
task whose completion writes <prefix>export-ami-<id>.<fmt> (ec2_tasks)."""
import json
import time

from ..protocol import ec2_response, x
from ..store import new_id
from . import ec2_common as common
from . import ec2_quota as quota
from . import ec2_tasks as tasks
from .ec2_vmie import bad, by_token, describe, fingerprint, role_check


def _kms_default(enc):
    """Does a bucket's default encryption use KMS?  s3.bucket_encryption may
    answer a string or a dict; both are understood."""
    if not enc:
        return False
    if isinstance(enc, dict):
        enc = enc.get("SSEAlgorithm") or json.dumps(enc)
    return "aws:kms" in str(enc)


def _export_checks(emu, p, image_id, fmt, bucket):
    from . import ec2_images, s3
    image = ec2_images.get_image(emu, image_id)
    if image is None:
        raise common.not_found("InvalidAMIID.NotFound", image_id)
    if image.get("Platform") == "windows":
        raise bad(f"The image ID provided ({image_id}) contains a Windows operating system "
                  "and is not exportable.", "NotExportable")
    if image.get("Encrypted"):
        raise bad(f"The image ID provided ({image_id}) has encrypted snapshots and is not "
                  "exportable.", "NotExportable")
    if image.get("State") != "available":
        raise bad(f"Image {image_id} is not in a valid state: {image.get('State')}.",
                  "IncorrectState")
    if not s3.bucket_exists(emu, bucket):
        raise bad(f"The S3 bucket {bucket} does not exist.")
    role_check(emu, p.get("RoleName") or "vmimport", bucket, write=True)
    if _kms_default(s3.bucket_encryption(emu, bucket)):
        raise bad(f"The S3 bucket {bucket} uses SSE-KMS default encryption; VM Export "
                  "supports only unencrypted or SSE-S3 buckets.")


def export_image(emu, req):
    p = req.params
    image_id, fmt = p.get("ImageId"), p.get("DiskImageFormat")
    bucket, prefix = p.get("S3ExportLocation.S3Bucket"), p.get("S3ExportLocation.S3Prefix", "")
    for name, val in (("ImageId", image_id), ("DiskImageFormat", fmt),
                      ("S3ExportLocation.S3Bucket", bucket)):
        if not val:
            raise bad(f"The request must contain the parameter {name}", "MissingParameter")
    if not image_id.startswith("ami-") or len(image_id) < 12:
        raise bad(f'Invalid id: "{image_id}" (expecting "ami-...")', "InvalidAMIID.Malformed")
    if fmt.upper() not in ("VMDK", "RAW", "VHD"):
        raise bad(f"Invalid value '{fmt}' for DiskImageFormat. Valid values: VMDK, RAW, VHD",
                  "InvalidParameterValue")
    common.dry_run(req, "ExportImage")
    with emu.store.lock:
        earlier = by_token(emu, "export_tasks", p.get("ClientToken"), p)
        if earlier:
            return ec2_response("ExportImage", render_export(emu, earlier, first=True))
    _export_checks(emu, p, image_id, fmt, bucket)
    quota.admit(emu, req.region, "export")
    tid = new_id("export-ami")
    task = {"ExportImageTaskId": tid, "created": time.time(), "ImageId": image_id,
            "region": req.region,
            "Description": p.get("Description"), "DiskImageFormat": fmt.upper(),
            "RoleName": p.get("RoleName") or "vmimport", "S3Bucket": bucket,
            "S3Prefix": prefix, "key": tasks.export_key(tid, prefix, fmt),
            "client_token": p.get("ClientToken"), "fingerprint": fingerprint(p), "fail": None}
    forced = emu.take_forced("export")
    if forced:
        task["fail"] = {"at": forced.get("stage", "converting"),
                        "outcome": forced.get("outcome", "fail"),
                        "message": forced.get("message", "ServerError: Export failed.")}
    with emu.store.lock:
        quota.admit(emu, req.region, "export")
        emu.store.table("export_tasks")[tid] = task
        emu.store.save("export_tasks")
    tags = common.tag_specs(p, "export-image-task")
    if tags:
        common.set_tags(emu, tid, tags)
    return ec2_response("ExportImage", render_export(emu, task, first=True))


def render_export(emu, task, first=False):
    status, msg, progress, _ = tasks.export_state(emu, task)
    out = x("exportImageTaskId", task["ExportImageTaskId"]) + x("imageId", task["ImageId"])
    if task.get("Description"):
        out += x("description", task["Description"])
    if first:
        out += x("diskImageFormat", task["DiskImageFormat"]) + x("roleName", task["RoleName"])
    out += x("status", status)
    if msg:
        out += x("statusMessage", msg)
    if progress is not None:
        out += x("progress", progress)
    loc = x("s3Bucket", task["S3Bucket"])
    if task.get("S3Prefix"):
        loc += x("s3Prefix", task["S3Prefix"])
    return out + x("s3ExportLocation", [loc]) + common.tag_set(
        common.resource_tags(emu, task["ExportImageTaskId"]))


def describe_export_image_tasks(emu, req):
    return describe(emu, req, "export_tasks", "ExportImageTaskId", "Filter",
                     tasks.export_state,
                     lambda t: common.not_found("InvalidExportTaskID.NotFound", t),
                     render_export, "DescribeExportImageTasks", "exportImageTaskSet")


def cancel_export_task(emu, req):
    """CancelExportTask takes instance-export and export-ami- ids alike; a
    task that is no longer active cannot be cancelled."""
    tid = req.params.get("ExportTaskId")
    if not tid:
        raise bad("The request must contain the parameter ExportTaskId", "MissingParameter")
    common.dry_run(req)
    tasks.refresh(emu)
    with emu.store.lock:
        task = emu.store.table("export_tasks").get(tid)
        if task is None or task.get("region") not in (None, req.region):
            raise common.not_found("InvalidExportTaskID.NotFound", tid)
        status = tasks.export_state(emu, task)[0]
        if status != "active":
            raise bad(f"Export task {tid} cannot be cancelled: it is {status}.",
                      "IncorrectState")
        task["cancelled"] = time.time()
        task["cancel_message"] = "Cancelled by user"
        emu.store.save("export_tasks")
    tasks.refresh(emu)
    return ec2_response("CancelExportTask", x("return", True))


OPERATIONS = {
    "ExportImage": export_image,
    "DescribeExportImageTasks": describe_export_image_tasks,
    "CancelExportTask": cancel_export_task,
}
