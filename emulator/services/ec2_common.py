"""Helpers both EC2 modules (ec2_instances, ec2_images) share: request
parameter parsing in the EC2 query style, DryRun, tags and errors.

Shared store tables (each a dict id -> record, mutate under
emu.store.lock, then emu.store.save(table)):

  "tags"       resource id -> {key: value} for any EC2 resource (AMI,
               snapshot, import task, volume, VPC ...).  Instances keep
               their tags here too; use resource_tags()/set_tags().
  "images"     owned by ec2_images: ImageId -> {"ImageId", "State",
               "Platform", "Architecture", "BootMode", "disk_path", ...}.
               ec2_instances only reads it (RunInstances checks ImageId).
  "instances"  owned by ec2_instances: InstanceId -> record ("ImageId",
               "region", "VolumeId", "RootDeviceName", "phase"/"phase_since";
               use ec2_instances.state_of(emu, rec) for the state).  SSM sets
               "sanbootable": True once a script mentioning sanbootable
               succeeded on it (ec2_images' CreateImage reads it).
  "volumes"    written by ec2_instances at launch: VolumeId -> {"VolumeId",
               "ImageId", "Size" (GiB), "InstanceId", "region"}.
  "vpcs", "subnets"  owned by ec2_instances; keyed by id, with "region".
"""
from ..protocol import ServiceError, items, x

MAX_TAGS = 50


def dry_run(req, action=None):
    """EC2 answers DryRun=true with an *error* (412) when the call would
    have succeeded; clients check the permission that way."""
    if str(req.params.get("DryRun", "")).lower() == "true":
        raise ServiceError("DryRunOperation",
                           "Request would have succeeded, but DryRun flag is set.", 412)


def indexed(params, prefix):
    """The values of a query list "Prefix.1", "Prefix.2", ... in index order
    (the CLI numbers from 1 but gaps are tolerated)."""
    found = []
    plen = len(prefix) + 1
    for k, v in params.items():
        if k.startswith(prefix + ".") and k[plen:].isdigit():
            found.append((int(k[plen:]), v))
    return [v for _, v in sorted(found)]


def structs(params, prefix):
    """A list of structures: "Prefix.N.Field[.M...]" -> [{"Field...": v}]
    in index order; the nested keys keep their dotted remainder."""
    groups = {}
    plen = len(prefix) + 1
    for k, v in params.items():
        if not k.startswith(prefix + "."):
            continue
        idx, _, rest = k[plen:].partition(".")
        if idx.isdigit() and rest:
            groups.setdefault(int(idx), {})[rest] = v
    return [groups[i] for i in sorted(groups)]


def filters(params, key="Filter"):
    """{name: [values]} from "Filter.N.Name" / "Filter.N.Value.M"
    (DescribeImportImageTasks spells the prefix "Filters")."""
    out = {}
    for s in structs(params, key):
        name = s.get("Name")
        if name is None:
            continue
        out.setdefault(name, []).extend(indexed(s, "Value"))
    return out


def tag_specs(params, resource_type):
    """Tags of TagSpecification.N whose ResourceType matches:
    [{"Key", "Value"}]."""
    tags = []
    for spec in structs(params, "TagSpecification"):
        if spec.get("ResourceType") != resource_type:
            continue
        for t in structs(spec, "Tag"):
            if "Key" in t:
                tags.append({"Key": t["Key"], "Value": t.get("Value", "")})
    if len(tags) > MAX_TAGS:  # EC2: 50 user tags per resource
        raise ServiceError("TagLimitExceeded", "The maximum number of Tags for a resource "
                           f"has been reached: {len(tags)} tags given, at most {MAX_TAGS}.", 400)
    return tags


def tag_set(tags):
    """<tagSet> for [{"Key","Value"}] or {key: value}."""
    if isinstance(tags, dict):
        tags = [{"Key": k, "Value": v} for k, v in tags.items()]
    return items("tagSet", [x("key", t["Key"]) + x("value", t.get("Value", ""))
                            for t in tags])


def not_found(code, rid):
    """EC2's not-found wording, e.g. InvalidInstanceID.NotFound:
    "The instance ID 'i-...' does not exist"."""
    what = {
        "InvalidInstanceID.NotFound": "instance ID",
        "InvalidAMIID.NotFound": "image id",
        "InvalidSnapshot.NotFound": "snapshot",
        "InvalidVpcID.NotFound": "vpc ID",
        "InvalidSubnetID.NotFound": "subnet ID",
        "InvalidVolume.NotFound": "volume",
        "InvalidConversionTaskId.NotFound": "task ID",
        "InvalidExportTaskID.NotFound": "export task ID",
    }.get(code, "ID")
    if code == "InvalidAMIID.NotFound":
        return ServiceError(code, f"The image id '[{rid}]' does not exist", 400)
    return ServiceError(code, f"The {what} '{rid}' does not exist", 400)


def error(code, message, status=400):
    """Any other EC2 client error (InvalidParameterValue, ...)."""
    return ServiceError(code, message, status)


# --- the shared "tags" table ----------------------------------------------

def resource_tags(emu, rid):
    """{key: value} of one resource (empty when untagged)."""
    with emu.store.lock:
        return dict(emu.store.table("tags").get(rid, {}))


def set_tags(emu, rid, tags):
    """Add/overwrite tags ([{"Key","Value"}] or dict) on a resource."""
    if isinstance(tags, list):
        tags = {t["Key"]: t.get("Value", "") for t in tags}
    with emu.store.lock:
        table = emu.store.table("tags")
        table.setdefault(rid, {}).update(tags)
        emu.store.save("tags")


def delete_tags(emu, rid, keys=None):
    """Remove some keys (or all tags when keys is None)."""
    with emu.store.lock:
        table = emu.store.table("tags")
        if keys is None:
            table.pop(rid, None)
        else:
            for k in keys:
                table.get(rid, {}).pop(k, None)
        emu.store.save("tags")


def tags_match(tags, flt):
    """Apply the tag filters (tag:Key, tag-key, tag-value) of a
    filters() dict to {key: value}; other filter names are ignored."""
    for name, values in flt.items():
        if name.startswith("tag:"):
            if tags.get(name[4:]) not in values and not (
                    name[4:] in tags and any(_glob(tags[name[4:]], v) for v in values)):
                return False
        elif name == "tag-key":
            if not any(_glob(k, v) for k in tags for v in values):
                return False
        elif name == "tag-value":
            if not any(_glob(tv, v) for tv in tags.values() for v in values):
                return False
    return True


def _glob(value, pattern):
    """EC2 filter values accept * and ? wildcards."""
    import fnmatch
    return fnmatch.fnmatchcase(str(value), pattern)


def iso(ts):
    """EC2 timestamps: 2024-01-02T03:04:05.000Z."""
    import time
    return time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime(ts))
