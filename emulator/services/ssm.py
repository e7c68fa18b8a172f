"""SSM (JSON 1.1): the managed-instance registry and Run Command, as much
as vmie uses to run a shell script on its temporary instance.

An instance registers (PingStatus Online) a short emulated delay after it
is running, only if its instance profile's role has
AmazonSSMManagedInstanceCore attached -- the usual reason a real agent
never shows up.  A command's script is checked with `bash -n`, so a
script vmie generates with a syntax error fails here as it would there.
Invocation states are computed from the emulated time since SendCommand.

Tables: "ssm_commands" CommandId -> command (with per-instance outcomes),
"ssm_registered" InstanceId -> first time seen Online (real time).
"""
import os
import shlex
import subprocess
import tempfile
import time
import uuid

from ..protocol import ServiceError, json_response
from . import ec2_instances, iam

PROTOCOL = "json"
STREAMING = False

ONLINE_DELAY_S = 10      # emulated seconds from running to Online
HIDDEN_S = 1.5           # InvocationDoesNotExist right after SendCommand
PENDING_S = 2.5          # then Pending until here, then InProgress
RUN_S = 5                # default execution time of a script
AGENT_VERSION = "3.2.1705.0"
DOCUMENT = "AWS-RunShellScript"
PLUGIN = "aws:runShellScript"
MAX_STDOUT, MAX_STDERR = 24000, 8000


def _err(code, message, status=400):
    return ServiceError(code, message, status)


# --- registration -------------------------------------------------------------------

def _ssm_capable(emu, inst):
    """Could the agent on this instance reach SSM at all?"""
    forced = inst.get("ssm_forced")
    if forced is not None and not forced.get("online", False) and "delay" not in forced:
        return False
    profile = (inst.get("IamInstanceProfile") or {}).get("Name")
    return bool(profile) and iam.SSM_CORE_ARN in iam.profile_role_policies(emu, profile)


def ping_status(emu, inst):
    """"Online", "ConnectionLost" or None (not registered)."""
    delay = (inst.get("ssm_forced") or {}).get("delay", ONLINE_DELAY_S)
    up = ec2_instances.running_for(emu, inst)
    registered = emu.store.table("ssm_registered")
    if up is not None and up >= delay and _ssm_capable(emu, inst):
        if inst["InstanceId"] not in registered:
            with emu.store.lock:
                registered[inst["InstanceId"]] = emu.now()
                emu.store.save("ssm_registered")
        return "Online"
    if inst["InstanceId"] in registered and \
            ec2_instances.state_of(emu, inst) != "terminated":
        return "ConnectionLost"
    return None


def _info(emu, inst, status):
    ip = inst["PrivateIpAddress"]
    windows = inst.get("Platform") == "windows"
    return {"InstanceId": inst["InstanceId"], "PingStatus": status,
            "LastPingDateTime": round(emu.now(), 3), "AgentVersion": AGENT_VERSION,
            "IsLatestVersion": False, "PlatformType": "Windows" if windows else "Linux",
            "PlatformName": "Microsoft Windows Server" if windows else "Linux",
            "PlatformVersion": "", "ResourceType": "EC2Instance", "IPAddress": ip,
            "ComputerName": f"ip-{ip.replace('.', '-')}.{inst['region']}.compute.internal",
            "SourceId": inst["InstanceId"], "SourceType": "AWS::EC2::Instance"}


def _info_filters(body):
    """Filters [{"Key","Values"}] and the older InstanceInformationFilterList
    [{"key","valueSet"}] -> {key: [values]}."""
    out = {}
    for f in body.get("Filters") or []:
        out.setdefault(f.get("Key"), []).extend(f.get("Values") or [])
    for f in body.get("InstanceInformationFilterList") or []:
        out.setdefault(f.get("key"), []).extend(f.get("valueSet") or [])
    known = {"InstanceIds", "PingStatus", "PlatformTypes", "ResourceType", "AgentVersion",
             "IamRole", "ActivationIds", "AssociationStatus"}
    for key in out:
        if key not in known and not str(key).startswith("tag:"):
            raise _err("InvalidFilterKey", f"The specified filter key {key} is not valid.")
    return out


def _info_matches(info, flt):
    fields = {"InstanceIds": info["InstanceId"], "PingStatus": info["PingStatus"],
              "PlatformTypes": info["PlatformType"], "ResourceType": info["ResourceType"],
              "AgentVersion": info["AgentVersion"]}
    return all(fields[k] in v for k, v in flt.items() if k in fields)


def describe_instance_information(emu, req):
    flt = _info_filters(req.json)
    with emu.store.lock:
        insts = [dict(i) for i in emu.store.table("instances").values()
                 if i["region"] == req.region]
    out = []
    for inst in sorted(insts, key=lambda i: i["LaunchTime"]):
        status = ping_status(emu, inst)
        if status:
            info = _info(emu, inst, status)
            if _info_matches(info, flt):
                out.append(info)
    return json_response({"InstanceInformationList": out})


# --- Run Command -----------------------------------------------------------------------

def _check_script(script, command_id, instance_id):
    """`bash -n` the script as the agent would store it; (ok, stderr)."""
    agent_path = (f"/var/lib/amazon/ssm/{instance_id}/document/orchestration/{command_id}/"
                  "awsrunShellScript/0.awsrunShellScript/_script.sh")
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "_script.sh")
        with open(path, "w") as f:
            f.write(script)
        try:
            r = subprocess.run(["bash", "-n", path], capture_output=True, text=True,
                               timeout=10)
        except subprocess.TimeoutExpired:
            return True, ""
    return r.returncode == 0, r.stderr.replace(path, agent_path)


def _echo_output(script):
    """Plausible stdout: what the script's plain `echo` lines would print."""
    out = []
    for line in script.splitlines():
        line = line.strip()
        if not line.startswith("echo ") or any(ch in line for ch in "$`|;&><"):
            continue
        try:
            words = shlex.split(line)[1:]
        except ValueError:
            continue
        if words and words[0] == "-n":
            words = words[1:]
        out.append(" ".join(words))
    return "".join(w + "\n" for w in out)


def _outcome(emu, command_id, iid, script, forced, timeout):
    """What the invocation will end as, decided now, revealed by the clock."""
    ok, stderr = _check_script(script, command_id, iid)
    if not ok:
        return {"status": "Failed", "exit_code": 2, "stdout": "", "stderr": stderr,
                "duration": 0.1, "hidden_polls": 0}
    out = {"status": "Success", "exit_code": 0, "stdout": _echo_output(script),
           "stderr": "", "duration": RUN_S, "hidden_polls": 0}
    if forced:
        status = forced.get("status", "Success")
        out.update({"status": status,
                    "exit_code": forced.get("exit_code", 0 if status == "Success" else 1),
                    "stdout": forced.get("stdout", out["stdout"]),
                    "stderr": forced.get("stderr", ""),
                    "duration": forced.get("duration", timeout if status == "TimedOut"
                                           else RUN_S),
                    "hidden_polls": int(forced.get("hidden_polls", 0))})
        if status == "TimedOut":
            out["exit_code"] = -1
    return out


def _online_ids(emu, req, ids):
    """SendCommand accepts only instances whose agent is Online."""
    bad = []
    insts = {}
    for iid in ids:
        inst = ec2_instances.get_instance(emu, iid)
        if inst is None or inst["region"] != req.region or ping_status(emu, inst) != "Online":
            bad.append(iid)
        else:
            insts[iid] = inst
    if bad or not ids:
        raise _err("InvalidInstanceId", f"Instances [[{', '.join(bad)}]] not in a valid state "
                   f"for account {emu.account}")
    for iid, inst in insts.items():
        if inst.get("Platform") == "windows":
            raise _err("UnsupportedPlatformType", f"The document {DOCUMENT} is not supported "
                       f"on the platform of instance {iid}")
    return insts


def _parameters(body):
    params = body.get("Parameters") or {}
    for k, v in params.items():
        if not isinstance(v, list):
            raise _err("InvalidParameters", f"Parameter {k} must be a list of strings.")
    unknown = set(params) - {"commands", "workingDirectory", "executionTimeout"}
    if unknown:
        raise _err("InvalidParameters", f"Unknown parameter(s) {', '.join(sorted(unknown))}")
    if not params.get("commands"):
        raise _err("InvalidParameters", "Parameter commands is required.")
    return params


def send_command(emu, req):
    body = req.json
    name = body.get("DocumentName", "")
    if name != DOCUMENT:
        raise _err("InvalidDocument", f"Document with name {name} does not exist.")
    params = _parameters(body)
    ids = body.get("InstanceIds") or []
    _online_ids(emu, req, ids)
    timeout = int((params.get("executionTimeout") or ["3600"])[0])
    command_id = str(uuid.uuid4())
    script = "\n".join(params["commands"]) + "\n"
    forced = emu.take_forced("command")
    now = emu.now()
    cmd = {"CommandId": command_id, "region": req.region, "DocumentName": name,
           "Comment": body.get("Comment", ""), "Parameters": params, "InstanceIds": ids,
           "sent": now, "TimeoutSeconds": int(body.get("TimeoutSeconds") or 3600),
           "OutputS3BucketName": body.get("OutputS3BucketName", ""),
           "invocations": {iid: _outcome(emu, command_id, iid, script, forced, timeout)
                           for iid in ids}}
    with emu.store.lock:
        emu.store.table("ssm_commands")[command_id] = cmd
        emu.store.save("ssm_commands")
    return json_response({"Command": _command_json(emu, cmd, now)})


def _command_json(emu, cmd, now):
    return {"CommandId": cmd["CommandId"], "DocumentName": cmd["DocumentName"],
            "DocumentVersion": "$DEFAULT", "Comment": cmd["Comment"],
            "ExpiresAfter": round(cmd["sent"] + cmd["TimeoutSeconds"] / emu.speed, 3),
            "Parameters": cmd["Parameters"], "InstanceIds": cmd["InstanceIds"], "Targets": [],
            "RequestedDateTime": round(cmd["sent"], 3), "Status": "Pending",
            "StatusDetails": "Pending", "OutputS3Region": cmd["region"],
            "OutputS3BucketName": cmd["OutputS3BucketName"], "OutputS3KeyPrefix": "",
            "MaxConcurrency": "50", "MaxErrors": "0", "TargetCount": len(cmd["InstanceIds"]),
            "CompletedCount": 0, "ErrorCount": 0, "DeliveryTimedOutCount": 0,
            "ServiceRole": "", "NotificationConfig": {"NotificationArn": "",
                                                      "NotificationEvents": [],
                                                      "NotificationType": ""},
            "CloudWatchOutputConfig": {"CloudWatchLogGroupName": "",
                                       "CloudWatchOutputEnabled": False},
            "TimeoutSeconds": cmd["TimeoutSeconds"]}


# --- invocation state --------------------------------------------------------------------

FINAL_DETAILS = {"Success": "Success", "Failed": "Failed", "TimedOut": "Execution Timed Out",
                 "Cancelled": "Cancelled"}


def invocation_state(emu, cmd, iid):
    """(Status, StatusDetails, ResponseCode, start, end) at this moment;
    start/end are real timestamps or None; Status None = not visible yet."""
    inv = cmd["invocations"][iid]
    elapsed = emu.emulated_elapsed(cmd["sent"])
    start = cmd["sent"] + PENDING_S / emu.speed
    end = start + inv["duration"] / emu.speed
    if elapsed < HIDDEN_S:
        return None, None, -1, None, None
    if elapsed < PENDING_S:
        return "Pending", "Pending", -1, None, None
    if elapsed < PENDING_S + inv["duration"]:
        return "InProgress", "In Progress", -1, start, None
    code = inv["exit_code"] if inv["status"] != "TimedOut" else -1
    return inv["status"], FINAL_DETAILS.get(inv["status"], inv["status"]), code, start, end


def _iso(ts):
    if ts is None:
        return ""
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ts)) + \
        f".{int((ts % 1) * 1000):03d}Z"


def _duration(seconds):
    """ISO-8601 duration as SSM writes it: PT0.091S, PT1M5.2S."""
    minutes, secs = divmod(max(0.0, seconds), 60)
    return f"PT{int(minutes)}M{secs:.3f}S" if minutes else f"PT{secs:.3f}S"


def _find(emu, req, command_id, iid):
    if len(command_id or "") != 36:
        raise _err("ValidationException", f"1 validation error detected: Value '{command_id}' "
                   "at 'commandId' failed to satisfy constraint: Member must have length "
                   "less than or equal to 36 and greater than or equal to 36")
    with emu.store.lock:
        cmd = emu.store.table("ssm_commands").get(command_id)
    if cmd is None or cmd["region"] != req.region or iid not in cmd["invocations"]:
        raise _err("InvocationDoesNotExist", "")
    return cmd


def _take_hidden_poll(emu, cmd, iid):
    """A forced "hidden_polls": N answers the next N polls as not found."""
    with emu.store.lock:
        stored = emu.store.table("ssm_commands")[cmd["CommandId"]]["invocations"][iid]
        if stored.get("hidden_polls", 0) > 0:
            stored["hidden_polls"] -= 1
            emu.store.save("ssm_commands")
            return True
    return False


def get_command_invocation(emu, req):
    body = req.json
    iid = body.get("InstanceId", "")
    cmd = _find(emu, req, body.get("CommandId"), iid)
    plugin = body.get("PluginName")
    if plugin and plugin != PLUGIN:
        raise _err("InvalidPluginName", "")
    status, details, code, start, end = invocation_state(emu, cmd, iid)
    if status is None or _take_hidden_poll(emu, cmd, iid):
        raise _err("InvocationDoesNotExist", "")
    inv = cmd["invocations"][iid]
    final = end is not None
    if final:
        _note_install(emu, cmd, iid)
    elapsed = (end if final else emu.now()) - start if start else 0
    return json_response({
        "CommandId": cmd["CommandId"], "InstanceId": iid, "Comment": cmd["Comment"],
        "DocumentName": cmd["DocumentName"], "DocumentVersion": "$DEFAULT",
        "PluginName": PLUGIN, "ResponseCode": code,
        "ExecutionStartDateTime": _iso(start), "ExecutionEndDateTime": _iso(end),
        "ExecutionElapsedTime": _duration(elapsed * emu.speed) if start else "",
        "Status": status, "StatusDetails": details,
        "StandardOutputContent": inv["stdout"][:MAX_STDOUT] if final else "",
        "StandardOutputUrl": "",
        "StandardErrorContent": inv["stderr"][:MAX_STDERR] if final else "",
        "StandardErrorUrl": "",
        "CloudWatchOutputConfig": {"CloudWatchLogGroupName": "",
                                   "CloudWatchOutputEnabled": False}})


def _invocation_json(emu, cmd, iid, details):
    status, sdetails, code, start, end = invocation_state(emu, cmd, iid)
    out = {"CommandId": cmd["CommandId"], "InstanceId": iid, "InstanceName": "",
           "Comment": cmd["Comment"], "DocumentName": cmd["DocumentName"],
           "DocumentVersion": "$DEFAULT", "RequestedDateTime": round(cmd["sent"], 3),
           "Status": status, "StatusDetails": sdetails, "TraceOutput": "",
           "StandardOutputUrl": "", "StandardErrorUrl": "", "CommandPlugins": [],
           "ServiceRole": "", "NotificationConfig": {"NotificationArn": "",
                                                     "NotificationEvents": [],
                                                     "NotificationType": ""},
           "CloudWatchOutputConfig": {"CloudWatchLogGroupName": "",
                                      "CloudWatchOutputEnabled": False}}
    if details:
        inv = cmd["invocations"][iid]
        plugin = {"Name": PLUGIN, "Status": status, "StatusDetails": sdetails,
                  "ResponseCode": code, "Output": "", "StandardOutputUrl": "",
                  "StandardErrorUrl": "", "OutputS3Region": cmd["region"],
                  "OutputS3BucketName": "", "OutputS3KeyPrefix": ""}
        if start:
            plugin["ResponseStartDateTime"] = round(start, 3)
        if end:
            plugin["ResponseFinishDateTime"] = round(end, 3)
            # The list API shows the first 2500 characters of the output.
            plugin["Output"] = (inv["stdout"] + (("\n----------ERROR-------\n" + inv["stderr"])
                                                 if inv["stderr"] else ""))[:2500]
        out["CommandPlugins"] = [plugin]
    return out


def _note_install(emu, cmd, iid):
    """A script that installed sanbootable successfully marks the instance
    ("sanbootable": True), so ec2_images' CreateImage marks the new AMI."""
    inv = cmd["invocations"][iid]
    script = "\n".join(cmd["Parameters"].get("commands", []))
    if inv["status"] != "Success" or "sanbootable" not in script:
        return
    with emu.store.lock:
        inst = emu.store.table("instances").get(iid)
        if inst is not None and not inst.get("sanbootable"):
            inst["sanbootable"] = True
            emu.store.save("instances")


def list_command_invocations(emu, req):
    body = req.json
    command_id = body.get("CommandId")
    iid = body.get("InstanceId")
    with emu.store.lock:
        cmds = [c for c in emu.store.table("ssm_commands").values()
                if c["region"] == req.region and (not command_id or c["CommandId"] == command_id)]
    out = []
    for cmd in sorted(cmds, key=lambda c: -c["sent"]):
        for inst in cmd["InstanceIds"]:
            if iid and inst != iid:
                continue
            status, _, _, _, end = invocation_state(emu, cmd, inst)
            if end is not None:
                _note_install(emu, cmd, inst)
            if status is not None:
                out.append(_invocation_json(emu, cmd, inst, bool(body.get("Details"))))
    return json_response({"CommandInvocations": out})


def dump(emu):
    with emu.store.lock:
        cmds = [dict(c) for c in emu.store.table("ssm_commands").values()]
    return {"commands": {c["CommandId"]: {i: invocation_state(emu, c, i)[0] or "Hidden"
                                          for i in c["InstanceIds"]} for c in cmds}}


OPERATIONS = {
    "DescribeInstanceInformation": describe_instance_information,
    "SendCommand": send_command,
    "GetCommandInvocation": get_command_invocation,
    "ListCommandInvocations": list_command_invocations,
}
