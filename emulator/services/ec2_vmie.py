"""VM Import/Export operations, the part both directions share: the
synchronous checks AWS makes before answering (role, ClientToken) and
the Describe*Tasks plumbing.  ImportImage and friends live in ec2_import,
ExportImage in ec2_export; this module merges their OPERATIONS."""
import hashlib
import json

from ..protocol import ServiceError, ec2_response, items, x
from . import ec2_common as common
from . import ec2_tasks as tasks

ROLE_ERROR = "The service role {} provided does not exist or does not have sufficient permissions"


def bad(message, code="InvalidParameter"):
    return ServiceError(code, message, 400)


def fingerprint(params):
    """What makes two requests "the same" for ClientToken purposes."""
    keep = {k: v for k, v in params.items()
            if k not in ("Action", "Version", "ClientToken", "DryRun")}
    return hashlib.sha256(json.dumps(keep, sort_keys=True).encode()).hexdigest()


def by_token(emu, table, token, params):
    """The task an earlier request with this ClientToken created, or None;
    IdempotentParameterMismatch when the parameters differ."""
    if not token:
        return None
    for task in emu.store.table(table).values():
        if task.get("client_token") == token:
            if task["fingerprint"] != fingerprint(params):
                raise bad("Client token is already used with different parameters.",
                          "IdempotentParameterMismatch")
            return task
    return None


def role_check(emu, role, bucket, write=False):
    from . import iam
    ok, _why = iam.role_allows_vmimport(emu, role, bucket, write=write)
    if not ok:
        raise bad(ROLE_ERROR.format(role))


def page(p, found, max_default=1000):
    """(page, next token) for MaxResults/NextToken."""
    try:
        start = int(p.get("NextToken") or 0)
        limit = int(p.get("MaxResults") or max_default)
    except ValueError:
        raise bad("Invalid pagination token", "InvalidPaginationToken")
    nxt = start + limit if start + limit < len(found) else None
    return found[start:start + limit], nxt


def describe(emu, req, table, ids_key, filter_key, state_fn, not_found, render, action, set_name):
    p = req.params
    common.dry_run(req)
    tasks.refresh(emu)
    ids = common.indexed(p, ids_key)
    flt = common.filters(p, filter_key)
    with emu.store.lock:
        all_tasks = emu.store.table(table)
        for tid in ids:
            if all_tasks.get(tid, {}).get("region", req.region) != req.region or \
                    tid not in all_tasks:
                raise not_found(tid)
        chosen = [all_tasks[t] for t in ids] if ids else \
            sorted(all_tasks.values(), key=lambda t: t["created"])
        found = []
        for task in chosen:
            status = state_fn(emu, task)[0]
            if task.get("region", req.region) != req.region:
                continue
            if not ids and not tasks.visible(emu, task, status):
                continue
            if "task-state" in flt and status not in flt["task-state"]:
                continue
            if not common.tags_match(common.resource_tags(emu, tid_of(task)), flt):
                continue
            found.append(task)
        chunk, nxt = page(p, found)
        body = items(set_name, [render(emu, t) for t in chunk])
    if nxt is not None:
        body += x("nextToken", str(nxt))
    return ec2_response(action, body)


def tid_of(task):
    return task.get("ImportTaskId") or task.get("ExportImageTaskId")


def _operations():
    from . import ec2_export, ec2_import
    return dict(ec2_import.OPERATIONS, **ec2_export.OPERATIONS)
