#!/usr/bin/python3
"""wirecheck (../shared/wirecheck/validate.py) with two more services: the
IAM Identity Center portal (sso: GetRoleCredentials) and SSO OIDC
(sso-oidc: CreateToken), both rest-json and unsigned, which the shared
validator would take for S3.  Their requests are checked here against
botocore's models (method and URI, query string and header bindings,
required members, JSON body members, lengths and patterns); every other
request goes to the shared checks unchanged.

    /usr/bin/python3 tests/wirecheck/validate_sso.py WIRE.jsonl

WIRECHECK_DIR names the shared validator's directory (default
../shared/wirecheck from the repository root).
"""
import importlib.util
import json
import os
import sys
import urllib.parse

HERE = os.path.dirname(os.path.abspath(__file__))
SHARED = os.environ.get("WIRECHECK_DIR",
                        os.path.join(HERE, "..", "..", "..", "shared", "wirecheck"))
spec = importlib.util.spec_from_file_location("wirecheck", os.path.join(SHARED, "validate.py"))
wc = importlib.util.module_from_spec(spec)
spec.loader.exec_module(wc)

for name in ("sso", "sso-oidc"):
    wc.MODELS[name] = wc.SESSION.get_service_model(name)


def sso_service(r, headers):
    if "x-amz-sso_bearer_token" in headers:
        return "sso"
    if r["method"] == "POST" and r["path"] == "/token" and \
            "json" in headers.get("content-type", ""):
        return "sso-oidc"
    return None


def check_rest_json(service, r, headers):
    model = wc.MODELS[service]
    ops = [model.operation_model(n) for n in model.operation_names]
    match = [op for op in ops if op.http["method"] == r["method"] and
             op.http["requestUri"].split("?")[0] == r["path"]]
    if not match:
        wc.CURRENT.update(service=service, op="?")
        wc.find("operation", "method+path", f"{r['method']} {r['path']}",
                f"an operation of {service}")
        return None
    op = match[0]
    wc.CURRENT.update(service=service, op=op.name)
    wc.op_counts[(service, op.name)] += 1
    shape = op.input_shape
    query = dict(urllib.parse.parse_qsl(r["query"], keep_blank_values=True))
    params = {}
    body = {}
    if r["body"].get("text"):
        try:
            body = json.loads(r["body"]["text"])
        except ValueError as e:
            wc.find("json", "", r["body"]["text"][:100], f"JSON: {e}")
    bound = set()
    for mname, mshape in shape.members.items():
        loc = mshape.serialization.get("location")
        wire = mshape.serialization.get("name", mname)
        if loc == "querystring":
            bound.add(("q", wire))
            if wire in query:
                params[mname] = wc.parse_scalar(mshape, query[wire], f"?{wire}")
        elif loc == "header":
            bound.add(("h", wire.lower()))
            if wire.lower() in headers:
                params[mname] = wc.parse_scalar(mshape, headers[wire.lower()], wire)
        elif mname in body:
            params[mname] = body[mname]
            wc.json_walk(mshape, body[mname], mname)
    for k in query:
        if ("q", k) not in bound:
            wc.find("query", k, query[k], "not a querystring member")
    for k in body:
        if k not in shape.members:
            wc.find("member", k, str(body[k])[:40], "not a member of the input")
    wc.validate_params(service, op, params)
    if body and headers.get("content-type") != "application/json":
        wc.find("content-type", "Content-Type", headers.get("content-type"),
                "application/json")
    wc.CURRENT["parsed"] = params
    return op.name, params


def main(path):
    recs = [json.loads(line) for line in open(path)]
    for idx, r in enumerate(recs):
        wc.CURRENT.clear()
        wc.CURRENT["idx"] = idx
        headers = {k.lower(): v for k, v in r["headers"]}
        if r["path"].startswith("/_vmie"):
            continue
        service = sso_service(r, headers)
        ctype = headers.get("content-type", "")
        if service:
            check_rest_json(service, r, headers)
        elif "x-amz-target" in headers:
            wc.check_json(idx, r, headers)
        elif r["method"] == "POST" and r["path"] == "/" and "form-urlencoded" in ctype:
            params = dict(urllib.parse.parse_qsl(r["body"].get("text", ""),
                                                 keep_blank_values=True))
            params.update(dict(urllib.parse.parse_qsl(r["query"], keep_blank_values=True)))
            wc.check_query(idx, r, params)
        else:
            wc.check_s3(idx, r, headers)
    print("botocore", wc.botocore.__version__)
    print("operations:")
    for (s, o), n in sorted(wc.op_counts.items()):
        print(f"  {s:8} {o:36} {n}")
    print("findings:")
    for f in wc.findings:
        print(f"  [{f['severity']}] {f['service']}.{f['op']} {f['kind']} {f['param']}: "
              f"sent {f['sent']!r}; model: {f['model']}  (req {f['req']})")
    return 1 if any(f["severity"] == "error" for f in wc.findings) else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
