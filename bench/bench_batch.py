#!/usr/bin/python3
"""vmie batch against the same VMs imported one after another (the shell
loop it replaces), on this machine, against the project's emulator.

  /usr/bin/python3 bench/bench_batch.py [--vmie build/vmie] [--work DIR]
                                        [--vms 20] [--mib 64] [--speed 300]
                                        [--quota 5]

Each VM is a small Linux disk (--mib MiB, a few of them random data); the
emulator's clock runs --speed times faster than AWS's, so an import task
of AWS's half hour takes 1800/speed seconds here, and its region allows
--quota tasks at once (AWS's default, 5).  The loop runs `vmie import`
per VM; the batch runs `vmie batch` over a manifest of the same images
with --max-tasks at the quota.  Printed side by side: wall seconds, CPU
seconds, peak RSS, the most tasks the emulator saw at once, and the
speed-up.  Nothing is asserted.
"""
import argparse
import json
import os
import shutil
import signal
import sys
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench_import as bi  # noqa: E402  (the emulator, measuring, the env)

BUCKET = "vmie-bench-batch"
MIB = 1 << 20


def make_vm(path, size, seed):
    """A sparse disk with an MBR, one Linux partition and its ext4 magic
    (what the preflight and the emulator take for a boot disk), and a few
    MiB of data that differ per VM."""
    if os.path.exists(path) and os.path.getsize(path) == size:
        return
    with open(path, "wb") as f:
        f.truncate(size)
        sectors = size // 512 - 2048
        f.seek(446)
        f.write(bytes([0x80, 0, 0, 0, 0x83, 0, 0, 0]) + (2048).to_bytes(4, "little") +
                sectors.to_bytes(4, "little"))
        f.seek(510)
        f.write(b"\x55\xaa")
        f.seek(2048 * 512 + 1024 + 56)
        f.write(b"\x53\xef")
        f.seek(2048 * 512 + 64 * 1024)
        rnd = os.urandom(min(size // 8, 8 * MIB))
        f.write(rnd[:len(rnd) - (seed % 7)])


def state(endpoint):
    with urllib.request.urlopen(endpoint + "/_vmie/state", timeout=30) as r:
        return json.load(r)


def high_water(endpoint):
    return state(endpoint)["ec2"]["task_quota"]["high_water"].get(bi.REGION, 0)


def reset_high_water(emu_dir):
    """Each run's figure on its own: a fresh emulator state per run."""
    shutil.rmtree(emu_dir, ignore_errors=True)


def run_loop(args, env, images, emu_pid):
    """vmie import, one VM after the other: wall and CPU summed."""
    total = bi.Result("20 VMs" if len(images) == 20 else f"{len(images)} VMs",
                      "vmie import, one after another", 0, 0, 0, None, 0)
    for i, img in enumerate(images):
        r = bi.measure("", "", [args.vmie, "import", "--s3-bucket", BUCKET, "--source", img,
                                "--s3-key", f"loop-{i}.raw", "--no-progress", "-q"],
                       env, None, emu_pid)
        if r.wall is None:
            return r
        total.wall += r.wall
        total.cpu += r.cpu
        total.rss = max(total.rss, r.rss)
        total.emu_cpu += r.emu_cpu
    return total


def run_batch(args, env, images, emu_pid):
    manifest = os.path.join(args.work, "vms.csv")
    with open(manifest, "w") as f:
        f.write("name,source,s3-key\n")
        for i, img in enumerate(images):
            f.write(f"vm{i},{img},batch-{i}.raw\n")
    results = os.path.join(args.work, "vms.vmie-batch")
    shutil.rmtree(results, ignore_errors=True)
    return bi.measure(f"{len(images)} VMs", f"vmie batch --max-tasks {args.quota}",
                      [args.vmie, "batch", "--s3-bucket", BUCKET, "--max-tasks",
                       str(args.quota), "--results", results, "--no-progress", manifest],
                      env, None, emu_pid)


def one(args, images, what):
    """A fresh emulator for each run, so each high-water mark is its own."""
    emu, endpoint = bi.start_emulator(args.work, sink=False, speed=args.speed,
                                      extra=["--task-quota", str(args.quota)])
    env = bi.aws_env(endpoint)
    env["VMIE_POLL_SCALE"] = str(min(1.0, 30.0 / args.speed))
    try:
        r = what(args, env, images, emu.pid)
        r.note = f"at most {high_water(endpoint)} tasks at once"
        return r
    finally:
        emu.send_signal(signal.SIGTERM)
        emu.wait()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--vmie", default=os.path.join(bi.ROOT, "build", "vmie"))
    ap.add_argument("--work", default=os.path.join("/tmp", "vmie-bench-batch"))
    ap.add_argument("--vms", type=int, default=20)
    ap.add_argument("--mib", type=int, default=64)
    ap.add_argument("--speed", type=float, default=300.0)
    ap.add_argument("--quota", type=int, default=5)
    args = ap.parse_args()
    args.vmie = os.path.abspath(args.vmie)
    if not os.access(args.vmie, os.X_OK):
        sys.exit(f"bench: no vmie binary at {args.vmie} (make build)")
    os.makedirs(args.work, exist_ok=True)
    images = []
    for i in range(args.vms):
        path = os.path.join(args.work, f"vm{i}.raw")
        make_vm(path, args.mib * MIB, i)
        images.append(path)

    loop = one(args, images, run_loop)
    batch = one(args, images, run_batch)
    rows = [["scenario", "tool", "wall s", "CPU s", "peak RSS MiB", "MiB/s",
             "emulator CPU s", "note"], loop.row(), batch.row()]
    widths = [max(len(str(r[i])) for r in rows) for i in range(len(rows[0]))]
    print()
    print(f"vmie bench batch, {time.strftime('%Y-%m-%d %H:%M')}, {os.cpu_count()} CPUs; "
          f"{args.vms} VMs of {args.mib} MiB, import tasks of {1800 / args.speed:.1f} s "
          f"(AWS's 30 min at speed {args.speed:g}), quota {args.quota}")
    for i, r in enumerate(rows):
        print("  ".join(str(c).ljust(w) for c, w in zip(r, widths)).rstrip())
        if i == 0:
            print("  ".join("-" * w for w in widths))
    if loop.wall and batch.wall:
        print(f"batch: {loop.wall / batch.wall:.1f}x faster than the loop")


if __name__ == "__main__":
    main()
