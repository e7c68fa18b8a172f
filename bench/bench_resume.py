#!/usr/bin/python3
"""What a crash costs: vmie import of a 2 GiB image killed with SIGKILL
at 90 % of its upload, then the same command again, against the time of a
whole upload of the same image -- the rerun should take at most 15 % of it
(issue 11).

  /usr/bin/python3 bench/bench_resume.py [--vmie build/vmie] [--work DIR]
                                         [--gib 2] [--at 0.9] [--link 100]

Against the project's emulator in --s3-sink mode (S3 keeps sizes and
checksums, not bytes) behind a link of --link MiB/s (its --s3-bandwidth;
0: loopback, where a run's fixed costs weigh most), --upload-only (no
import task: the upload is what is measured).  Both upload formats: the
disk as it is (the rerun seeks to its first missing part) and the VMDK
made on the fly (the rerun makes it again from the disk's start, sending
only the missing parts).  Prints wall time, CPU seconds and the bytes each run sent
(the emulator's request log), side by side, and the ratio.  Nothing is
asserted; the figures are this machine's.
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
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
MIB = 1 << 20
GIB = 1 << 30
BUCKET = "vmie-bench-resume"
PY = "/usr/bin/python3"


def make_image(path, size):
    """A RAW disk with an MBR and a Linux partition (the preflight's and
    the sniffer's checks pass), 1/4 of it random data, the rest zeros."""
    with open(path, "wb") as f:
        f.truncate(size)
        f.seek(446)
        f.write(struct.pack("<B3sB3sII", 0x80, b"\0\0\0", 0x83, b"\0\0\0", 2048,
                            size // 512 - 2048))
        f.seek(510)
        f.write(b"\x55\xaa")
        sb = 2048 * 512 + 1024
        f.seek(sb + 56)
        f.write(struct.pack("<H", 0xEF53))
        f.seek(sb + 0x60)
        f.write(struct.pack("<I", 0x40))
        f.seek(2048 * 512 + 64 * 1024)
        for _ in range(size // 4 // (64 * MIB)):
            f.write(os.urandom(64 * MIB))


class Emulator:
    def __init__(self, work, link):
        state = os.path.join(work, "emu-state")
        shutil.rmtree(state, ignore_errors=True)
        os.makedirs(state)
        self.log = open(os.path.join(work, "emulator.log"), "wb")
        self.proc = subprocess.Popen([PY, "-m", "emulator", "--port", "0", "--state-dir", state,
                                      "--speed", "1000", "--s3-sink"] +
                                     (["--s3-bandwidth", f"{link:g}"] if link else []), cwd=ROOT,
                                     stdout=self.log, stderr=subprocess.STDOUT)
        portfile = os.path.join(state, "port")
        deadline = time.time() + 15
        while not os.path.exists(portfile):
            if self.proc.poll() is not None or time.time() > deadline:
                sys.exit("bench: the emulator did not start; see " + self.log.name)
            time.sleep(0.05)
        with open(portfile) as f:
            self.url = f"http://127.0.0.1:{f.read().strip()}"

    def control(self, method, route):
        rq = urllib.request.Request(f"{self.url}/_vmie/{route}", method=method)
        with urllib.request.urlopen(rq, timeout=30) as r:
            return json.loads(r.read() or b"null")

    def uploads(self):
        return [q for q in self.control("GET", "requests") if q["operation"] == "UploadPart"]

    def sent(self):
        return sum(int(q["headers"].get("Content-Length") or 0) for q in self.uploads())

    def parts_open(self):
        return sum(u["parts"] for u in self.control("GET", "state")["s3"]["multipart_uploads_open"])

    def cpu(self):
        """utime+stime of the emulator so far, in seconds."""
        with open(f"/proc/{self.proc.pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def stop(self):
        self.proc.terminate()
        self.proc.wait()
        self.log.close()


def env_for(emu, work):
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update({"AWS_ACCESS_KEY_ID": "AKIAVMIEEMULATOR0001",
                "AWS_SECRET_ACCESS_KEY": "vmie/emulator/secret/key/not/for/aws/0001",
                "AWS_REGION": "us-west-2", "AWS_ENDPOINT_URL": emu.url,
                "AWS_CONFIG_FILE": os.path.join(work, "none"),
                "AWS_SHARED_CREDENTIALS_FILE": os.path.join(work, "none"),
                "AWS_EC2_METADATA_DISABLED": "true",
                "XDG_STATE_HOME": os.path.join(work, "state")})
    return env


def timed(argv, env):
    t0 = time.monotonic()
    p = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, ru = os.wait4(p.pid, 0)
    err = p.stderr.read().decode(errors="replace")
    if os.waitstatus_to_exitcode(status) != 0:
        sys.exit(f"bench: {' '.join(argv)} failed:\n{err}")
    return time.monotonic() - t0, ru.ru_utime + ru.ru_stime


def measure(a, emu, env, image, fmt):
    """One format: a whole upload, then one killed at --at and run again."""
    def cmd(key):
        return [a.vmie, "import", "--s3-bucket", BUCKET, "--source", image, "--s3-key", key,
                "--upload-format", fmt, "--upload-only", "--no-progress"]

    # Warm the page cache and create the bucket: neither run pays for it.
    timed(cmd(f"warm-{fmt}"), env)
    emu.control("DELETE", "requests")
    e0 = emu.cpu()
    full_wall, full_cpu = timed(cmd(f"full-{fmt}"), env)
    full_emu = emu.cpu() - e0
    full_sent = emu.sent()
    parts = len(emu.uploads())

    p = subprocess.Popen(cmd(f"resumed-{fmt}"), env=env, stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL)
    while emu.parts_open() < a.at * parts:
        if p.poll() is not None:
            sys.exit("bench: the upload ended before it could be killed")
        time.sleep(0.01)
    p.send_signal(signal.SIGKILL)
    p.wait()
    held = emu.parts_open()
    emu.control("DELETE", "requests")
    e0 = emu.cpu()
    re_wall, re_cpu = timed(cmd(f"resumed-{fmt}"), env)
    re_emu = emu.cpu() - e0
    re_sent = emu.sent()
    return {"parts": parts, "held": held,
            "full": (full_wall, full_cpu, full_emu, full_sent),
            "rerun": (re_wall, re_cpu, re_emu, re_sent)}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--vmie", default=os.path.join(ROOT, "build", "vmie"))
    ap.add_argument("--work", default=None)
    ap.add_argument("--gib", type=float, default=2.0)
    ap.add_argument("--at", type=float, default=0.9, help="kill at this fraction of the parts")
    ap.add_argument("--link", type=float, default=100.0,
                    help="the emulator's link in MiB/s (0: loopback, uncapped)")
    a = ap.parse_args()
    work = a.work or tempfile.mkdtemp(prefix="vmie-bench-resume-")
    os.makedirs(work, exist_ok=True)
    size = int(a.gib * GIB)
    image = os.path.join(work, "disk.raw")
    if not os.path.exists(image) or os.path.getsize(image) != size:
        make_image(image, size)
    emu = Emulator(work, a.link)
    env = env_for(emu, work)
    try:
        figures = {fmt: measure(a, emu, env, image, fmt) for fmt in ("as-is", "vmdk")}
    finally:
        emu.stop()

    link = f"a {a.link:g} MiB/s link" if a.link else "loopback, no link cap"
    print(f"vmie import --upload-only of a {a.gib:g} GiB image (1/4 data), over {link}, "
          f"killed with SIGKILL at {100 * a.at:.0f} % of its parts, then the same command")
    print(f"{'run':<36} {'wall s':>7} {'vmie CPU s':>11} {'emulator CPU s':>15} "
          f"{'MiB sent':>9}")
    for fmt, f in figures.items():
        for label, (wall, cpu, emu_cpu, sent) in (
                (f"{fmt}: whole upload ({f['parts']} parts)", f["full"]),
                (f"{fmt}: after kill -9 at {f['held']} parts", f["rerun"])):
            print(f"{label:<36} {wall:>7.2f} {cpu:>11.2f} {emu_cpu:>15.2f} {sent / MIB:>9.0f}")
    for fmt, f in figures.items():
        print(f"{fmt}: rerun / whole: {100 * f['rerun'][0] / f['full'][0]:.1f} % of the time, "
              f"{100 * f['rerun'][3] / max(f['full'][3], 1):.1f} % of the bytes "
              f"(goal: at most 15 % of the time)")


if __name__ == "__main__":
    main()
