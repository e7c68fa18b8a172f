"""The VM Import/Export task state machines (aws-facts.md §1, §2).

A task stores only what was asked and when (real time); its state is
computed on every read from the emulated time since then
(emu.emulated_elapsed, scaled by --speed), so a restarted emulator picks
up where it was.  What a task does when it finishes (an import creates
the AMI and snapshot, an export writes the S3 object) happens the first
time anyone observes it finished: refresh(emu) runs before every read.

Failures are planned at creation ("fail": {"at": stage, "message"}) and
surface only when the task reaches that stage, as AWS reports them.

Tables: "import_tasks" and "export_tasks", id -> record (see new_import /
new_export for the fields)."""
import os
import shutil

from . import ec2_common as common

# (StatusMessage, emulated seconds, Progress at start, Progress at end)
IMPORT_STAGES = (
    ("pending", 30, 2, 2),
    ("validating", 60, 3, 5),
    ("validated", 30, 6, 6),
    ("converting", 600, 7, 30),
    ("updating", 300, 31, 45),
    ("booting", 420, 46, 59),
    ("booted", 60, 60, 65),
    ("preparing ami", 300, 66, 85),
)  # about 30 emulated minutes in all
EXPORT_STAGES = (
    ("validating", 60, 0, 0),
    ("updating", 600, 21, 60),
    ("converting", 240, 85, 85),
)  # about 15 minutes, like a 20 GiB VHD export
DELETING_SECONDS = 30
RETENTION_SECONDS = 7 * 86400  # Describe shows finished tasks for 7 days
STAGE_NAMES = [s[0] for s in IMPORT_STAGES]


def stage_index(name):
    return STAGE_NAMES.index(name)


def compute(stages, task, elapsed):
    """(Status, StatusMessage, Progress, stage index) at `elapsed` emulated
    seconds: active/<stage>/<n>, completed, or deleted with the planned
    failure message once the failing stage is reached."""
    fail = task.get("fail") or {}
    start = 0.0
    for i, (name, dur, p0, p1) in enumerate(stages):
        if fail.get("at") == name and elapsed >= start:
            if fail.get("outcome") == "stall":
                return "active", name, str(p0), i
            return "deleted", fail["message"], None, i
        if elapsed < start + dur:
            progress = p0 + int((p1 - p0) * (elapsed - start) / dur)
            return "active", name, str(progress), i
        start += dur
    return "completed", None, None, len(stages)


def total(stages):
    return sum(s[1] for s in stages)


def state(emu, task, stages):
    """The task's state now, cancellation included."""
    cancelled = task.get("cancelled")
    if cancelled is not None:
        msg = task.get("cancel_message", "Cancelled by user")
        if emu.emulated_elapsed(cancelled) < DELETING_SECONDS:
            return "deleting", msg, None, -1
        return "deleted", msg, None, -1
    return compute(stages, task, emu.emulated_elapsed(task["created"]))


def import_state(emu, task):
    return state(emu, task, IMPORT_STAGES)


def export_state(emu, task):
    return state(emu, task, EXPORT_STAGES)


def visible(emu, task, status):
    """Finished tasks drop out of Describe after the retention period."""
    if status in ("active", "deleting"):
        return True
    return emu.emulated_elapsed(task["created"]) < RETENTION_SECONDS + 3600


# --- disks: the bytes an AMI or snapshot stands for -----------------------

def keep_disk(emu, src, name):
    """A private copy of `src` under the state dir (a hard link when the
    filesystem allows it: S3 replaces objects, it never rewrites them)."""
    dst = emu.store.path("disks", name)
    if os.path.exists(dst):
        os.unlink(dst)
    try:
        os.link(src, dst)
    except OSError:
        shutil.copyfile(src, dst)
    return dst


def drop_disk(path):
    if path and os.path.exists(path):
        os.unlink(path)


# --- finishing tasks ------------------------------------------------------

def refresh(emu):
    """Carry out the side effects of every task that has finished since it
    was last looked at.  Idempotent; cheap when nothing changed."""
    with emu.store.lock:
        _refresh_imports(emu)
        _refresh_exports(emu)


def _refresh_imports(emu):
    table = emu.store.table("import_tasks")
    dirty = False
    for task in table.values():
        if task.get("finished"):
            continue
        status = import_state(emu, task)[0]
        if status == "completed":
            _finish_import(emu, task)
        elif status in ("deleting", "deleted"):
            drop_disk(task.get("disk_path"))
        else:
            continue
        task["finished"] = status
        dirty = True
    if dirty:
        emu.store.save("import_tasks")


def _finish_import(emu, task):
    """The AMI and its snapshot, as VM Import registers them."""
    from . import ec2_images
    snap_path = keep_disk(emu, task["disk_path"], task["snapshot_id"])
    size = os.path.getsize(task["disk_path"])
    gib = max(1, -(-task.get("virtual_size", size) // (1 << 30)))
    ec2_images.add_snapshot(emu, {
        "SnapshotId": task["snapshot_id"], "VolumeSize": gib, "disk_path": snap_path,
        "Description": f"Created by AWS-VMImport service for {task['ImportTaskId']}",
        "Encrypted": task.get("Encrypted", False), "KmsKeyId": task.get("KmsKeyId")})
    platform = task.get("detected_platform")
    ec2_images.add_image(emu, {
        "ImageId": task["image_id"], "Name": task["ImportTaskId"],
        "Description": task.get("Description") or
        f"AWS-VMImport service: {task['disks'][0].get('S3Key', '')}",
        "State": "available", "Platform": "windows" if platform == "Windows" else None,
        "Architecture": task.get("detected_arch", "x86_64"),
        "BootMode": task.get("BootMode") or "legacy-bios",
        "disk_path": task["disk_path"], "disk_format": task["disks"][0]["Format"],
        "Encrypted": task.get("Encrypted", False), "source": "import",
        "import_task_id": task["ImportTaskId"], "region": task.get("region"),
        "BlockDeviceMappings": [ec2_images.ebs_mapping(
            "/dev/sda1", task["snapshot_id"], gib, task.get("Encrypted", False))]})


def _refresh_exports(emu):
    table = emu.store.table("export_tasks")
    dirty = False
    for task in table.values():
        if task.get("finished"):
            continue
        status = export_state(emu, task)[0]
        if status == "completed":
            problem = _finish_export(emu, task)
            if problem:  # the write failed: the task fails at its last stage
                task["fail"] = {"at": EXPORT_STAGES[-1][0], "message": problem}
                status = "deleted"
        elif status not in ("deleting", "deleted"):
            continue
        task["finished"] = status
        dirty = True
    if dirty:
        emu.store.save("export_tasks")


def _finish_export(emu, task):
    """Write <prefix>export-ami-<id>.<fmt> through the S3 module; None on
    success, else the failure message."""
    from . import ec2_images, s3
    image = ec2_images.get_image(emu, task["ImageId"], refresh_tasks=False)
    if image is None or not image.get("disk_path") or not os.path.exists(image["disk_path"]):
        return "ClientError: The image no longer exists."
    if not s3.bucket_exists(emu, task["S3Bucket"]):
        return f"ClientError: The S3 bucket {task['S3Bucket']} does not exist."
    tmp = emu.store.path("disks", "export-" + task["ExportImageTaskId"])
    try:
        src = ec2_images.export_bytes(image, task["DiskImageFormat"], tmp)
        s3.put_file(emu, task["S3Bucket"], task["key"], src,
                    metadata={"vmie-export-task": task["ExportImageTaskId"]})
    finally:
        drop_disk(tmp)
        drop_disk(tmp + ".raw")
    return None


def export_key(task_id, prefix, fmt):
    """AWS's object key: the prefix verbatim, the task id, the format."""
    return f"{prefix or ''}{task_id}.{fmt.lower()}"


def counts(emu, kind):
    """{Status: [ids]} for the control API's state dump."""
    refresh(emu)
    fn = import_state if kind == "import_tasks" else export_state
    out = {}
    with emu.store.lock:
        for tid, task in sorted(emu.store.table(kind).items()):
            out.setdefault(fn(emu, task)[0], []).append(tid)
    return out


def tags_of(emu, rid):
    return common.resource_tags(emu, rid)
