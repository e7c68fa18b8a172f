#!/usr/bin/python3
"""Uploading a disk as a streamOptimized VMDK made on the fly, side by side
with uploading it as it is and with the tools users combine today, on a
realistic disk, over a link of known bandwidth, in one run.

  /usr/bin/python3 bench/bench_vmdk.py [--vmie build/vmie] [--work DIR]
                                       [--disk-gib 4] [--data-gib 1]
                                       [--bandwidth 100,12.5]

The disk: DISK GiB of RAW, an MBR and one ext4 partition holding about
DATA GiB of real files from /usr (mkfs.ext4 -d: no mount, no root), the
rest never written.  The emulator runs in --s3-sink mode with
--s3-bandwidth (MiB/s, all connections together), so the link, not the
loopback, sets the pace, as it does for a user.

Contenders, each from the RAW file to an object in S3:
  vmie as-is        vmie import --upload-format as-is --upload-only
  vmie vmdk         vmie import --upload-only (the default: VMDK on the fly)
  qemu-img + aws    qemu-img convert -O vmdk -o subformat=streamOptimized to a
                    temporary file, then aws s3 cp of it (the workaround)
  reference         the Python reference tool's sequence for a local file:
                    boto3's upload_file of the image as it is

For each: bytes sent, wall seconds, CPU seconds (user+sys, children
included), peak RSS; then the issue's targets, met or not.

The download side (--side download or both): the disk exported as a VMDK
(the emulator's ExportImage writer: a stream-optimized ESX VMDK) and as
RAW, both stored in the emulator (keeping bytes), then, over the same
capped link, each to a RAW file:
  vmie vmdk -> raw  vmie download --download-format raw of the VMDK
  aws s3 cp raw     aws s3 cp of the RAW export
  aws + qemu-img    aws s3 cp of the VMDK, then qemu-img convert -O raw
  vmie raw          vmie download of the RAW export (for reference)
For each: bytes received, wall, CPU, peak RSS, blocks allocated by the
output, and whether it is the disk.  Nothing is asserted; the README
quotes a run.
"""
import argparse
import json
import os
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import bench_import as bi  # noqa: E402  (measuring, the emulator, the env)
from bench_download import sha256  # noqa: E402

MIB, GIB = bi.MIB, bi.GIB
BUCKET = "vmie-bench-vmdk"
PART_START = 1 << 20


# --- the disk -----------------------------------------------------------------

def stage_files(stage, want):
    """Hard links (copies across file systems) to regular files of /usr, in
    a stable order, until `want` bytes: real binaries, libraries, text."""
    total = 0
    for top in ("/usr/lib", "/usr/share", "/usr/bin", "/usr/sbin", "/usr/libexec"):
        for root, dirs, files in os.walk(top):
            dirs.sort()
            for name in sorted(files):
                src = os.path.join(root, name)
                try:
                    st = os.lstat(src)
                except OSError:
                    continue
                if not (st.st_mode & 0o170000 == 0o100000) or not os.access(src, os.R_OK):
                    continue
                dst = os.path.join(stage, os.path.relpath(src, "/usr"))
                os.makedirs(os.path.dirname(dst), exist_ok=True)
                try:
                    os.link(src, dst)
                except OSError:
                    shutil.copyfile(src, dst)
                total += st.st_size
                if total >= want:
                    return total
    return total


def make_disk(work, size, data):
    """disk.raw: MBR, one bootable Linux partition at 1 MiB filled by
    mkfs.ext4 -d with `data` bytes of /usr; made once and reused."""
    path = os.path.join(work, f"ext4-{size >> 30}g-{data >> 20}m.raw")
    if os.path.exists(path + ".ok"):
        return path
    stage = os.path.join(work, "stage")
    shutil.rmtree(stage, ignore_errors=True)
    os.makedirs(stage)
    print(f"bench: staging {data >> 20} MiB of /usr and making a {size >> 30} GiB ext4 "
          "disk (once)", flush=True)
    got = stage_files(stage, data)
    if os.path.exists(path):
        os.unlink(path)
    blocks = (size - PART_START) // 4096
    subprocess.run(["mkfs.ext4", "-q", "-F", "-b", "4096", "-L", "bench",
                    "-E", f"offset={PART_START}", "-d", stage, path, str(blocks)],
                   check=True)
    with open(path, "r+b") as f:
        f.truncate(size)
        f.seek(446)
        f.write(struct.pack("<B3sB3sII", 0x80, b"\0\0\0", 0x83, b"\0\0\0",
                            PART_START // 512, (size - PART_START) // 512))
        f.seek(510)
        f.write(b"\x55\xaa")
    shutil.rmtree(stage)
    open(path + ".ok", "w").write(f"{got}\n")
    return path


def allocated(path):
    return os.stat(path).st_blocks * 512


# --- the contenders ----------------------------------------------------------------

def object_size(env, key):
    r = subprocess.run([bi.AWS_CLI, "--endpoint-url", env["AWS_ENDPOINT_URL"], "s3api",
                        "head-object", "--bucket", BUCKET, "--key", key, "--query",
                        "ContentLength", "--output", "text"], env=env, capture_output=True,
                       text=True)
    return int(r.stdout.strip()) if r.returncode == 0 else None


def vmie_argv(vmie, disk, key, *extra):
    return [vmie, "import", "--source", disk, "--s3-bucket", BUCKET, "--s3-key", key,
            "--upload-only", "--no-progress", "-q", *extra]


def run_all(args, disk, qemu_vmdk, env, emu_pid, bw):
    sc = f"{bw:g} MiB/s"
    out = {}
    tag = str(bw).replace(".", "_")
    jobs = [
        ("vmie as-is", vmie_argv(args.vmie, disk, f"asis-{tag}", "--upload-format", "as-is"),
         f"asis-{tag}", False),
        ("vmie vmdk", vmie_argv(args.vmie, disk, f"vmdk-{tag}"), f"vmdk-{tag}", False),
        ("qemu-img + aws s3 cp",
         f"qemu-img convert -f raw -O vmdk -o subformat=streamOptimized '{disk}' "
         f"'{qemu_vmdk}' && {bi.AWS_CLI} --endpoint-url {env['AWS_ENDPOINT_URL']} s3 cp "
         f"--only-show-errors '{qemu_vmdk}' s3://{BUCKET}/qemu-{tag}.vmdk; rc=$?; "
         f"rm -f '{qemu_vmdk}'; exit $rc", f"qemu-{tag}.vmdk", True),
    ]
    if bi.have_module("boto3"):
        jobs.append(("reference (boto3 upload_file)",
                     [bi.PY, "-c", bi.BOTO3, disk, BUCKET, f"ref-{tag}"], f"ref-{tag}", False))
    for tool, argv, key, shell in jobs:
        print(f"bench: {sc}: {tool}", flush=True)
        r = bi.measure(sc, tool, argv, env, None, emu_pid, shell=shell)
        r.nbytes = object_size(env, key) if r.wall else None
        out[tool] = r
    if "reference (boto3 upload_file)" not in out:
        out["reference (boto3 upload_file)"] = bi.Result(sc, "reference (boto3 upload_file)",
                                                         note="n/a: install python3-boto3")
    return out


# --- the report -------------------------------------------------------------------

def table(rows):
    widths = [max(len(str(r[i])) for r in rows) for i in range(len(rows[0]))]
    for i, r in enumerate(rows):
        print("  ".join(str(c).ljust(w) for c, w in zip(r, widths)).rstrip())
        if i == 0:
            print("  ".join("-" * w for w in widths))


def fmt(v, spec):
    return format(v, spec) if v is not None else "-"


def targets(runs, qemu_size, disk_gib):
    """The issue's targets, each with the figures it compares."""
    out = []
    fast = runs.get(100.0) or runs[max(runs)]
    bw = 100.0 if 100.0 in runs else max(runs)
    v, a, q = fast["vmie vmdk"], fast["vmie as-is"], fast["qemu-img + aws s3 cp"]

    def line(what, ok, detail):
        out.append((what, "met" if ok else ("NOT met" if ok is not None else "n/a"), detail))

    sizes = [r["vmie vmdk"].nbytes for r in runs.values() if r["vmie vmdk"].nbytes]
    if sizes and qemu_size:
        line("bytes sent <= 1.05 x qemu-img's file", max(sizes) <= 1.05 * qemu_size,
             f"{max(sizes) / qemu_size:.3f} x")
    if v.wall and a.wall:
        line(f"wall at {bw:g} MiB/s <= 0.35 x vmie as-is", v.wall <= 0.35 * a.wall,
             f"{v.wall / a.wall:.3f} x")
    if v.wall and q.wall:
        line(f"wall at {bw:g} MiB/s <= 0.6 x qemu-img + aws s3 cp", v.wall <= 0.6 * q.wall,
             f"{v.wall / q.wall:.3f} x")
    cpus = [r["vmie vmdk"].cpu for r in runs.values() if r["vmie vmdk"].cpu is not None]
    if cpus:
        line("CPU <= 1 s per GiB of disk", max(cpus) <= disk_gib,
             f"{max(cpus) / disk_gib:.2f} s/GiB")
    rss = [r["vmie vmdk"].rss for r in runs.values() if r["vmie vmdk"].rss]
    if rss:
        line("peak RSS <= 128 MiB", max(rss) <= 128 * MIB, f"{max(rss) / MIB:.0f} MiB")
    return out


# --- the download side -------------------------------------------------------------

def export_vmdk(work, disk):
    """The disk as ExportImage's VMDK (the emulator's writer); made once."""
    path = disk + ".export.vmdk"
    if not os.path.exists(path + ".ok"):
        print("bench: writing the disk as ExportImage's VMDK (once)", flush=True)
        sys.path.insert(0, bi.ROOT)
        from emulator import vmdk_stream
        vmdk_stream.write(disk, path, "export.vmdk")
        open(path + ".ok", "w").write("")
    return path


def download_side(args, disk, bw):
    """Each contender's RAW file from the capped link: the rows."""
    sc = f"{bw:g} MiB/s"
    vmdk = export_vmdk(args.work, disk)
    want = sha256(disk)
    emu, endpoint = bi.start_emulator(args.work, False, extra=["--s3-bandwidth", f"{bw:g}"])
    env = bi.aws_env(endpoint)
    cli = f"{bi.AWS_CLI} --endpoint-url {endpoint}"
    out = os.path.join(args.work, "download.raw")
    tmp = os.path.join(args.work, "download-tmp.vmdk")
    rows = []
    try:
        subprocess.run([bi.AWS_CLI, "--endpoint-url", endpoint, "s3api", "create-bucket",
                        "--bucket", BUCKET, "--create-bucket-configuration",
                        f"LocationConstraint={bi.REGION}"], env=env, check=True,
                       capture_output=True)
        print("bench: storing the two exports (through the capped link too)", flush=True)
        for src, key in ((vmdk, "export.vmdk"), (disk, "export.raw")):
            subprocess.run(vmie_argv(args.vmie, src, key, "--upload-format", "as-is",
                                     "--force"), env=env, check=True, capture_output=True)
        vsize, rsize = os.path.getsize(vmdk), os.path.getsize(disk)
        jobs = [
            ("vmie vmdk -> raw", [args.vmie, "download", "--download-format", "raw", "--json",
                                  "--no-progress", f"s3://{BUCKET}/export.vmdk", out], False,
             None),
            ("aws s3 cp raw", f"{cli} s3 cp --only-show-errors s3://{BUCKET}/export.raw "
             f"'{out}'", True, rsize),
            ("aws s3 cp vmdk + qemu-img", f"{cli} s3 cp --only-show-errors "
             f"s3://{BUCKET}/export.vmdk '{tmp}' && qemu-img convert -f vmdk -O raw '{tmp}' "
             f"'{out}'; rc=$?; rm -f '{tmp}'; exit $rc", True, vsize),
            ("vmie raw", [args.vmie, "download", "--json", "--no-progress",
                          f"s3://{BUCKET}/export.raw", out], False, None),
        ]
        for tool, argv, shell, nbytes in jobs:
            print(f"bench: {sc}: download: {tool}", flush=True)
            if os.path.exists(out):
                os.unlink(out)
            doc = tempfile.TemporaryFile()
            r = bi.measure(sc, tool, argv, env, nbytes, emu.pid, stdout=doc, shell=shell)
            if r.wall and nbytes is None:
                doc.seek(0)
                r.nbytes = json.loads(doc.read())["downloaded_bytes"]
            if r.wall:
                same = sha256(out) == want
                r.note = f"{'the disk' if same else 'NOT THE DISK'}; {r.note}".rstrip("; ")
                r.alloc = allocated(out)
            rows.append(r)
    finally:
        emu.send_signal(signal.SIGTERM)
        emu.wait()
        for f in (out, tmp):
            if os.path.exists(f):
                os.unlink(f)
    return rows


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--vmie", default=os.path.join(bi.ROOT, "build", "vmie"))
    ap.add_argument("--work", default=os.path.join(tempfile.gettempdir(), "vmie-bench"))
    ap.add_argument("--disk-gib", type=int, default=4)
    ap.add_argument("--data-gib", type=float, default=1.0)
    ap.add_argument("--bandwidth", default="100,12.5", help="MiB/s, comma-separated")
    ap.add_argument("--side", choices=["upload", "download", "both"], default="both")
    args = ap.parse_args()
    args.vmie = os.path.abspath(args.vmie)
    os.makedirs(args.work, exist_ok=True)
    if not os.access(args.vmie, os.X_OK):
        sys.exit(f"bench: no vmie binary at {args.vmie} (make build)")
    for tool in ("qemu-img", "mkfs.ext4", bi.AWS_CLI):
        if not shutil.which(tool):
            sys.exit(f"bench: {tool} not found (scripts/bootstrap.sh installs it)")

    disk = make_disk(args.work, args.disk_gib * GIB, int(args.data_gib * GIB))
    bws = [float(x) for x in args.bandwidth.split(",") if x]
    downloads = []
    if args.side != "upload":
        for bw in bws:
            downloads += download_side(args, disk, bw)
    if args.side == "download":
        report_downloads(args, disk, downloads)
        return
    qemu_ref = os.path.join(args.work, "qemu-ref.vmdk")
    subprocess.run(["qemu-img", "convert", "-f", "raw", "-O", "vmdk", "-o",
                    "subformat=streamOptimized", disk, qemu_ref], check=True)
    qemu_size = os.path.getsize(qemu_ref)
    os.unlink(qemu_ref)

    runs = {}
    for bw in bws:
        emu, endpoint = bi.start_emulator(args.work, True, extra=["--s3-bandwidth", f"{bw:g}"])
        env = bi.aws_env(endpoint)
        try:
            subprocess.run([bi.AWS_CLI, "--endpoint-url", endpoint, "s3api", "create-bucket",
                            "--bucket", BUCKET, "--create-bucket-configuration",
                            f"LocationConstraint={bi.REGION}"], env=env, check=True,
                           capture_output=True)
            runs[bw] = run_all(args, disk, os.path.join(args.work, "qemu-tmp.vmdk"), env,
                               emu.pid, bw)
        finally:
            emu.send_signal(signal.SIGTERM)
            emu.wait()

    print()
    print(f"vmie VMDK upload bench, {time.strftime('%Y-%m-%d %H:%M')}, {os.cpu_count()} CPUs, "
          f"{os.uname().machine}")
    print(f"disk: {args.disk_gib} GiB RAW, ext4 with {open(disk + '.ok').read().strip()} bytes "
          f"of /usr, {allocated(disk) / MIB:.0f} MiB allocated; qemu-img's streamOptimized "
          f"VMDK of it: {qemu_size / MIB:.1f} MiB")
    head = ["link", "tool", "MiB sent", "wall s", "CPU s", "peak RSS MiB", "emulator CPU s",
            "note"]
    rows = [head]
    for bw, res in runs.items():
        for tool, r in res.items():
            rows.append([f"{bw:g} MiB/s", tool, fmt(r.nbytes / MIB if r.nbytes else None, ".1f"),
                         fmt(r.wall, ".1f"), fmt(r.cpu, ".2f"),
                         fmt(r.rss / MIB if r.rss else None, ".0f"), fmt(r.emu_cpu, ".1f"),
                         r.note])
    table(rows)
    print()
    table([("target", "", "figure")] + targets(runs, qemu_size, args.disk_gib))
    if downloads:
        report_downloads(args, disk, downloads)


def report_downloads(args, disk, rows):
    print()
    print(f"vmie VMDK download bench, {time.strftime('%Y-%m-%d %H:%M')}, {os.cpu_count()} "
          f"CPUs, {os.uname().machine}; disk: {args.disk_gib} GiB RAW, "
          f"{allocated(disk) / MIB:.0f} MiB allocated; its VMDK export: "
          f"{os.path.getsize(disk + '.export.vmdk') / MIB:.1f} MiB")
    out = [["link", "tool", "MiB received", "wall s", "CPU s", "peak RSS MiB",
            "MiB allocated", "emulator CPU s", "note"]]
    for r in rows:
        out.append([r.scenario, r.tool, fmt(r.nbytes / MIB if r.nbytes else None, ".1f"),
                    fmt(r.wall, ".1f"), fmt(r.cpu, ".2f"),
                    fmt(r.rss / MIB if r.rss else None, ".0f"),
                    fmt(getattr(r, "alloc", None) and r.alloc / MIB, ".0f"),
                    fmt(r.emu_cpu, ".1f"), r.note])
    table(out)


if __name__ == "__main__":
    main()
