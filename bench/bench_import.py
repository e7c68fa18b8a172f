#!/usr/bin/python3
"""vmie's import pipeline side by side with the tools it replaces, on the
same input, in one run, on this machine.

  /usr/bin/python3 bench/bench_import.py [--vmie build/vmie] [--work DIR]
                                         [--local-gib 2] [--compressed-gib 1]
                                         [--rss-gib 1,8] [--only local,compressed,rss]

Everything runs against the project's emulator in --s3-sink mode (S3 keeps
sizes and checksums, not bytes), so the figures are the clients'.  The
emulator's own CPU is printed too: when it nears one core per second of
wall time, the emulator is the bottleneck and the wall times say so.

For each run: wall seconds, CPU seconds (user+sys of the process and its
children), peak RSS, and the rate in MiB/s of image bytes.  Nothing here
is asserted; the README's performance section quotes a run.
"""
import argparse
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
MIB = 1 << 20
GIB = 1 << 30
BUCKET = "vmie-bench"
AKID = "AKIAVMIEEMULATOR0001"
SECRET = "vmie/emulator/secret/key/not/for/aws/0001"
REGION = "us-west-2"
AWS_CLI = "/usr/bin/aws"
PY = "/usr/bin/python3"


# --- measuring --------------------------------------------------------------

def proc_cpu(pid):
    """utime+stime of a running process, in seconds (Linux /proc)."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class Result:
    def __init__(self, scenario, tool, wall=None, cpu=None, rss=None, nbytes=None,
                 emu_cpu=None, note=""):
        self.scenario, self.tool, self.note = scenario, tool, note
        self.wall, self.cpu, self.rss, self.nbytes, self.emu_cpu = wall, cpu, rss, nbytes, emu_cpu

    def row(self):
        def f(v, fmt):
            return format(v, fmt) if v is not None else "-"
        rate = self.nbytes / MIB / self.wall if self.wall and self.nbytes else None
        return [self.scenario, self.tool, f(self.wall, ".2f"), f(self.cpu, ".2f"),
                f(self.rss / MIB if self.rss else None, ".0f"), f(rate, ".0f"),
                f(self.emu_cpu, ".2f"), self.note]


def measure(scenario, tool, argv, env, nbytes, emu_pid=None, stdout=subprocess.DEVNULL,
            shell=False):
    """Run argv to completion; wall, CPU and peak RSS from wait4."""
    emu0 = proc_cpu(emu_pid) if emu_pid else None
    t0 = time.monotonic()
    err = tempfile.TemporaryFile()
    p = subprocess.Popen(argv, env=env, stdout=stdout, stderr=err, shell=shell)
    _, status, ru = os.wait4(p.pid, 0)
    wall = time.monotonic() - t0
    p.returncode = os.waitstatus_to_exitcode(status)
    emu = proc_cpu(emu_pid) - emu0 if emu_pid else None
    if p.returncode != 0:
        err.seek(0)
        msg = err.read().decode(errors="replace").strip().splitlines()
        return Result(scenario, tool, note=f"failed (exit {p.returncode}): "
                      f"{msg[-1][:80] if msg else ''}")
    return Result(scenario, tool, wall, ru.ru_utime + ru.ru_stime, ru.ru_maxrss * 1024,
                  nbytes, emu)


# --- the world: emulator, http server, inputs -------------------------------

def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def port_free(port):
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
            return True
        except OSError:
            return False


def start_emulator(work, sink=True, speed=1000, extra=()):
    state = os.path.join(work, "emu-state" if sink else "emu-state-bytes")
    shutil.rmtree(state, ignore_errors=True)
    os.makedirs(state)
    log = open(os.path.join(work, "emulator.log"), "wb")
    # Debian 12's awscrt (0.16) ignores the port in the Host header and
    # connects to 80: give it that port when we may.
    port = "80" if os.geteuid() == 0 and port_free(80) else "0"
    p = subprocess.Popen([PY, "-m", "emulator", "--port", port, "--state-dir", state,
                          "--speed", str(speed)] + (["--s3-sink"] if sink else []) +
                         list(extra),
                         cwd=ROOT, stdout=log,
                         stderr=subprocess.STDOUT)
    portfile = os.path.join(state, "port")
    deadline = time.time() + 15
    while not os.path.exists(portfile):
        if p.poll() is not None or time.time() > deadline:
            sys.exit("bench: the emulator did not start; see " + log.name)
        time.sleep(0.05)
    with open(portfile) as f:
        return p, f"http://127.0.0.1:{f.read().strip()}"


def start_http(directory):
    port = free_port()
    p = subprocess.Popen([PY, "-m", "http.server", "--bind", "127.0.0.1", str(port),
                          "--directory", directory], stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL)
    for _ in range(100):
        try:
            socket.create_connection(("127.0.0.1", port), 0.2).close()
            return p, f"http://127.0.0.1:{port}"
        except OSError:
            time.sleep(0.05)
    sys.exit("bench: the http server did not start")


def make_random(path, size):
    if os.path.exists(path) and os.path.getsize(path) == size:
        return
    with open(path + ".tmp", "wb") as f:
        left = size
        while left:
            n = min(left, 16 * MIB)
            f.write(os.urandom(n))
            left -= n
    os.replace(path + ".tmp", path)


def make_disklike(path, size):
    """Half zero blocks, half random, interleaved by MiB: what a used disk
    image looks like to a compressor."""
    if os.path.exists(path) and os.path.getsize(path) == size:
        return
    with open(path + ".tmp", "wb") as f:
        for i in range(size // MIB):
            f.write(os.urandom(MIB) if i % 2 else bytes(MIB))
    os.replace(path + ".tmp", path)


def make_sparse(path, size):
    """A sparse file with a little data at the start and the end."""
    if os.path.exists(path) and os.path.getsize(path) == size:
        return
    with open(path, "wb") as f:
        f.write(os.urandom(MIB))
        f.truncate(size)
        f.seek(size - MIB)
        f.write(os.urandom(MIB))


def compress(src, kind):
    out = f"{src}.{ {'xz': 'xz', 'gzip': 'gz', 'zstd': 'zst'}[kind] }"
    if os.path.exists(out):
        return out
    cmd = {"xz": ["xz", "-1", "-T2", "--block-size=16MiB", "-c", src],
           "gzip": ["gzip", "-6", "-c", src],
           "zstd": ["zstd", "-3", "-T2", "-q", "-c", src]}[kind]
    with open(out + ".tmp", "wb") as f:
        subprocess.run(cmd, stdout=f, check=True)
    os.replace(out + ".tmp", out)
    return out


# --- the contenders ---------------------------------------------------------

def aws_env(endpoint):
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(AWS_ACCESS_KEY_ID=AKID, AWS_SECRET_ACCESS_KEY=SECRET, AWS_REGION=REGION,
               AWS_DEFAULT_REGION=REGION, AWS_ENDPOINT_URL=endpoint, AWS_PAGER="",
               AWS_EC2_METADATA_DISABLED="true", NO_COLOR="1")
    return env


def vmie_argv(vmie, source, key):
    # --upload-only: stop when the upload is complete (no ImportImage), the
    # point the other tools stop at.  --force: the inputs are bytes, not
    # bootable disks, and the preflight would rightly refuse them.
    # --upload-format as-is: the same bytes as the other tools send (the
    # VMDK made on the fly is bench_vmdk.py's).
    return [vmie, "import", "--source", source, "--s3-bucket", BUCKET, "--s3-key", key,
            "--upload-only", "--force", "--upload-format", "as-is", "--no-progress", "-q"]


BOTO3 = """
import os, sys, boto3
s3 = boto3.client("s3", endpoint_url=os.environ["AWS_ENDPOINT_URL"])
s3.upload_file(sys.argv[1], sys.argv[2], sys.argv[3])
"""

CRT = """
import os, sys
from urllib.parse import urlparse
from awscrt import auth, http, io, s3
path, bucket, key = sys.argv[1:4]
ep = urlparse(os.environ["AWS_ENDPOINT_URL"])
elg = io.EventLoopGroup()
boot = io.ClientBootstrap(elg, io.DefaultHostResolver(elg))
creds = auth.AwsCredentialsProvider.new_static(os.environ["AWS_ACCESS_KEY_ID"],
                                               os.environ["AWS_SECRET_ACCESS_KEY"])
client = s3.S3Client(bootstrap=boot, region=os.environ["AWS_REGION"],
                     credential_provider=creds, tls_mode=s3.S3RequestTlsMode.DISABLED,
                     part_size=8 << 20)
size = os.path.getsize(path)
headers = http.HttpHeaders([("Host", ep.netloc), ("Content-Length", str(size)),
                            ("Content-Type", "application/octet-stream")])
req = http.HttpRequest("PUT", f"/{bucket}/{key}", headers)
kw = {}
if hasattr(s3, "S3ChecksumConfig"):  # older awscrt (Debian 12's) has none
    kw["checksum_config"] = s3.S3ChecksumConfig(algorithm=s3.S3ChecksumAlgorithm.CRC32C,
                                                location=s3.S3ChecksumLocation.HEADER)
try:
    r = client.make_request(type=s3.S3RequestType.PUT_OBJECT, request=req,
                            send_filepath=path, **kw)
except TypeError:  # no send_filepath either: stream the file as the body
    r = client.make_request(type=s3.S3RequestType.PUT_OBJECT, request=http.HttpRequest(
        "PUT", f"/{bucket}/{key}", headers, body_stream=open(path, "rb")), **kw)
r.finished_future.result()
"""

# The reference tool's sequence for a compressed URL: download to a file,
# decompress it with Python's modules to another file, upload that.
REFERENCE = """
import bz2, gzip, lzma, os, shutil, sys, tempfile, urllib.request, boto3
url, kind, bucket, key = sys.argv[1:5]
work = tempfile.mkdtemp(dir=os.environ.get("BENCH_TMP"))
try:
    down = os.path.join(work, "download")
    with urllib.request.urlopen(url) as r, open(down, "wb") as f:
        shutil.copyfileobj(r, f, 1 << 20)
    plain = os.path.join(work, "image")
    if kind == "zstd":
        import zstandard
        with open(down, "rb") as i, open(plain, "wb") as o:
            zstandard.ZstdDecompressor().copy_stream(i, o)
    else:
        opener = {"xz": lzma.open, "gzip": gzip.open, "bzip2": bz2.open}[kind]
        with opener(down, "rb") as i, open(plain, "wb") as o:
            shutil.copyfileobj(i, o, 1 << 20)
    s3 = boto3.client("s3", endpoint_url=os.environ["AWS_ENDPOINT_URL"])
    s3.upload_file(plain, bucket, key)
finally:
    shutil.rmtree(work)
"""


def have_module(name):
    return subprocess.run([PY, "-c", f"import {name}"], capture_output=True).returncode == 0


def local_upload(args, env, emu_pid, results):
    path = os.path.join(args.work, f"local-{args.local_gib}g.bin")
    print(f"bench: writing {args.local_gib} GiB of random bytes to {path} (once)", flush=True)
    make_random(path, args.local_gib * GIB)
    size = os.path.getsize(path)
    sc = f"local {args.local_gib} GiB"
    results.append(measure(sc, "vmie", vmie_argv(args.vmie, path, "vmie.bin"), env, size,
                           emu_pid))
    # awscli 2.9 and boto3 1.26 (Debian 12's) predate AWS_ENDPOINT_URL.
    endpoint = env["AWS_ENDPOINT_URL"]
    results.append(measure(sc, "aws s3 cp", [AWS_CLI, "--endpoint-url", endpoint, "s3", "cp",
                                             "--only-show-errors", path,
                                             f"s3://{BUCKET}/awscli.bin"], env, size, emu_pid))
    if have_module("boto3"):
        results.append(measure(sc, "boto3 upload_file", [PY, "-c", BOTO3, path, BUCKET,
                                                         "boto3.bin"], env, size, emu_pid))
    else:
        results.append(Result(sc, "boto3 upload_file", note="n/a: install python3-boto3"))
    if have_module("awscrt.s3") and not endpoint.endswith(":80"):
        results.append(Result(sc, "AWS CRT S3 client",
                              note="n/a: this awscrt only reaches port 80 (run as root)"))
    elif have_module("awscrt.s3"):
        results.append(measure(sc, "AWS CRT S3 client", [PY, "-c", CRT, path, BUCKET,
                                                         "crt.bin"], env, size, emu_pid))
    else:
        results.append(Result(sc, "AWS CRT S3 client", note="n/a: install python3-awscrt"))


def compressed_sources(args, env, emu_pid, results):
    src = os.path.join(args.work, f"disklike-{args.compressed_gib}g.raw")
    print(f"bench: writing a {args.compressed_gib} GiB disk-like image and its compressed "
          "copies (once)", flush=True)
    make_disklike(src, args.compressed_gib * GIB)
    size = os.path.getsize(src)
    http_proc, base = start_http(args.work)
    try:
        for kind in ("xz", "gzip", "zstd"):
            comp = compress(src, kind)
            url = f"{base}/{os.path.basename(comp)}"
            sc = f"{kind} {args.compressed_gib} GiB via http"
            results.append(measure(sc, "vmie (stream)", vmie_argv(args.vmie, url, f"vmie-{kind}"),
                                   env, size, emu_pid))
            if kind == "zstd" and not have_module("zstandard"):
                results.append(Result(sc, "reference sequence",
                                      note="n/a: install python3-zstandard"))
            elif have_module("boto3"):
                results.append(measure(sc, "reference sequence",
                                       [PY, "-c", REFERENCE, url, kind, BUCKET, f"ref-{kind}"],
                                       dict(env, BENCH_TMP=args.work), size, emu_pid))
            bare = {"xz": f"xz -T2 -d -c '{comp}' >/dev/null",
                    "gzip": f"gzip -d -c '{comp}' >/dev/null",
                    "zstd": f"zstd -d -q -c '{comp}' >/dev/null"}[kind]
            results.append(measure(sc, f"{bare.split(' -c')[0]} alone", bare, env, size,
                                   shell=True))
    finally:
        http_proc.terminate()
        http_proc.wait()


def rss(args, env, emu_pid, results):
    for gib in args.rss_gib:
        path = os.path.join(args.work, f"sparse-{gib}g.raw")
        make_sparse(path, gib * GIB)
        results.append(measure(f"peak RSS, {gib} GiB sparse", "vmie",
                               vmie_argv(args.vmie, path, f"rss-{gib}"), env, gib * GIB,
                               emu_pid))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--vmie", default=os.path.join(ROOT, "build", "vmie"))
    ap.add_argument("--work", default=os.path.join(tempfile.gettempdir(), "vmie-bench"),
                    help="inputs are generated here once and reused")
    ap.add_argument("--local-gib", type=int, default=2)
    ap.add_argument("--compressed-gib", type=int, default=1)
    ap.add_argument("--rss-gib", default="1,8")
    ap.add_argument("--only", default="local,compressed,rss")
    args = ap.parse_args()
    args.rss_gib = [int(x) for x in args.rss_gib.split(",") if x]
    args.vmie = os.path.abspath(args.vmie)
    os.makedirs(args.work, exist_ok=True)
    if not os.access(args.vmie, os.X_OK):
        sys.exit(f"bench: no vmie binary at {args.vmie} (make build)")

    emu, endpoint = start_emulator(args.work)
    env = aws_env(endpoint)
    results = []
    try:
        subprocess.run([AWS_CLI, "--endpoint-url", endpoint, "s3api", "create-bucket", "--bucket", BUCKET,
                        "--create-bucket-configuration", f"LocationConstraint={REGION}"],
                       env=env, check=True, capture_output=True)
        only = args.only.split(",")
        if "local" in only:
            local_upload(args, env, emu.pid, results)
        if "compressed" in only:
            compressed_sources(args, env, emu.pid, results)
        if "rss" in only:
            rss(args, env, emu.pid, results)
    finally:
        emu.send_signal(signal.SIGTERM)
        emu.wait()

    head = ["scenario", "tool", "wall s", "CPU s", "peak RSS MiB", "MiB/s", "emulator CPU s",
            "note"]
    rows = [head] + [r.row() for r in results]
    widths = [max(len(str(r[i])) for r in rows) for i in range(len(head))]
    print()
    print(f"vmie bench, {time.strftime('%Y-%m-%d %H:%M')}, {os.cpu_count()} CPUs, "
          f"{os.uname().machine}")
    for i, r in enumerate(rows):
        print("  ".join(str(c).ljust(w) for c, w in zip(r, widths)).rstrip())
        if i == 0:
            print("  ".join("-" * w for w in widths))


if __name__ == "__main__":
    main()
