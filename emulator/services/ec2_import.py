"""ImportImage, DescribeImportImageTasks, CancelImportTask.

What the service finds while converting is planned here from the
object's content (image_sniff) and revealed by the task state machine
(ec2_tasks) when the task reaches the matching stage."""
import struct
import time
import urllib.parse
import uuid

from .. import image_convert, image_sniff, vmdk_stream
from ..protocol import ServiceError, ec2_response, items, x
from ..store import new_id
from . import ec2_common as common
from . import ec2_quota as quota
from . import ec2_tasks as tasks
from .ec2_vmie import bad, by_token, describe, fingerprint, role_check

UNKNOWN_OS = "ClientError: Unknown OS / Missing OS files."
EXTENSIONS = {".raw": "RAW", ".img": "RAW", ".vhd": "VHD", ".vhdx": "VHDX",
              ".vmdk": "VMDK", ".ova": "OVA"}



def _split_url(url):
    """(bucket, key) of an s3:// or https:// S3 URL (virtual-host or path)."""
    u = urllib.parse.urlsplit(url)
    path = urllib.parse.unquote(u.path).lstrip("/")
    if u.scheme == "s3":
        return u.netloc, path
    host = u.hostname or ""
    if ".s3." in host or ".s3-" in host:
        return host.split(".s3", 1)[0], path
    bucket, _, key = path.partition("/")
    return bucket, key


def _disks(params):
    """The DiskContainer.N list, normalized: Format, S3Bucket, S3Key ..."""
    disks = []
    for c in common.structs(params, "DiskContainer"):
        d = {"Description": c.get("Description"), "DeviceName": c.get("DeviceName"),
             "Url": c.get("Url"), "S3Bucket": c.get("UserBucket.S3Bucket"),
             "S3Key": c.get("UserBucket.S3Key"), "Format": c.get("Format")}
        if c.get("SnapshotId"):
            raise bad("Importing from an EBS snapshot is not supported by this emulator.")
        if d["Url"] and not d["S3Bucket"]:
            d["S3Bucket"], d["S3Key"] = _split_url(d["Url"])
        if not d["S3Bucket"] or not d["S3Key"]:
            raise bad("DiskContainer must name an S3 object: UserBucket or Url.",
                      "MissingParameter")
        fmt = d["Format"]
        if not fmt:
            ext = "." + d["S3Key"].rsplit(".", 1)[-1].lower() if "." in d["S3Key"] else ""
            fmt = EXTENSIONS.get(ext)
            if fmt is None:
                raise bad("The request must contain the parameter DiskContainer.Format",
                          "MissingParameter")
        if fmt.upper() not in image_sniff.FORMATS:
            raise bad(f"Invalid value '{fmt}' for disk container format. Valid values: "
                      "OVA, VHD, VHDX, VMDK, RAW", "InvalidParameterValue")
        d["Format"] = fmt.upper()
        disks.append(d)
    if not disks:
        raise bad("The request must contain the parameter DiskContainer", "MissingParameter")
    return disks


def _kms_key(key, region, account):
    """(key ARN, aliases) for ImportImage's KmsKeyId: a key id, an alias,
    or the ARN of either.  The emulator has no KMS: an alias stands for a
    key of its own (a stable made-up id), so a grant on that key must come
    through kms:ResourceAliases or a wildcard, as it would on AWS."""
    if key.startswith("arn:"):
        parts = key.split(":", 5)
        if len(parts) == 6 and parts[5].startswith("alias/"):
            region, account, alias = parts[3], parts[4], parts[5]
        else:
            return key, []
    elif key.startswith("alias/"):
        alias = key
    else:
        return f"arn:aws:kms:{region}:{account}:key/{key}", []
    made_up = uuid.uuid5(uuid.NAMESPACE_URL, f"{region}/{account}/{alias}")
    return f"arn:aws:kms:{region}:{account}:key/{made_up}", [alias]


def _check_kms(emu, task):
    """The task fails, as it does on AWS, when the role may not use the
    KMS key it was given (the VM Import guide's kms: permissions)."""
    from . import iam
    key_arn, aliases = _kms_key(task["KmsKeyId"], task["region"], emu.account)
    ok, why = iam.role_allows_kms(emu, task["RoleName"], key_arn, aliases)
    if not ok:
        task["fail"] = {"at": "validated", "message": (
            f"ClientError: The service role {task['RoleName']} does not have permission "
            f"to use the KMS key {task['KmsKeyId']} ({why}).")}


def _check_request(params):
    if params.get("LicenseType") and params.get("UsageOperation"):
        raise bad("LicenseType and UsageOperation cannot both be specified.",
                  "InvalidParameterCombination")
    if params.get("LicenseType") and params["LicenseType"] not in ("AWS", "BYOL"):
        raise bad(f"Invalid value '{params['LicenseType']}' for LicenseType. "
                  "Valid values: AWS, BYOL", "InvalidParameterValue")
    boot = params.get("BootMode")
    if boot and boot not in ("legacy-bios", "uefi"):
        raise bad(f"Invalid value '{boot}' for BootMode. Valid values: legacy-bios, uefi",
                  "InvalidParameterValue")
    arch = params.get("Architecture")
    if arch and arch not in ("i386", "x86_64", "arm64"):
        raise bad(f"Invalid value '{arch}' for Architecture.", "InvalidParameterValue")
    if params.get("KmsKeyId") and str(params.get("Encrypted")).lower() != "true":
        raise bad("KmsKeyId requires Encrypted to be true.", "InvalidParameterCombination")


def _disk_failure(declared, info):
    """AWS's "Disk validation failed [...]" wording for an object whose
    content does not match its declared Format, or None when it does."""
    found = info["format"]
    if declared == "VMDK" and (found != "VMDK" or not info.get("stream_optimized")):
        return "ClientError: Disk validation failed [Unsupported VMDK File Format]"
    if declared == "OVA":
        if found != "OVA" or not info.get("has_ovf"):
            return ("ClientError: Disk validation failed [OVF file parsing error: "
                    "no OVF descriptor found in the OVA]")
        if info.get("chunked"):
            return ("ClientError: Disk validation failed [OVF file parsing error: "
                    "OVA with chunked disk files is not supported]")
        return None
    if declared in ("VHD", "VHDX") and found != declared:
        return f"ClientError: Disk validation failed [Unsupported {declared} File Format]"
    if declared == "VHD" and info.get("vhd_type") == "differencing":
        return "ClientError: Disk validation failed [Unsupported VHD File Format]"
    if declared == "RAW" and found not in ("RAW", "VHD", "ISO"):
        return "ClientError: Disk validation failed [Unsupported RAW File Format]"
    if found == "ISO":
        return UNKNOWN_OS
    return None


def _decode(emu, task, path, info):
    """A streamOptimized VMDK (alone or in an OVA) becomes the snapshot's
    RAW bytes, as VM Import converts it: (path of the disk, problem)."""
    member = image_convert.vmdk_member(path, info)
    if not member:
        return path, None
    dst = emu.store.path("disks", task["image_id"])
    try:
        with open(path, "rb") as f:
            task["virtual_size"] = vmdk_stream.decode(f, member[0], member[1], dst)
        return dst, None
    except (vmdk_stream.VmdkError, struct.error) as e:
        tasks.drop_disk(dst)
        task["vmdk_error"] = str(e)
        return path, "ClientError: Disk validation failed [Unsupported VMDK File Format]"


def _plan(emu, task, path, declared):
    """Decide from the content (or a forced outcome) how the task ends;
    returns the path of the disk the snapshot holds once decoded."""
    info = image_sniff.detect(path)
    task["virtual_size"] = info.get("virtual_size") or info["size"]
    forced = emu.take_forced("import")  # taken even when the content decides
    problem = _disk_failure(declared, info)
    disk = path
    if not problem:
        disk, problem = _decode(emu, task, path, info)
    if problem:
        task["fail"] = {"at": "validated", "message": problem}
    else:
        family, why = image_sniff.detect_os(disk, None if disk != path else info)
        task["os_evidence"] = why
        if family is None:
            task["fail"] = {"at": "updating", "message": UNKNOWN_OS}
        task["detected_platform"] = family or task.get("Platform")
    if forced:
        _apply_forced(task, forced)
    return disk


def _apply_forced(task, forced):
    """Control API: {"outcome": "fail"|"stall"|"succeed", "message", "stage",
    "platform"}."""
    outcome = forced.get("outcome", "fail")
    if outcome == "succeed":
        task["fail"] = None
        task["detected_platform"] = task.get("detected_platform") or "Linux"
    elif outcome in ("fail", "stall"):
        stage = forced.get("stage", "updating" if outcome == "fail" else "converting")
        task["fail"] = {"at": stage, "outcome": outcome, "message": forced.get(
            "message", UNKNOWN_OS)}
    if forced.get("platform"):
        task["detected_platform"] = forced["platform"]


def import_image(emu, req):
    p = req.params
    _check_request(p)
    disks = _disks(p)
    role = p.get("RoleName") or "vmimport"
    common.dry_run(req, "ImportImage")
    with emu.store.lock:
        earlier = by_token(emu, "import_tasks", p.get("ClientToken"), p)
        if earlier:
            return ec2_response("ImportImage", render_import(emu, earlier, first=True))
    from . import s3
    for d in disks:
        role_check(emu, role, d["S3Bucket"])
        head = s3.head(emu, d["S3Bucket"], d["S3Key"])
        if head is None:
            raise bad(f"The given S3 object s3://{d['S3Bucket']}/{d['S3Key']} does not exist "
                      "or is not accessible.")
        if not head.get("size"):
            raise bad("Parameter disk-image-size=0 has an invalid format.")
        d["path"], d["size"] = head["path"], head["size"]
    quota.admit(emu, req.region, "import")
    task = _new_import(emu, p, disks, role, req.region)
    return ec2_response("ImportImage", render_import(emu, task, first=True))


def _new_import(emu, p, disks, role, region):
    tid = new_id("import-ami")
    task = {"ImportTaskId": tid, "created": time.time(), "RoleName": role, "region": region,
            "Description": p.get("Description"), "LicenseType": p.get("LicenseType"),
            "UsageOperation": p.get("UsageOperation"), "Platform": p.get("Platform"),
            "Architecture": p.get("Architecture"), "BootMode": p.get("BootMode"),
            "Hypervisor": p.get("Hypervisor"), "KmsKeyId": p.get("KmsKeyId"),
            "Encrypted": str(p.get("Encrypted", "")).lower() == "true",
            "client_token": p.get("ClientToken"), "fingerprint": fingerprint(p),
            "image_id": new_id("ami"), "snapshot_id": new_id("snap"), "fail": None,
            "disks": [{k: v for k, v in d.items() if k != "path"} for d in disks]}
    disk = _plan(emu, task, disks[0]["path"], disks[0]["Format"])
    if task["KmsKeyId"]:
        _check_kms(emu, task)
    task["detected_arch"] = task["Architecture"] or "x86_64"
    task["disk_path"] = disk if disk != disks[0]["path"] else \
        tasks.keep_disk(emu, disk, task["image_id"])
    tags = common.tag_specs(p, "import-image-task")
    try:
        with emu.store.lock:
            quota.admit(emu, region, "import")
            emu.store.table("import_tasks")[tid] = task
            emu.store.save("import_tasks")
    except ServiceError:
        tasks.drop_disk(task["disk_path"])
        raise
    if tags:
        common.set_tags(emu, tid, tags)
    return task


def _snapshot_detail(task, d, status, stage):
    conv = stage >= tasks.stage_index("converting") or status == "completed"
    snap_done = stage >= tasks.stage_index("updating") or status == "completed"
    out = (x("deviceName", d.get("DeviceName") or "/dev/sda1") +
           (x("description", d["Description"]) if d.get("Description") else "") +
           x("diskImageSize", f"{float(d['size'] if conv else 0)}") +
           x("format", "VMDK" if d["Format"] == "OVA" else d["Format"]))  # as AWS shows OVAs
    if stage >= tasks.stage_index("preparing ami") or status == "completed":
        out += x("snapshotId", task["snapshot_id"])
    if status in ("completed", "active"):
        out += x("status", "completed" if snap_done else "active")
    else:
        out += x("status", "completed" if snap_done else "deleted")
    if d.get("Url"):
        out += x("url", d["Url"])
    return out + x("userBucket", [x("s3Bucket", d["S3Bucket"]), x("s3Key", d["S3Key"])])


def render_import(emu, task, first=False):
    """One import task's XML body (ImportImage response or Describe item)."""
    status, msg, progress, stage = tasks.import_state(emu, task)
    shown = status == "completed" or stage >= tasks.stage_index("booting")
    out = x("importTaskId", task["ImportTaskId"])
    if shown and task.get("detected_platform"):
        out += x("platform", task["detected_platform"])
    if shown:
        out += x("architecture", task["detected_arch"])
    for k in ("Description", "LicenseType", "UsageOperation", "Hypervisor", "KmsKeyId"):
        if task.get(k):
            out += x(k[0].lower() + k[1:], task[k])
    if task.get("Encrypted"):
        out += x("encrypted", True)
    if task.get("BootMode"):
        out += x("bootMode", task["BootMode"])
    if status == "completed":
        out += x("imageId", task["image_id"])
    out += x("status", status)
    if msg:
        out += x("statusMessage", msg)
    if progress is not None:
        out += x("progress", progress)
    out += items("snapshotDetailSet", [_snapshot_detail(task, d, status, stage)
                                       for d in task["disks"]])
    return out + common.tag_set(common.resource_tags(emu, task["ImportTaskId"]))


def describe_import_image_tasks(emu, req):
    return describe(emu, req, "import_tasks", "ImportTaskId", "Filters", tasks.import_state,
                     lambda t: bad(f"The import task ID '{t}' does not exist",
                                   "InvalidConversionTaskId"),
                     render_import, "DescribeImportImageTasks", "importImageTaskSet")


def cancel_import_task(emu, req):
    p = req.params
    tid = p.get("ImportTaskId")
    if not tid:
        raise bad("The request must contain the parameter ImportTaskId", "MissingParameter")
    common.dry_run(req)
    tasks.refresh(emu)
    with emu.store.lock:
        task = emu.store.table("import_tasks").get(tid)
        if task is None:
            raise bad(f"The import task ID '{tid}' does not exist", "InvalidConversionTaskId")
        status = tasks.import_state(emu, task)[0]
        if status != "active":
            raise bad(f"The import task {tid} cannot be cancelled: it is {status}.",
                      "IncorrectState")
        task["cancelled"] = time.time()
        task["cancel_message"] = p.get("CancelReason") or "Cancelled by user"
        emu.store.save("import_tasks")
    tasks.refresh(emu)
    return ec2_response("CancelImportTask", x("importTaskId", tid) +
                        x("previousState", "active") + x("state", "deleting"))


OPERATIONS = {
    "ImportImage": import_image,
    "DescribeImportImageTasks": describe_import_image_tasks,
    "CancelImportTask": cancel_import_task,
}
