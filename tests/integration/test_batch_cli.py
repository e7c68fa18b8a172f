"""vmie batch's command line and manifest checks, before any AWS call:
usage errors, the shard's sources, bad manifests and bad rows reported
with their line numbers, nothing started.  No emulator: a run that got as
far as AWS would fail for want of credentials, which no test here sees."""
import json
import re

import pytest

from conftest import run as _run
from images import MIB, make_raw

BATCH_OPTIONS = ["--max-tasks", "--max-uploads", "--max-instances", "--lease-prefix", "--shard",
                 "--shard-count", "--skip-invalid", "--retry-failed", "--results", "--export",
                 "--s3-bucket", "--region", "--tag", "--description", "--json-events"]


def run(vmie_bin, args, env, **kw):
    r = _run(vmie_bin, args, env, **kw)
    assert "Sanitizer" not in r.stderr and "runtime error:" not in r.stderr, r.stderr
    return r


@pytest.fixture
def env(clean_env):
    e = dict(clean_env, AWS_REGION="us-west-2")
    for k in ("JOB_COMPLETION_INDEX", "VMIE_SHARDS", "AWS_BATCH_JOB_ARRAY_INDEX",
              "AWS_BATCH_JOB_ARRAY_SIZE"):
        e.pop(k, None)
    return e


@pytest.fixture
def image(tmp_path):
    """A RAW disk the preflight accepts (MBR, a Linux partition)."""
    make_raw(tmp_path / "disk.raw", 4 * MIB)
    return str(tmp_path / "disk.raw")


def fails(r, status, *fragments):
    assert r.returncode == status, (r.returncode, r.stderr)
    for f in fragments:
        assert f in r.stderr, (f, r.stderr)


def test_help(vmie_bin, env):
    r = run(vmie_bin, ["batch", "--help"], env)
    assert r.returncode == 0 and r.stdout.startswith("Usage: vmie batch [OPTIONS] MANIFEST")
    for opt in BATCH_OPTIONS:
        assert re.search(rf"(^|[ ,]){re.escape(opt)}\b", r.stdout, re.M), opt
    for opt in ("--download", "--s3-key", "--upload-only", "--skip-setup", "--ami-id"):
        assert not re.search(rf"^ +(-\w, )?{re.escape(opt)}(?![\w-])", r.stdout, re.M), opt
    assert re.search(r"^ +--download-format\b", r.stdout, re.M)  # a default for the rows
    assert re.search(r"^  batch ", run(vmie_bin, ["--help"], env).stdout, re.M)
    imp = run(vmie_bin, ["import", "--help"], env).stdout
    for opt in ("--max-tasks", "--max-instances", "--lease-prefix", "--skip-setup"):
        assert opt in imp, opt


@pytest.mark.parametrize("args,fragment", [
    (["batch", "-b", "bkt"], "vmie batch needs a MANIFEST"),
    (["batch", "-b", "bkt", "a.csv", "b.csv"], "takes one MANIFEST, not 2"),
    (["batch", "a.csv"], "missing required option --s3-bucket"),
    (["batch", "-b", "bkt", "--download", "/tmp/x", "a.csv"], "--download is not an option"),
    (["batch", "-b", "bkt", "--max-uploads", "0", "a.csv"], "--max-uploads must be a whole"),
    (["batch", "-b", "bkt", "--max-tasks", "x", "a.csv"], "--max-tasks must be a whole"),
    (["import", "-b", "bkt", "-s", "x.raw", "--max-instances", "101"], "--max-instances"),
    (["batch", "-b", "bkt", "--shard", "3/3", "a.csv"], "--shard must be I/N"),
    (["batch", "-b", "bkt", "--shard-count", "3", "a.csv"], "--shard-count without a shard"),
])
def test_usage_errors(vmie_bin, env, tmp_path, args, fragment):
    (tmp_path / "a.csv").write_text("source\n/x.raw\n")
    r = run(vmie_bin, args, env, cwd=str(tmp_path))
    fails(r, 2, fragment, "vmie: hint: ")


def test_shard_from_the_environment(vmie_bin, env, tmp_path):
    (tmp_path / "a.csv").write_text("source\n/nonexistent/x.raw\n")
    r = run(vmie_bin, ["batch", "-b", "bkt", "a.csv"], dict(env, JOB_COMPLETION_INDEX="1"),
            cwd=str(tmp_path))
    fails(r, 2, "JOB_COMPLETION_INDEX is set but not the number of shards", "VMIE_SHARDS")
    r = run(vmie_bin, ["batch", "-b", "bkt", "a.csv"],
            dict(env, AWS_BATCH_JOB_ARRAY_INDEX="4", AWS_BATCH_JOB_ARRAY_SIZE="4"),
            cwd=str(tmp_path))
    fails(r, 2, "AWS_BATCH_JOB_ARRAY_INDEX=4 is not a shard of 4")


def test_manifest_errors(vmie_bin, env, tmp_path):
    r = run(vmie_bin, ["batch", "-b", "bkt", str(tmp_path / "missing.csv")], env)
    fails(r, 4, "cannot read the manifest", "No such file")
    (tmp_path / "a.csv").write_text("name,source,size\nx,/x.raw,1\n")
    r = run(vmie_bin, ["batch", "-b", "bkt", "a.csv"], env, cwd=str(tmp_path))
    fails(r, 2, "manifest a.csv: line 1, column 3: unknown column 'size'", "install-sanbootable")
    (tmp_path / "b.csv").write_text("source,role-name\n/x.raw,r\n")
    r = run(vmie_bin, ["batch", "-b", "bkt", "b.csv"], env, cwd=str(tmp_path))
    fails(r, 2, "'role-name' cannot vary by row", "--role-name on the vmie batch command line")
    (tmp_path / "c.csv").write_text('source\n"/x.raw\n')
    r = run(vmie_bin, ["batch", "-b", "bkt", "c.csv"], env, cwd=str(tmp_path))
    fails(r, 2, "line 2: a quoted value never closes")


def test_bad_rows_reported_with_their_lines(vmie_bin, env, tmp_path, image):
    """Every bad row is named (line number and why), nothing starts, and
    the results say the same; JSON Lines the same as CSV."""
    lines = [
        json.dumps({"name": "good", "source": image}),
        json.dumps({"name": "typo", "source": image, "s3-key": "t.raw", "boot-mode": "efi"}),
        "{not json",
        json.dumps({"name": "gone", "source": str(tmp_path / "gone.raw")}),
        json.dumps({"name": "twin", "source": image}),
        json.dumps({"name": "ex", "source": image, "s3-key": "e.raw", "export-format": "VMDK"}),
        json.dumps({"name": "flag", "source": image, "s3-key": "f.raw", "force": "perhaps"}),
    ]
    (tmp_path / "vms.jsonl").write_text("\n".join(lines) + "\n")
    r = run(vmie_bin, ["batch", "-b", "bkt", "--json", "vms.jsonl"], env, cwd=str(tmp_path))
    fails(r, 2, "vms.jsonl: line 2: --boot-mode 'efi'",
          "vms.jsonl: line 3: not a JSON object",
          "vms.jsonl: line 4: --source",
          "vms.jsonl: line 5: the same source and s3-key as line 1",
          "vms.jsonl: line 6: export-format without export",
          "vms.jsonl: line 7: force is 'perhaps', not true or false",
          "6 rows of vms.jsonl are invalid: nothing was started", "--skip-invalid")
    assert "line 1:" not in r.stderr
    out = json.loads(r.stdout)
    assert (out["rows"], out["invalid"], out["exit_status"]) == (7, 6, 2), out
    assert out["error"]["code"] == "ERR_INVALID_ARGUMENT"
    res = json.loads((tmp_path / "vms.vmie-batch" / "results.json").read_text())
    status = {row["line"]: row["status"] for row in res["rows"]}
    assert status == {1: "pending", 2: "invalid", 3: "invalid", 4: "invalid", 5: "invalid",
                      6: "invalid", 7: "invalid"}, status
    csv = (tmp_path / "vms.vmie-batch" / "results.csv").read_text()
    assert "line 7: force is 'perhaps'" in csv


def test_preflight_refusal_is_an_invalid_row(vmie_bin, env, tmp_path, image):
    blank = tmp_path / "blank.raw"
    blank.write_bytes(bytes(4 << 20))
    (tmp_path / "vms.csv").write_text(f"name,source\nok,{image}\nblank,{blank}\n")
    r = run(vmie_bin, ["batch", "-b", "bkt", "--results", str(tmp_path / "r"), "vms.csv"],
            env, cwd=str(tmp_path))
    fails(r, 2, "vms.csv: line 3: ", "would not import", "1 row of vms.csv is invalid")
