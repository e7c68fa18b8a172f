"""EC2 instances and the default network: what vmie needs to launch a
temporary instance from an AMI (to install sanbootable through SSM), stop
it and terminate it.

Instance state is never stored as such: a record keeps its current phase
("launch", "start", "stop", "terminate") and the real time the phase
began; the state is computed from the emulated time elapsed, so states
move with --speed and survive a restart of the emulator.

Tables: "instances" id -> record, "ec2_tokens" ClientToken -> launch,
"vpcs", "subnets" id -> record (the default VPC's, and any CreateVpc /
CreateSubnet made), "ec2_regions" region -> {"initialised"}.
Instance tags live in the shared "tags" table (ec2_common).
"""
import hashlib
import json
import random
import re
import time

from ..protocol import ServiceError, ec2_response, items, x
from ..store import new_id
from . import ec2_common as c

# Emulated seconds each transition takes.
PENDING_S = 8
STOPPING_S = 12
SHUTTING_DOWN_S = 10
INSTANCE_LIMIT = 20  # instances not terminated per region

STATE_CODES = {"pending": 0, "running": 16, "shutting-down": 32, "terminated": 48,
               "stopping": 64, "stopped": 80}
# phase -> (transitional state, final state, emulated seconds between)
PHASES = {"launch": ("pending", "running", PENDING_S),
          "start": ("pending", "running", PENDING_S),
          "stop": ("stopping", "stopped", STOPPING_S),
          "terminate": ("shutting-down", "terminated", SHUTTING_DOWN_S)}
AZ_LETTERS = {"us-east-1": "abcdef", "us-west-2": "abcd"}


# --- state --------------------------------------------------------------------

def state_of(emu, inst):
    """The current state name of an instance record."""
    trans, final, seconds = PHASES[inst["phase"]]
    return final if emu.emulated_elapsed(inst["phase_since"]) >= seconds else trans


def running_for(emu, inst):
    """Emulated seconds the instance has been running, or None if it is
    not running (SSM uses this to decide when the agent checks in)."""
    if state_of(emu, inst) != "running":
        return None
    return emu.emulated_elapsed(inst["phase_since"]) - PHASES[inst["phase"]][2]


def _state_xml(name, state):
    return x(name, [x("code", STATE_CODES[state]), x("name", state)])


def get_instance(emu, instance_id):
    """A copy of an instance record (for SSM), or None."""
    with emu.store.lock:
        inst = emu.store.table("instances").get(instance_id)
        return dict(inst) if inst else None


# --- default VPC ----------------------------------------------------------------

def _azs(region):
    return [region + ch for ch in AZ_LETTERS.get(region, "abc")]


def ensure_default_vpc(emu, region):
    """Every account has a default VPC per region until someone deletes
    it; create it (and one subnet per AZ) the first time a region is used."""
    with emu.store.lock:
        regions = emu.store.table("ec2_regions")
        if regions.get(region, {}).get("initialised"):
            return
        vpc_id = new_id("vpc")
        emu.store.table("vpcs")[vpc_id] = {
            "VpcId": vpc_id, "region": region, "CidrBlock": "172.31.0.0/16",
            "IsDefault": True, "DhcpOptionsId": new_id("dopt"),
            "AssociationId": new_id("vpc-cidr-assoc"), "GroupId": new_id("sg")}
        for i, az in enumerate(_azs(region)):
            sid = new_id("subnet")
            emu.store.table("subnets")[sid] = {
                "SubnetId": sid, "VpcId": vpc_id, "region": region, "AvailabilityZone": az,
                "AvailabilityZoneId": f"{region[:2]}{region.split('-')[1][0]}"
                                      f"{region[-1]}-az{i + 1}",
                "CidrBlock": f"172.31.{16 * i}.0/20", "DefaultForAz": True,
                "MapPublicIpOnLaunch": True}
        regions[region] = {"initialised": True}
        for t in ("vpcs", "subnets", "ec2_regions"):
            emu.store.save(t)


def default_vpc(emu, region):
    ensure_default_vpc(emu, region)
    with emu.store.lock:
        for vpc in emu.store.table("vpcs").values():
            if vpc["region"] == region and vpc["IsDefault"]:
                return dict(vpc)
    return None


def delete_default_vpc(emu, region):
    """Control route: the account has no default VPC in this region."""
    ensure_default_vpc(emu, region)
    with emu.store.lock:
        vpcs, subnets = emu.store.table("vpcs"), emu.store.table("subnets")
        gone = [v for v, r in vpcs.items() if r["region"] == region and r["IsDefault"]]
        for vid in gone:
            del vpcs[vid]
            for sid in [s for s, r in subnets.items() if r["VpcId"] == vid]:
                del subnets[sid]
        emu.store.save("vpcs")
        emu.store.save("subnets")
    return {"deleted": gone}


def create_vpc(emu, req):
    """A non-default VPC (no subnets until CreateSubnet)."""
    c.dry_run(req)
    cidr = req.params.get("CidrBlock")
    if not cidr:
        raise ServiceError("MissingParameter", "The request must contain the parameter "
                           "CidrBlock", 400)
    ensure_default_vpc(emu, req.region)
    vpc_id = new_id("vpc")
    rec = {"VpcId": vpc_id, "region": req.region, "CidrBlock": cidr, "IsDefault": False,
           "DhcpOptionsId": new_id("dopt"), "AssociationId": new_id("vpc-cidr-assoc"),
           "GroupId": new_id("sg")}
    with emu.store.lock:
        emu.store.table("vpcs")[vpc_id] = rec
        emu.store.save("vpcs")
    return ec2_response("CreateVpc", x("vpc", [_vpc_xml(emu, rec)]))


def create_subnet(emu, req):
    c.dry_run(req)
    vpc_id, cidr = req.params.get("VpcId"), req.params.get("CidrBlock")
    for name, val in (("VpcId", vpc_id), ("CidrBlock", cidr)):
        if not val:
            raise ServiceError("MissingParameter", f"The request must contain the parameter "
                               f"{name}", 400)
    with emu.store.lock:
        vpc = emu.store.table("vpcs").get(vpc_id)
    if vpc is None or vpc["region"] != req.region:
        raise c.not_found("InvalidVpcID.NotFound", vpc_id)
    azs = _azs(req.region)
    az = req.params.get("AvailabilityZone") or azs[0]
    if az not in azs:
        raise ServiceError("InvalidParameterValue", f"Value ({az}) for parameter "
                           "availabilityZone is invalid.", 400)
    sid = new_id("subnet")
    rec = {"SubnetId": sid, "VpcId": vpc_id, "region": req.region, "AvailabilityZone": az,
           "AvailabilityZoneId": f"{req.region[:2]}{req.region.split('-')[1][0]}"
                                 f"{req.region[-1]}-az{azs.index(az) + 1}",
           "CidrBlock": cidr, "DefaultForAz": False, "MapPublicIpOnLaunch": False}
    with emu.store.lock:
        emu.store.table("subnets")[sid] = rec
        emu.store.save("subnets")
    return ec2_response("CreateSubnet", x("subnet", [_subnet_xml(emu, rec)]))


def _bool(v):
    return str(v).lower() == "true"


def _vpc_xml(emu, v):
    assoc = x("associationId", v["AssociationId"]) + x("cidrBlock", v["CidrBlock"]) + \
        x("cidrBlockState", [x("state", "associated")])
    return "".join([x("vpcId", v["VpcId"]), x("ownerId", emu.account), x("state", "available"),
                    x("cidrBlock", v["CidrBlock"]), items("cidrBlockAssociationSet", [assoc]),
                    x("dhcpOptionsId", v["DhcpOptionsId"]), x("instanceTenancy", "default"),
                    x("isDefault", v["IsDefault"]),
                    c.tag_set(c.resource_tags(emu, v["VpcId"]))])


def describe_vpcs(emu, req):
    c.dry_run(req)
    ensure_default_vpc(emu, req.region)
    ids = c.indexed(req.params, "VpcId")
    flt = c.filters(req.params)
    with emu.store.lock:
        vpcs = [dict(v) for v in emu.store.table("vpcs").values() if v["region"] == req.region]
    for vid in ids:
        if vid not in {v["VpcId"] for v in vpcs}:
            raise c.not_found("InvalidVpcID.NotFound", vid)
    out = []
    for v in vpcs:
        if ids and v["VpcId"] not in ids:
            continue
        fields = {"is-default": str(v["IsDefault"]).lower(), "isDefault":
                  str(v["IsDefault"]).lower(), "vpc-id": v["VpcId"], "state": "available",
                  "cidr": v["CidrBlock"], "cidr-block": v["CidrBlock"]}
        if _match(fields, flt) and c.tags_match(c.resource_tags(emu, v["VpcId"]), flt):
            out.append(_vpc_xml(emu, v))
    return ec2_response("DescribeVpcs", items("vpcSet", out))


def _match(fields, flt):
    """Non-tag filters: each named field must equal one of the values
    (wildcards allowed); unknown filter names are ignored."""
    for name, values in flt.items():
        if name in fields and not any(c._glob(fields[name], v) for v in values):
            return False
    return True


def _subnet_xml(emu, s):
    return "".join([
        x("subnetId", s["SubnetId"]),
        x("subnetArn", f"arn:aws:ec2:{s['region']}:{emu.account}:subnet/{s['SubnetId']}"),
        x("state", "available"), x("ownerId", emu.account), x("vpcId", s["VpcId"]),
        x("cidrBlock", s["CidrBlock"]), "<ipv6CidrBlockAssociationSet/>",
        x("availableIpAddressCount", 4091), x("availabilityZone", s["AvailabilityZone"]),
        x("availabilityZoneId", s["AvailabilityZoneId"]), x("defaultForAz", s["DefaultForAz"]),
        x("mapPublicIpOnLaunch", s["MapPublicIpOnLaunch"]),
        x("assignIpv6AddressOnCreation", False),
        c.tag_set(c.resource_tags(emu, s["SubnetId"]))])


def describe_subnets(emu, req):
    c.dry_run(req)
    ensure_default_vpc(emu, req.region)
    ids = c.indexed(req.params, "SubnetId")
    flt = c.filters(req.params)
    with emu.store.lock:
        subnets = [dict(s) for s in emu.store.table("subnets").values()
                   if s["region"] == req.region]
    for sid in ids:
        if sid not in {s["SubnetId"] for s in subnets}:
            raise c.not_found("InvalidSubnetID.NotFound", sid)
    out = []
    for s in subnets:
        if ids and s["SubnetId"] not in ids:
            continue
        d = str(s["DefaultForAz"]).lower()
        fields = {"default-for-az": d, "defaultForAz": d, "vpc-id": s["VpcId"],
                  "subnet-id": s["SubnetId"], "availability-zone": s["AvailabilityZone"],
                  "availabilityZone": s["AvailabilityZone"], "state": "available",
                  "cidr-block": s["CidrBlock"]}
        if _match(fields, flt) and c.tags_match(c.resource_tags(emu, s["SubnetId"]), flt):
            out.append(_subnet_xml(emu, s))
    return ec2_response("DescribeSubnets", items("subnetSet", out))


# --- RunInstances ----------------------------------------------------------------

def _image(emu, image_id):
    """The AMI record, asked of ec2_images when it is there (it owns the
    "images" table), else read from the table directly."""
    try:
        from . import ec2_images
        getter = getattr(ec2_images, "get_image", None)
    except ImportError:
        getter = None
    if getter:
        return getter(emu, image_id)
    with emu.store.lock:
        img = emu.store.table("images").get(image_id)
        return dict(img) if img else None


def _instance_arch(itype):
    """Graviton families (a1, t4g, m6g, c7gn, r6gd ...) are arm64."""
    family = itype.split(".")[0]
    return "arm64" if family == "a1" or re.fullmatch(r"[a-z]+\d+g[a-z]*", family) \
        else "x86_64"


def _check_image(emu, req, itype):
    image_id = req.params.get("ImageId", "")
    if not image_id:
        raise c.error("MissingParameter", "The request must contain the parameter ImageId")
    if not re.fullmatch(r"ami-[0-9a-f]{8,17}", image_id):
        raise c.error("InvalidAMIID.Malformed",
                      f'Invalid id: "{image_id}" (expecting "ami-...")')
    img = _image(emu, image_id)
    if img is None or img.get("region", req.region) != req.region:
        raise c.not_found("InvalidAMIID.NotFound", image_id)
    if img.get("State", "available") != "available":
        raise c.error("InvalidAMIID.Unavailable", f"The image id '[{image_id}]' is not "
                      "available.")
    img_arch = img.get("Architecture") or "x86_64"
    if img_arch != _instance_arch(itype):
        raise c.error("InvalidParameterValue",
                      f"The architecture '{_instance_arch(itype)}' of the specified instance "
                      f"type does not match the architecture '{img_arch}' of the specified "
                      "AMI. Specify an instance type and an AMI that have matching "
                      "architectures, and try again. You can use 'describe-instance-types' or "
                      "'describe-images' to discover the architecture of the instance type "
                      "or AMI.")
    return img


def _profile(emu, req):
    """IamInstanceProfile.Name or .Arn -> {"Arn", "Id", "Name"} or None."""
    from . import iam
    name = req.params.get("IamInstanceProfile.Name")
    arn = req.params.get("IamInstanceProfile.Arn")
    if not name and not arn:
        return None
    look = name or arn.rsplit("/", 1)[-1]
    prof = iam.get_instance_profile(emu, look)
    if prof is None or (arn and prof["Arn"] != arn):
        if name:
            raise c.error("InvalidParameterValue", f"Value ({name}) for parameter "
                          "iamInstanceProfile.name is invalid. Invalid IAM Instance Profile "
                          "name")
        raise c.error("InvalidParameterValue", f"Value ({arn}) for parameter "
                      "iamInstanceProfile.arn is invalid. Invalid IAM Instance Profile ARN")
    return {"Arn": prof["Arn"], "Id": prof["InstanceProfileId"],
            "Name": prof["InstanceProfileName"]}


def _subnet(emu, req):
    """The subnet to launch in: SubnetId (or NetworkInterface.1.SubnetId),
    else the default subnet of the first AZ (Placement.AvailabilityZone
    honoured); no default VPC -> VPCIdNotSpecified."""
    sid = req.params.get("SubnetId") or req.params.get("NetworkInterface.1.SubnetId")
    ensure_default_vpc(emu, req.region)
    with emu.store.lock:
        subnets = emu.store.table("subnets")
        if sid:
            s = subnets.get(sid)
            if s is None or s["region"] != req.region:
                raise c.not_found("InvalidSubnetID.NotFound", sid)
            return dict(s)
        az = req.params.get("Placement.AvailabilityZone")
        defaults = sorted((s for s in subnets.values()
                           if s["region"] == req.region and s["DefaultForAz"]),
                          key=lambda s: s["AvailabilityZone"])
    if not defaults:
        raise c.error("VPCIdNotSpecified", "No default VPC for this user")
    for s in defaults:
        if az and s["AvailabilityZone"] == az:
            return dict(s)
    return dict(defaults[0])


def _metadata_options(params):
    """MetadataOptions.* as given, with EC2's defaults."""
    return {"HttpTokens": params.get("MetadataOptions.HttpTokens", "optional"),
            "HttpPutResponseHopLimit": int(params.get(
                "MetadataOptions.HttpPutResponseHopLimit", 1)),
            "HttpEndpoint": params.get("MetadataOptions.HttpEndpoint", "enabled"),
            "HttpProtocolIpv6": params.get("MetadataOptions.HttpProtocolIpv6", "disabled"),
            "InstanceMetadataTags": params.get("MetadataOptions.InstanceMetadataTags",
                                               "disabled")}


def _counts(params):
    try:
        lo, hi = int(params.get("MinCount", 1)), int(params.get("MaxCount", 1))
    except ValueError:
        raise c.error("InvalidParameterValue", "MinCount and MaxCount must be integers")
    if lo < 1 or hi < 1:
        raise c.error("InvalidParameterValue", "Invalid value for MinCount/MaxCount: must be "
                      "at least 1")
    if lo > hi:
        raise c.error("InvalidParameterValue", "MinCount must be less than or equal to "
                      "MaxCount")
    return lo, hi


def _live_count(emu, region):
    return sum(1 for i in emu.store.table("instances").values()
               if i["region"] == region and state_of(emu, i) != "terminated")


def _params_digest(params):
    """What identifies a RunInstances call for ClientToken idempotency."""
    keep = {k: v for k, v in params.items()
            if k not in ("ClientToken", "DryRun", "Action", "Version")}
    return hashlib.sha256(json.dumps(keep, sort_keys=True).encode()).hexdigest()


def _idempotent(emu, req):
    """The earlier reservation for this ClientToken, if any."""
    token = req.params.get("ClientToken")
    if not token:
        return None
    with emu.store.lock:
        prior = emu.store.table("ec2_tokens").get(f"{req.region}/{token}")
    if prior is None:
        return None
    if prior["digest"] != _params_digest(req.params):
        raise c.error("IdempotentParameterMismatch", "Arguments on this idempotent request "
                      "are inconsistent with arguments used in previous request(s).")
    return prior


def _new_instance(emu, req, rid, index, img, subnet, profile, itype, meta):
    iid = new_id("i")
    n = random.randint(4, 4090)
    base = subnet["CidrBlock"].split(".")
    ip = f"{base[0]}.{base[1]}.{int(base[2]) + n // 256}.{n % 256}"
    forced = emu.take_forced("ssm-online")
    return {"InstanceId": iid, "ReservationId": rid, "region": req.region,
            "ImageId": img["ImageId"] if "ImageId" in img else req.params["ImageId"],
            "InstanceType": itype, "phase": "launch", "phase_since": emu.now(),
            "LaunchTime": emu.now(), "AmiLaunchIndex": index,
            "SubnetId": subnet["SubnetId"], "VpcId": subnet["VpcId"],
            "AvailabilityZone": subnet["AvailabilityZone"], "PrivateIpAddress": ip,
            "IamInstanceProfile": profile, "UserData": req.params.get("UserData"),
            "MetadataOptions": meta, "KeyName": req.params.get("KeyName"),
            "ClientToken": req.params.get("ClientToken", ""),
            "Architecture": img.get("Architecture") or "x86_64",
            "Platform": img.get("Platform"), "BootMode": img.get("BootMode"),
            "ShutdownBehavior": req.params.get("InstanceInitiatedShutdownBehavior", "stop"),
            "VolumeId": new_id("vol"), "NetworkInterfaceId": new_id("eni"),
            "RootDeviceName": img.get("RootDeviceName") or "/dev/xvda",
            "ssm_forced": forced, "reason": ""}


def _add_volume(emu, inst, img):
    """The root volume, in the "volumes" table ec2_images' CreateSnapshot
    reads: {"VolumeId", "ImageId", "Size" (GiB), "InstanceId", "region"}."""
    bdm = img.get("BlockDeviceMappings") or [{}]
    size = (bdm[0].get("Ebs") or {}).get("VolumeSize", 8)
    emu.store.table("volumes")[inst["VolumeId"]] = {
        "VolumeId": inst["VolumeId"], "ImageId": inst["ImageId"], "Size": size,
        "InstanceId": inst["InstanceId"], "region": inst["region"]}


def run_instances(emu, req):
    c.dry_run(req)
    prior = _idempotent(emu, req)
    if prior:
        return _reservation_response(emu, "RunInstances", prior["ReservationId"],
                                     prior["InstanceIds"])
    itype = req.params.get("InstanceType", "m1.small")
    if not re.fullmatch(r"[a-z][a-z0-9-]*\.[a-z0-9]+", itype):
        raise c.error("InvalidParameterValue", f"Invalid value '{itype}' for InstanceType.")
    img = _check_image(emu, req, itype)
    lo, hi = _counts(req.params)
    profile = _profile(emu, req)
    subnet = _subnet(emu, req)
    meta = _metadata_options(req.params)
    tags = c.tag_specs(req.params, "instance")
    with emu.store.lock:
        room = INSTANCE_LIMIT - _live_count(emu, req.region)
        if room < lo:
            raise c.error("InstanceLimitExceeded", f"You have requested more instances ({lo}) "
                          f"than your current instance limit of {INSTANCE_LIMIT} allows for "
                          "the specified instance type. Please visit "
                          "http://aws.amazon.com/contact-us/ec2-request to request an "
                          "adjustment to this limit.")
        rid = new_id("r")
        table = emu.store.table("instances")
        ids = []
        for index in range(min(hi, room)):
            inst = _new_instance(emu, req, rid, index, img, subnet, profile, itype, meta)
            table[inst["InstanceId"]] = inst
            ids.append(inst["InstanceId"])
            _add_volume(emu, inst, img)
        emu.store.save("instances")
        emu.store.save("volumes")
        if req.params.get("ClientToken"):
            emu.store.table("ec2_tokens")[f"{req.region}/{req.params['ClientToken']}"] = {
                "digest": _params_digest(req.params), "ReservationId": rid,
                "InstanceIds": ids}
            emu.store.save("ec2_tokens")
    for iid in ids:
        if tags:
            c.set_tags(emu, iid, tags)
    return _reservation_response(emu, "RunInstances", rid, ids)


# --- describing instances --------------------------------------------------------

def _instance_xml(emu, inst):
    state = state_of(emu, inst)
    tags = c.resource_tags(emu, inst["InstanceId"])
    ip = inst["PrivateIpAddress"]
    dns = f"ip-{ip.replace('.', '-')}.{inst['region']}.compute.internal"
    group = x("groupName", "default") + x("groupId", _group_id(emu, inst))
    parts = [x("instanceId", inst["InstanceId"]), x("imageId", inst["ImageId"]),
             _state_xml("instanceState", state), x("privateDnsName", dns),
             x("dnsName", ""), x("reason", inst.get("reason", "")),
             x("amiLaunchIndex", inst["AmiLaunchIndex"]), "<productCodes/>",
             x("instanceType", inst["InstanceType"]),
             x("launchTime", c.iso(inst["LaunchTime"])),
             x("placement", [x("availabilityZone", inst["AvailabilityZone"]),
                             x("groupName", ""), x("tenancy", "default")]),
             x("monitoring", [x("state", "disabled")])]
    if inst.get("Platform"):
        parts.append(x("platform", inst["Platform"]))
    if inst.get("KeyName"):
        parts.append(x("keyName", inst["KeyName"]))
    if state != "terminated":
        parts += [x("subnetId", inst["SubnetId"]), x("vpcId", inst["VpcId"]),
                  x("privateIpAddress", ip)]
    parts += [x("sourceDestCheck", True), items("groupSet", [group]),
              x("architecture", inst["Architecture"]), x("rootDeviceType", "ebs"),
              x("rootDeviceName", _root(inst)), _block_devices(emu, inst, state),
              x("virtualizationType", "hvm"), x("clientToken", inst["ClientToken"]),
              c.tag_set(tags), x("hypervisor", "xen")]
    if inst.get("IamInstanceProfile"):
        parts.append(x("iamInstanceProfile", [x("arn", inst["IamInstanceProfile"]["Arn"]),
                                              x("id", inst["IamInstanceProfile"]["Id"])]))
    m = inst["MetadataOptions"]
    parts += [x("ebsOptimized", False), x("enaSupport", True),
              x("metadataOptions", [x("state", "applied"), x("httpTokens", m["HttpTokens"]),
                                    x("httpPutResponseHopLimit", m["HttpPutResponseHopLimit"]),
                                    x("httpEndpoint", m["HttpEndpoint"]),
                                    x("httpProtocolIpv6", m["HttpProtocolIpv6"]),
                                    x("instanceMetadataTags", m["InstanceMetadataTags"])]),
              x("platformDetails", "Windows" if inst.get("Platform") == "windows"
                else "Linux/UNIX")]
    if inst.get("BootMode"):
        parts.append(x("bootMode", inst["BootMode"]))
    if state in ("stopped", "stopping", "terminated", "shutting-down"):
        code = "Client.UserInitiatedShutdown"
        parts.append(x("stateReason", [x("code", code), x("message",
                                                          f"{code}: User initiated shutdown")]))
    return "".join(parts)


def _group_id(emu, inst):
    vpc = emu.store.table("vpcs").get(inst["VpcId"])
    return vpc.get("GroupId", "sg-00000000000000000") if vpc else "sg-00000000000000000"


def _block_devices(emu, inst, state):
    if state == "terminated":
        return "<blockDeviceMapping/>"
    ebs = x("ebs", [x("volumeId", inst["VolumeId"]),
                    x("status", "attached" if state != "pending" else "attaching"),
                    x("attachTime", c.iso(inst["LaunchTime"])),
                    x("deleteOnTermination", True)])
    return items("blockDeviceMapping", [x("deviceName", _root(inst)) + ebs])


def _root(inst):
    return inst.get("RootDeviceName") or "/dev/xvda"


def _reservation_xml(emu, rid, insts):
    return (x("reservationId", rid) + x("ownerId", emu.account) + "<groupSet/>" +
            items("instancesSet", [_instance_xml(emu, i) for i in insts]))


def _reservation_response(emu, action, rid, ids):
    with emu.store.lock:
        table = emu.store.table("instances")
        insts = [dict(table[i]) for i in ids if i in table]
    return ec2_response(action, _reservation_xml(emu, rid, insts))


def _lookup(emu, req, ids):
    """Records for InstanceId.N in this region; EC2's not-found errors."""
    for iid in ids:
        if not re.fullmatch(r"i-[0-9a-f]{8,17}", iid):
            raise c.error("InvalidInstanceID.Malformed", f'Invalid id: "{iid}"')
    with emu.store.lock:
        table = emu.store.table("instances")
        missing = [i for i in ids if i not in table or table[i]["region"] != req.region]
        if len(missing) == 1:
            raise c.not_found("InvalidInstanceID.NotFound", missing[0])
        if missing:
            raise c.error("InvalidInstanceID.NotFound",
                          f"The instance IDs '{', '.join(missing)}' do not exist")
        return [dict(table[i]) for i in ids]


def _instance_fields(emu, inst):
    """Filter names DescribeInstances understands, to their values."""
    return {"instance-state-name": state_of(emu, inst),
            "instance-state-code": str(STATE_CODES[state_of(emu, inst)]),
            "instance-id": inst["InstanceId"], "image-id": inst["ImageId"],
            "instance-type": inst["InstanceType"], "subnet-id": inst["SubnetId"],
            "vpc-id": inst["VpcId"], "reservation-id": inst["ReservationId"],
            "availability-zone": inst["AvailabilityZone"],
            "client-token": inst["ClientToken"],
            "iam-instance-profile.arn": (inst.get("IamInstanceProfile") or {}).get("Arn", ""),
            "private-ip-address": inst["PrivateIpAddress"]}


def describe_instances(emu, req):
    c.dry_run(req)
    ids = c.indexed(req.params, "InstanceId")
    flt = c.filters(req.params)
    if ids:
        insts = _lookup(emu, req, ids)
    else:
        with emu.store.lock:
            insts = [dict(i) for i in emu.store.table("instances").values()
                     if i["region"] == req.region]
    reservations = {}
    for inst in sorted(insts, key=lambda i: (i["LaunchTime"], i["AmiLaunchIndex"])):
        if _match(_instance_fields(emu, inst), flt) and \
                c.tags_match(c.resource_tags(emu, inst["InstanceId"]), flt):
            reservations.setdefault(inst["ReservationId"], []).append(inst)
    body = [_reservation_xml(emu, rid, insts) for rid, insts in reservations.items()]
    return ec2_response("DescribeInstances", items("reservationSet", body))


# --- transitions -------------------------------------------------------------------

def _transition(emu, req, action, phase, allowed):
    """Move each instance to `phase` if its state allows; answer the
    previous and current state of each, as Stop/Start/Terminate do."""
    c.dry_run(req)
    ids = c.indexed(req.params, "InstanceId")
    if not ids:
        raise c.error("MissingParameter", "The request must contain the parameter InstanceId")
    out = []
    with emu.store.lock:
        _lookup(emu, req, ids)
        table = emu.store.table("instances")
        for iid in ids:
            inst = table[iid]
            before = state_of(emu, inst)
            if before not in allowed:
                if phase == "terminate" or PHASES[phase][0] == before or \
                        PHASES[phase][1] == before:
                    out.append((iid, before, before))
                    continue
                raise c.error("IncorrectInstanceState", f"The instance '{iid}' is not in a "
                              f"state from which it can be {_verb(phase)}.")
            inst["phase"], inst["phase_since"] = phase, emu.now()
            # StateTransitionReason, as EC2 words a user's stop/terminate.
            inst["reason"] = "" if phase == "start" else time.strftime(
                "User initiated (%Y-%m-%d %H:%M:%S GMT)", time.gmtime(inst["phase_since"]))
            out.append((iid, before, state_of(emu, inst)))
        emu.store.save("instances")
    body = [x("instanceId", i) + _state_xml("currentState", cur) +
            _state_xml("previousState", prev) for i, prev, cur in out]
    return ec2_response(action, items("instancesSet", body))


def _verb(phase):
    return {"stop": "stopped", "start": "started", "terminate": "terminated"}[phase]


def stop_instances(emu, req):
    return _transition(emu, req, "StopInstances", "stop", {"running"})


def start_instances(emu, req):
    return _transition(emu, req, "StartInstances", "start", {"stopped"})


def terminate_instances(emu, req):
    return _transition(emu, req, "TerminateInstances", "terminate",
                       {"pending", "running", "stopping", "stopped"})


# --- tags and attributes -----------------------------------------------------------

def create_tags(emu, req):
    """Tags on any resource id; instance ids must exist (other kinds are
    checked by their owners, if at all)."""
    c.dry_run(req)
    ids = c.indexed(req.params, "ResourceId")
    tags = [t for t in c.structs(req.params, "Tag") if "Key" in t]
    if not ids:
        raise c.error("MissingParameter", "The request must contain the parameter resourceIdSet")
    _lookup(emu, req, [i for i in ids if i.startswith("i-")])
    for rid in ids:
        c.set_tags(emu, rid, [{"Key": t["Key"], "Value": t.get("Value", "")} for t in tags])
    return ec2_response("CreateTags", x("return", True))


def delete_tags(emu, req):
    c.dry_run(req)
    ids = c.indexed(req.params, "ResourceId")
    keys = [t["Key"] for t in c.structs(req.params, "Tag") if "Key" in t]
    for rid in ids:
        c.delete_tags(emu, rid, keys or None)
    return ec2_response("DeleteTags", x("return", True))


def describe_instance_attribute(emu, req):
    c.dry_run(req)
    iid = req.params.get("InstanceId", "")
    attr = req.params.get("Attribute", "")
    inst = _lookup(emu, req, [iid])[0]
    values = {"userData": inst.get("UserData"), "instanceType": inst["InstanceType"],
              "instanceInitiatedShutdownBehavior": inst["ShutdownBehavior"],
              "rootDeviceName": _root(inst)}
    if attr not in values:
        raise c.error("InvalidParameterValue", f"Value ({attr}) for parameter attribute is "
                      "invalid. Unknown attribute.")
    value = values[attr]
    inner = x("value", value) if value is not None else ""
    return ec2_response("DescribeInstanceAttribute",
                        x("instanceId", iid) + f"<{attr}>{inner}</{attr}>")


# --- module surface ---------------------------------------------------------------

def dump(emu):
    with emu.store.lock:
        insts = {iid: dict(i, state=state_of(emu, i))
                 for iid, i in emu.store.table("instances").items()}
    return {"instances_not_terminated": sorted(i for i, r in insts.items()
                                               if r["state"] != "terminated"),
            "instances": insts}


def seed_image(emu, body):
    """Control route: an available AMI to launch from, without running an
    import first (instance and SSM tests).  Goes through
    ec2_images.add_image when that module is there."""
    ami = body.get("ImageId") or new_id("ami")
    disk = emu.store.path("disks", ami)
    with open(disk, "wb") as f:
        f.truncate(int(body.get("size", 1 << 20)))  # sparse zeros
    img = {"ImageId": ami,
           "region": body.get("region", "us-east-1"), "Name": body.get("Name", "vmie-test"),
           "Description": "seeded by the emulator control API", "State": "available",
           "Architecture": body.get("Architecture", "x86_64"),
           "Platform": body.get("Platform"), "BootMode": body.get("BootMode", "uefi-preferred"),
           "disk_path": disk, "disk_format": "RAW", "BlockDeviceMappings": [],
           "RootDeviceName": "/dev/xvda", "source": "seed"}
    if body.get("State"):
        img["State"] = body["State"]
    if body.get("OwnerId"):
        img["OwnerId"] = body["OwnerId"]
    if body.get("Encrypted"):
        img["Encrypted"] = True
        img["BlockDeviceMappings"] = [{"DeviceName": "/dev/xvda", "Ebs": {
            "SnapshotId": new_id("snap"), "VolumeSize": 8, "DeleteOnTermination": True,
            "VolumeType": "gp3", "Encrypted": True,
            "KmsKeyId": body.get("KmsKeyId") or
            f"arn:aws:kms:{img['region']}:{emu.account}:key/0b1c2d3e-0000-4000-8000-000000000001"}}]
    try:
        from . import ec2_images
        add = getattr(ec2_images, "add_image", None)
    except ImportError:
        add = None
    if add:
        add(emu, img)
    else:
        with emu.store.lock:
            emu.store.table("images")[img["ImageId"]] = img
            emu.store.save("images")
    return {"ImageId": img["ImageId"]}


def control(emu, method, route, body):
    """POST ec2/delete-default-vpc {"region"}; POST ec2/seed-image
    {"region", "Architecture"?, "Platform"?, "ImageId"?, "size"? (bytes of
    zeros on its disk, default 1 MiB), "State"?, "OwnerId"? (an AMI shared
    from another account), "Encrypted"? (its snapshot encrypted with
    "KmsKeyId"?)}."""
    if (method, route) == ("POST", "ec2/delete-default-vpc"):
        return delete_default_vpc(emu, body.get("region", "us-east-1"))
    if (method, route) == ("POST", "ec2/seed-image"):
        return seed_image(emu, body)
    raise KeyError(f"no control route {method} {route}")


OPERATIONS = {
    "DescribeVpcs": describe_vpcs,
    "DescribeSubnets": describe_subnets,
    "CreateVpc": create_vpc,
    "CreateSubnet": create_subnet,
    "RunInstances": run_instances,
    "DescribeInstances": describe_instances,
    "StopInstances": stop_instances,
    "StartInstances": start_instances,
    "TerminateInstances": terminate_instances,
    "CreateTags": create_tags,
    "DeleteTags": delete_tags,
    "DescribeInstanceAttribute": describe_instance_attribute,
}
