#!/usr/bin/python3
"""vmie download side by side with what users do by hand today, on the
same object, in one run, on this machine.

  /usr/bin/python3 bench/bench_download.py [--vmie build/vmie] [--work DIR] [--gib 1]

The object is a disk-like image (half zero MiBs, half random) uploaded once
to the project's emulator (keeping bytes, not in sink mode), then fetched by:
  - vmie download (parallel ranged GETs, zero blocks left as holes, verified);
  - aws s3 cp (Debian's awscli) to a file;
  - aws s3 cp to stdout piped into dd conv=sparse: the `aws s3 cp` + `dd`
    steps vmie download replaces, writing a target the way dd writes a LUN;
  - boto3's download_file.
Each output is compared with the image (sha256) and its allocated size is
shown: holes are disk space (and array capacity) not written.  The
emulator's CPU is shown too: it serves every byte from Python, so when it
nears one core per second of wall time it, not the client, is the limit.
Nothing here is asserted.
"""
import argparse
import hashlib
import os
import signal
import subprocess
import sys
import tempfile

from bench_import import (AWS_CLI, BUCKET, GIB, MIB, PY, REGION, ROOT, Result, aws_env,
                          have_module, make_disklike, measure, start_emulator)

BOTO3_GET = """
import os, sys, boto3
s3 = boto3.client("s3", endpoint_url=os.environ["AWS_ENDPOINT_URL"])
s3.download_file(sys.argv[1], sys.argv[2], sys.argv[3])
"""


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(4 * MIB), b""):
            h.update(block)
    return h.hexdigest()


def check(result, out, want):
    """Note on the row whether the output is the image, and its allocation."""
    if result.wall is None:
        return result
    st = os.stat(out)
    same = sha256(out) == want
    result.note = (f"{'identical' if same else 'DIFFERENT'}, "
                   f"{st.st_blocks * 512 / MIB:.0f} MiB allocated")
    os.unlink(out)
    return result


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--vmie", default=os.path.join(ROOT, "build", "vmie"))
    ap.add_argument("--work", default=os.path.join(tempfile.gettempdir(), "vmie-bench"))
    ap.add_argument("--gib", type=int, default=1)
    args = ap.parse_args()
    args.vmie = os.path.abspath(args.vmie)
    os.makedirs(args.work, exist_ok=True)
    if not os.access(args.vmie, os.X_OK):
        sys.exit(f"bench: no vmie binary at {args.vmie} (make build)")

    src = os.path.join(args.work, f"disklike-{args.gib}g.raw")
    print(f"bench: writing a {args.gib} GiB disk-like image to {src} (once)", flush=True)
    make_disklike(src, args.gib * GIB)
    size = os.path.getsize(src)
    want = sha256(src)

    emu, endpoint = start_emulator(args.work, sink=False)
    env = aws_env(endpoint)
    results = []
    sc = f"download {args.gib} GiB"
    key = "exports/export-ami-0123456789abcdef0.raw"
    url = f"s3://{BUCKET}/{key}"
    out = os.path.join(args.work, "download.out")
    try:
        subprocess.run([AWS_CLI, "--endpoint-url", endpoint, "s3api", "create-bucket",
                        "--bucket", BUCKET, "--create-bucket-configuration",
                        f"LocationConstraint={REGION}"], env=env, check=True,
                       capture_output=True)
        print("bench: uploading it (multipart, as an export is)", flush=True)
        subprocess.run([args.vmie, "import", "--source", src, "--s3-bucket", BUCKET,
                        "--s3-key", key, "--upload-only", "--force", "--no-progress", "-q"],
                       env=env, check=True, capture_output=True)
        results.append(check(measure(sc, "vmie download", [
            args.vmie, "download", "--no-progress", "-q", url, out], env, size, emu.pid),
            out, want))
        results.append(check(measure(sc, "aws s3 cp", [
            AWS_CLI, "--endpoint-url", endpoint, "s3", "cp", "--only-show-errors", url, out],
            env, size, emu.pid), out, want))
        pipe = (f"{AWS_CLI} --endpoint-url {endpoint} s3 cp --only-show-errors {url} - | "
                f"dd of={out} bs=4M conv=sparse iflag=fullblock status=none")
        results.append(check(measure(sc, "aws s3 cp - | dd conv=sparse", pipe, env, size,
                                     emu.pid, shell=True), out, want))
        if have_module("boto3"):
            results.append(check(measure(sc, "boto3 download_file", [
                PY, "-c", BOTO3_GET, BUCKET, key, out], env, size, emu.pid), out, want))
        else:
            results.append(Result(sc, "boto3 download_file", note="n/a: install python3-boto3"))
    finally:
        emu.send_signal(signal.SIGTERM)
        emu.wait()
        if os.path.exists(out):
            os.unlink(out)

    head = ["scenario", "tool", "wall s", "CPU s", "peak RSS MiB", "MiB/s", "emulator CPU s",
            "note"]
    rows = [head] + [r.row() for r in results]
    widths = [max(len(str(r[i])) for r in rows) for i in range(len(head))]
    print()
    for i, r in enumerate(rows):
        print("  ".join(str(c).ljust(w) for c, w in zip(r, widths)).rstrip())
        if i == 0:
            print("  ".join("-" * w for w in widths))


if __name__ == "__main__":
    main()
