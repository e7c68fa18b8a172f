"""The EC2 service as the server sees it: one query-protocol module whose
operations come from ec2_instances (instances, VPCs, tags) and, when it
is present, ec2_images (import/export, AMIs, snapshots)."""
from . import ec2_instances, ec2_quota

try:
    from . import ec2_images
except ImportError:  # built in parallel; the instance half works alone
    ec2_images = None

PROTOCOL = "ec2"
STREAMING = False

OPERATIONS = dict(ec2_instances.OPERATIONS)
if ec2_images is not None:
    OPERATIONS.update(getattr(ec2_images, "OPERATIONS", {}))


def dump(emu):
    out = ec2_instances.dump(emu)
    images_dump = getattr(ec2_images, "dump", None)
    if images_dump:
        out.update(images_dump(emu))
    out["task_quota"] = ec2_quota.dump(emu)
    return out


def control(emu, method, route, body):
    """Routes /_vmie/ec2/...: ours first, then the task quota's, then
    ec2_images' own."""
    try:
        return ec2_instances.control(emu, method, route, body)
    except KeyError:
        pass
    try:
        return ec2_quota.control(emu, method, route, body)
    except KeyError:
        images_control = getattr(ec2_images, "control", None)
        if images_control is None:
            raise
        return images_control(emu, method, route, body)
