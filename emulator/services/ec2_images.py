"""AMIs and EBS snapshots: DescribeImages, RegisterImage, CreateImage,
DeregisterImage, CreateSnapshot, DescribeSnapshots, DeleteSnapshot, plus
the VM Import/Export operations of ec2_vmie (merged into OPERATIONS).

Every AMI and snapshot stands for real bytes: "disk_path", a private
file under <state>/disks/ (hard-linked from the S3 object an import read,
or from the AMI an instance was launched from).  For a RAW import those
are the disk's bytes; for other formats the object's bytes are kept
unconverted (documented) and converted on export.

Tables (id -> record):
  "images"     {"ImageId", "Name", "Description", "State" (pending|available),
                "Platform" ("windows"|None), "Architecture", "BootMode",
                "EnaSupport", "RootDeviceName", "BlockDeviceMappings"
                [{"DeviceName", "Ebs": {"SnapshotId", "VolumeSize", ...}}],
                "disk_path", "disk_format", "Encrypted", "created" (real ts),
                "pending_seconds", "source" (import|create|register),
                "sanbootable" (CreateImage from an instance that ran it)}
  "snapshots"  {"SnapshotId", "VolumeSize", "Description", "State"
                (pending|completed), "pending_seconds", "Encrypted", "disk_path",
                "created"}"""
import os
import re
import time

from .. import image_convert, image_sniff
from ..protocol import ServiceError, ec2_response, items, x
from ..store import new_id
from . import ec2_common as common
from . import ec2_tasks as tasks
from . import ec2_vmie

CREATE_IMAGE_SECONDS = 120  # CreateImage: pending this long (emulated), then available
CREATE_SNAPSHOT_SECONDS = 60  # CreateSnapshot: pending, then completed
NAME_RE = re.compile(r"^[A-Za-z0-9()\[\] ./\-'@_]{3,128}$")


# --- records and helpers other modules use --------------------------------

def ebs_mapping(device, snapshot_id, gib, encrypted=False):
    return {"DeviceName": device, "Ebs": {"SnapshotId": snapshot_id, "VolumeSize": gib,
                                          "DeleteOnTermination": True, "VolumeType": "gp2",
                                          "Encrypted": bool(encrypted)}}


def add_image(emu, rec):
    rec = dict(rec)
    rec.setdefault("created", time.time())
    for k, v in (("RootDeviceName", "/dev/sda1"), ("EnaSupport", True),
                 ("Architecture", "x86_64"), ("BootMode", "legacy-bios"),
                 ("pending_seconds", 0)):
        rec.setdefault(k, v)
    with emu.store.lock:
        emu.store.table("images")[rec["ImageId"]] = rec
        emu.store.save("images")
    return rec


def add_snapshot(emu, rec):
    rec = dict(rec)
    rec.setdefault("State", "completed")
    rec.setdefault("created", time.time())
    with emu.store.lock:
        emu.store.table("snapshots")[rec["SnapshotId"]] = rec
        emu.store.save("snapshots")
    return rec


def _advance(emu, rec):
    """pending -> available once its emulated time has passed."""
    if rec.get("State") == "pending" and \
            emu.emulated_elapsed(rec["created"]) >= rec.get("pending_seconds", 0):
        rec["State"] = "available"
        emu.store.save("images")


def get_image(emu, image_id, refresh_tasks=True):
    """The AMI record (a copy, state brought up to date) or None."""
    if refresh_tasks:
        tasks.refresh(emu)
    with emu.store.lock:
        rec = emu.store.table("images").get(image_id)
        if rec is None:
            return None
        _advance(emu, rec)
        return dict(rec)


def image_exists(emu, image_id):
    return get_image(emu, image_id) is not None


def export_bytes(image, fmt, tmp):
    """The path of the AMI's disk in format `fmt` (for RAW from a RAW
    import: the very bytes imported)."""
    info = image_sniff.detect(image["disk_path"])
    return image_convert.convert(image["disk_path"], info, fmt, tmp)


def _bad(code, message):
    return ServiceError(code, message, 400)


# --- images ---------------------------------------------------------------

def _render_image(emu, img):
    bdms = []
    for m in img.get("BlockDeviceMappings", []):
        ebs = m.get("Ebs", {})
        bdms.append(x("deviceName", m["DeviceName"]) + x("ebs", [
            x("deleteOnTermination", ebs.get("DeleteOnTermination", True)),
            x("snapshotId", ebs.get("SnapshotId")), x("volumeSize", ebs.get("VolumeSize", 8)),
            x("volumeType", ebs.get("VolumeType", "gp2")),
            x("encrypted", ebs.get("Encrypted", False))] +
            ([x("kmsKeyId", ebs["KmsKeyId"])] if ebs.get("KmsKeyId") else [])))
    out = (x("imageId", img["ImageId"]) +
           x("imageLocation", f"{emu.account}/{img.get('Name', '')}") +
           x("imageState", img["State"]) +
           x("imageOwnerId", img.get("OwnerId") or emu.account) +
           x("creationDate", common.iso(img["created"])) + x("isPublic", False) +
           x("architecture", img["Architecture"]) + x("imageType", "machine"))
    if img.get("Platform"):
        out += x("platform", img["Platform"])
    out += x("platformDetails", "Windows" if img.get("Platform") else "Linux/UNIX")
    out += x("usageOperation", "RunInstances:0002" if img.get("Platform") else "RunInstances")
    if img.get("Name"):
        out += x("name", img["Name"])
    if img.get("Description"):
        out += x("description", img["Description"])
    return out + (x("rootDeviceType", "ebs") + x("rootDeviceName", img["RootDeviceName"]) +
                  items("blockDeviceMapping", bdms) + x("virtualizationType", "hvm") +
                  common.tag_set(common.resource_tags(emu, img["ImageId"])) +
                  x("hypervisor", "xen") + x("enaSupport", bool(img.get("EnaSupport"))) +
                  # An AMI registered without a boot mode has none (EC2
                  # then boots it the instance type's default way).
                  (x("bootMode", img["BootMode"]) if img.get("BootMode") else ""))


IMAGE_FILTERS = {"name": "Name", "state": "State", "image-id": "ImageId",
                 "architecture": "Architecture", "platform": "Platform",
                 "description": "Description", "boot-mode": "BootMode"}


def _matches(rec, flt, fields, tags):
    for name, values in flt.items():
        if name in fields:
            if not any(common._glob(rec.get(fields[name]) or "", v) for v in values):
                return False
        elif name == "owner-id" and not set(values) & {rec.get("OwnerId"), None}:
            return False
    return common.tags_match(tags, flt)


def describe_images(emu, req):
    p = req.params
    common.dry_run(req)
    tasks.refresh(emu)
    ids = common.indexed(p, "ImageId")
    owners = set(common.indexed(p, "Owner"))
    flt = common.filters(p, "Filter")
    with emu.store.lock:
        table = emu.store.table("images")
        missing = [i for i in ids if i not in table]
        if missing:
            raise common.not_found("InvalidAMIID.NotFound", ",".join(missing))
        if owners and not owners & {"self", emu.account}:
            chosen = []  # amazon / aws-marketplace AMIs: none in the emulator
        else:
            chosen = [table[i] for i in ids] if ids else list(table.values())
        out = []
        for rec in chosen:
            _advance(emu, rec)
            if rec.get("region", req.region) != req.region:
                continue
            if _matches(rec, flt, IMAGE_FILTERS, common.resource_tags(emu, rec["ImageId"])):
                out.append(_render_image(emu, rec))
    return ec2_response("DescribeImages", items("imagesSet", out))


def _check_name(emu, name):
    if not name:
        raise _bad("MissingParameter", "The request must contain the parameter name")
    if not NAME_RE.match(name):
        raise _bad("InvalidAMIName.Malformed", "AMI names must be between 3 and 128 "
                   "characters long, and may contain letters, numbers, '(', ')', '.', '-', "
                   "'/' and '_'")
    for rec in emu.store.table("images").values():
        if rec.get("Name") == name:
            raise _bad("InvalidAMIName.Duplicate",
                       f"AMI name {name} is already in use by AMI {rec['ImageId']}")


def _instance_state(emu, inst):
    from . import ec2_instances
    return ec2_instances.state_of(emu, inst)


def create_image(emu, req):
    """A new AMI from an instance's root disk.  The emulator's instances
    never change their bytes, so the AMI's disk is the source AMI's disk
    (marked "sanbootable" when the instance recorded a successful install)."""
    p = req.params
    iid = p.get("InstanceId")
    if not iid:
        raise _bad("MissingParameter", "The request must contain the parameter InstanceId")
    common.dry_run(req)
    tasks.refresh(emu)
    with emu.store.lock:
        inst = emu.store.table("instances").get(iid)
        if inst is None:
            raise common.not_found("InvalidInstanceID.NotFound", iid)
        state = _instance_state(emu, inst)
        if state not in ("running", "stopped", "stopping"):
            raise _bad("IncorrectInstanceState", f"The instance '{iid}' is not in a state "
                       f"from which it can be imaged (state: {state}).")
        _check_name(emu, p.get("Name"))
        base = emu.store.table("images").get(inst.get("ImageId"))
        if base is None or not os.path.exists(base.get("disk_path", "")):
            raise _bad("InvalidAMIID.NotFound",
                       f"The image id '[{inst.get('ImageId')}]' of instance {iid} no longer exists")
        ami, snap = new_id("ami"), new_id("snap")
        gib = base["BlockDeviceMappings"][0]["Ebs"]["VolumeSize"] \
            if base.get("BlockDeviceMappings") else 8
        add_snapshot(emu, {"SnapshotId": snap, "VolumeSize": gib,
                           "Description": f"Created by CreateImage({iid}) for {ami}",
                           "disk_path": tasks.keep_disk(emu, base["disk_path"], snap),
                           "Encrypted": base.get("Encrypted", False)})
        add_image(emu, {
            "ImageId": ami, "Name": p["Name"], "Description": p.get("Description"),
            "State": "pending", "pending_seconds": CREATE_IMAGE_SECONDS,
            "Platform": base.get("Platform"), "Architecture": base.get("Architecture"),
            "BootMode": base.get("BootMode"), "EnaSupport": base.get("EnaSupport", True),
            "RootDeviceName": base.get("RootDeviceName", "/dev/sda1"),
            "BlockDeviceMappings": [ebs_mapping(base.get("RootDeviceName", "/dev/sda1"), snap,
                                                gib, base.get("Encrypted", False))],
            "disk_path": tasks.keep_disk(emu, base["disk_path"], ami),
            "disk_format": base.get("disk_format", "RAW"), "Encrypted": base.get("Encrypted"),
            "source": "create", "source_instance": iid, "region": req.region,
            "NoReboot": p.get("NoReboot") == "true",
            "sanbootable": bool(inst.get("sanbootable"))})
    for rtype, rid in (("image", ami), ("snapshot", snap)):
        tags = common.tag_specs(p, rtype)
        if tags:
            common.set_tags(emu, rid, tags)
    return ec2_response("CreateImage", x("imageId", ami))


def register_image(emu, req):
    """An AMI from an existing snapshot (BlockDeviceMapping.N.Ebs.SnapshotId)."""
    p = req.params
    common.dry_run(req)
    root = p.get("RootDeviceName", "/dev/sda1")
    maps = common.structs(p, "BlockDeviceMapping")
    snaps = emu.store.table("snapshots")
    with emu.store.lock:
        _check_name(emu, p.get("Name"))
        root_map = next((m for m in maps if m.get("DeviceName") == root), maps[0] if maps else None)
        sid = (root_map or {}).get("Ebs.SnapshotId")
        if not sid:
            raise _bad("InvalidBlockDeviceMapping",
                       "The root device must be an EBS volume with a SnapshotId")
        snap = snaps.get(sid)
        if snap is None:
            raise common.not_found("InvalidSnapshot.NotFound", sid)
        ami = new_id("ami")
        gib = int(root_map.get("Ebs.VolumeSize") or snap["VolumeSize"])
        add_image(emu, {
            "ImageId": ami, "Name": p["Name"], "Description": p.get("Description"),
            "State": "available", "Architecture": p.get("Architecture", "x86_64"),
            "BootMode": p.get("BootMode"),
            "EnaSupport": p.get("EnaSupport", "true") == "true", "RootDeviceName": root,
            "BlockDeviceMappings": [ebs_mapping(root, sid, gib, snap.get("Encrypted"))],
            "disk_path": tasks.keep_disk(emu, snap["disk_path"], ami),
            "Encrypted": snap.get("Encrypted", False), "source": "register",
            "region": req.region})
    return ec2_response("RegisterImage", x("imageId", ami))


def deregister_image(emu, req):
    iid = req.params.get("ImageId", "")
    if not iid.startswith("ami-"):
        raise _bad("InvalidAMIID.Malformed", f'Invalid id: "{iid}" (expecting "ami-...")')
    common.dry_run(req)
    tasks.refresh(emu)
    with emu.store.lock:
        rec = emu.store.table("images").pop(iid, None)
        if rec is None:
            raise common.not_found("InvalidAMIID.NotFound", iid)
        emu.store.save("images")
    tasks.drop_disk(rec.get("disk_path"))
    common.delete_tags(emu, iid)
    return ec2_response("DeregisterImage", x("return", True))


# --- snapshots ------------------------------------------------------------

def _advance_snapshot(emu, s):
    """CreateSnapshot's snapshot is pending for a while (emulated time)."""
    if s.get("State") == "pending" and \
            emu.emulated_elapsed(s["created"]) >= s.get("pending_seconds", 0):
        s["State"] = "completed"
        emu.store.save("snapshots")


def _render_snapshot(emu, s):
    pending = s["State"] == "pending"
    return (x("snapshotId", s["SnapshotId"]) + x("volumeId", s.get("VolumeId", "vol-ffffffff")) +
            x("status", s["State"]) + x("startTime", common.iso(s["created"])) +
            x("progress", "" if pending else "100%") + x("ownerId", emu.account) +
            x("volumeSize", s["VolumeSize"]) + x("description", s.get("Description") or "") +
            x("encrypted", bool(s.get("Encrypted"))) + x("storageTier", "standard") +
            common.tag_set(common.resource_tags(emu, s["SnapshotId"])))


def describe_snapshots(emu, req):
    p = req.params
    common.dry_run(req)
    tasks.refresh(emu)
    ids = common.indexed(p, "SnapshotId")
    flt = common.filters(p, "Filter")
    fields = {"snapshot-id": "SnapshotId", "status": "State", "description": "Description"}
    with emu.store.lock:
        table = emu.store.table("snapshots")
        for sid in ids:
            if sid not in table:
                raise common.not_found("InvalidSnapshot.NotFound", sid)
        chosen = [table[i] for i in ids] if ids else list(table.values())
        for s in chosen:
            _advance_snapshot(emu, s)
        out = [_render_snapshot(emu, s) for s in chosen
               if _matches(s, flt, fields, common.resource_tags(emu, s["SnapshotId"]))]
    return ec2_response("DescribeSnapshots", items("snapshotSet", out))


def create_snapshot(emu, req):
    """Minimal: a snapshot of a volume the instances module records as
    {"VolumeId", "ImageId"} in table "volumes" (else an empty 8 GiB disk)."""
    p = req.params
    vid = p.get("VolumeId")
    if not vid:
        raise _bad("MissingParameter", "The request must contain the parameter VolumeId")
    common.dry_run(req)
    with emu.store.lock:
        vol = emu.store.table("volumes").get(vid)
        if vol is None:
            raise common.not_found("InvalidVolume.NotFound", vid)
        sid = new_id("snap")
        base = emu.store.table("images").get(vol.get("ImageId") or "")
        if base and os.path.exists(base.get("disk_path", "")):
            path = tasks.keep_disk(emu, base["disk_path"], sid)
        else:
            path = emu.store.path("disks", sid)
            open(path, "wb").close()
        snap = add_snapshot(emu, {"SnapshotId": sid, "VolumeId": vid,
                                  "VolumeSize": int(vol.get("Size", 8)),
                                  "Description": p.get("Description"), "disk_path": path,
                                  "State": "pending",
                                  "pending_seconds": CREATE_SNAPSHOT_SECONDS})
    tags = common.tag_specs(p, "snapshot")
    if tags:
        common.set_tags(emu, sid, tags)
    return ec2_response("CreateSnapshot", _render_snapshot(emu, snap))


def delete_snapshot(emu, req):
    sid = req.params.get("SnapshotId", "")
    common.dry_run(req)
    with emu.store.lock:
        table = emu.store.table("snapshots")
        if sid not in table:
            raise common.not_found("InvalidSnapshot.NotFound", sid)
        for img in emu.store.table("images").values():
            for m in img.get("BlockDeviceMappings", []):
                if m.get("Ebs", {}).get("SnapshotId") == sid:
                    raise _bad("InvalidSnapshot.InUse", f"The snapshot {sid} is currently in "
                               f"use by {img['ImageId']}")
        rec = table.pop(sid)
        emu.store.save("snapshots")
    tasks.drop_disk(rec.get("disk_path"))
    common.delete_tags(emu, sid)
    return ec2_response("DeleteSnapshot", x("return", True))


def dump(emu):
    """For GET /_vmie/state (through ec2's dump)."""
    tasks.refresh(emu)
    with emu.store.lock:
        n = len(emu.store.table("images"))
    return {"import_tasks": tasks.counts(emu, "import_tasks"),
            "export_tasks": tasks.counts(emu, "export_tasks"), "images": n}


OPERATIONS = dict(ec2_vmie._operations(), **{
    "DescribeImages": describe_images,
    "RegisterImage": register_image,
    "CreateImage": create_image,
    "DeregisterImage": deregister_image,
    "CreateSnapshot": create_snapshot,
    "DescribeSnapshots": describe_snapshots,
    "DeleteSnapshot": delete_snapshot,
})
