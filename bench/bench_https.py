#!/usr/bin/python3
"""vmie's upload and download over HTTPS, as AWS is reached, side by side
with curl, the AWS CLI and the AWS CRT, on the same bytes, in one run.

  /usr/bin/python3 bench/bench_https.py [--vmie build/vmie] [--work DIR] [--gib 2]
                                        [--repeat 3] [--only upload,download] [--perf]

Every other figure in bench/ is over plain http on loopback; real S3 is
HTTPS, where the client also pays for encryption.  Here Debian's nginx
terminates TLS in front of the emulator: a throwaway CA and certificate are
made at bench time (AWS_CA_BUNDLE points at the CA), nginx listens on
127.0.0.1:443 (the AWS CRT dials 443 whatever the endpoint says; so this
needs root) and proxies to the emulator over kept-alive connections with
request and response buffering off, so the bytes stream through.  The bench
starts and stops nginx and the emulator itself.

The contenders, on one file of random bytes (nothing to skip or compress):
  upload    vmie import --upload-only (multipart, CRC32C per part)
            curl -T to a presigned URL: one PUT, the floor for copy + TLS
            aws s3 cp (Debian's awscli), the AWS CRT S3 client
  download  vmie download (parallel ranged GETs, verified)
            curl -o from a presigned URL: one GET, the floor
            aws s3 cp, the AWS CRT S3 client
For each: wall seconds, CPU seconds (user+sys of the process and its
children) and per GiB, peak RSS, MiB/s, and the CPU nginx's workers and the
emulator spent meanwhile: when either nears one core per second of wall
time, it and not the client sets the wall time.  Each contender runs
--repeat times, interleaved, and the run of median CPU is shown with the
range over the runs: on a shared machine one run says little.  --perf adds a profile of
vmie's CPU over HTTPS (perf record -g, in a separate run so the timed one
is unperturbed), the top symbols.  Nothing here is asserted.
"""
import argparse
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

from bench_import import (AWS_CLI, BUCKET, GIB, MIB, PY, REGION, ROOT, Result, aws_env,
                          have_module, make_random, measure, proc_cpu, start_emulator)

HOST = "127.0.0.1"            # an IP: every client addresses S3 path-style
ENDPOINT = f"https://{HOST}"  # port 443

NGINX_CONF = """\
worker_processes {workers};
daemon off;
master_process on;
pid {work}/nginx.pid;
error_log {work}/nginx-error.log warn;
{user}
events {{ worker_connections 1024; }}
http {{
    access_log off;
    client_body_temp_path {work}/nginx-tmp/body;
    proxy_temp_path {work}/nginx-tmp/proxy;
    fastcgi_temp_path {work}/nginx-tmp/fastcgi;
    uwsgi_temp_path {work}/nginx-tmp/uwsgi;
    scgi_temp_path {work}/nginx-tmp/scgi;
    upstream emulator {{
        server 127.0.0.1:{port};
        keepalive 64;
    }}
    server {{
        listen 127.0.0.1:443 ssl;
        server_name {host};
        ssl_certificate {work}/server.pem;
        ssl_certificate_key {work}/server.key;
        ssl_protocols TLSv1.2 TLSv1.3;
        ssl_session_cache shared:TLS:1m;
        keepalive_requests 100000;
        client_max_body_size 0;
        client_body_timeout 600s;
        send_timeout 600s;
        # Stream both ways: no spooling of bodies to disk or memory.
        proxy_request_buffering off;
        proxy_buffering off;
        # With buffering off this is the one buffer a response passes
        # through: 4k would cost nginx a syscall pair per 4k.
        proxy_buffer_size 256k;
        proxy_buffers 4 256k;
        proxy_http_version 1.1;
        proxy_set_header Connection "";
        # SigV4 signs the Host the client sent: pass it as it came.
        proxy_set_header Host $http_host;
        proxy_read_timeout 600s;
        proxy_send_timeout 600s;
        location / {{ proxy_pass http://emulator; }}
    }}
}}
"""


# --- the TLS world -----------------------------------------------------------

def make_certificates(work):
    """A CA and a server certificate for 127.0.0.1 / localhost it signed."""
    ca_key, ca = os.path.join(work, "ca.key"), os.path.join(work, "ca.pem")
    key, csr = os.path.join(work, "server.key"), os.path.join(work, "server.csr")
    cert, ext = os.path.join(work, "server.pem"), os.path.join(work, "server.ext")
    run = lambda *a: subprocess.run(a, check=True, capture_output=True)  # noqa: E731
    run("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
        "-subj", "/CN=vmie bench throwaway CA", "-keyout", ca_key, "-out", ca,
        "-addext", "basicConstraints=critical,CA:TRUE",
        "-addext", "keyUsage=critical,keyCertSign,cRLSign")
    run("openssl", "req", "-newkey", "rsa:2048", "-nodes", "-subj", f"/CN={HOST}",
        "-keyout", key, "-out", csr)
    with open(ext, "w") as f:
        f.write(f"subjectAltName=IP:{HOST},DNS:localhost\n"
                "basicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\n"
                "extendedKeyUsage=serverAuth\n")
    run("openssl", "x509", "-req", "-in", csr, "-CA", ca, "-CAkey", ca_key,
        "-CAcreateserial", "-days", "2", "-extfile", ext, "-out", cert)
    return ca


def start_nginx(work, emulator_url):
    if not shutil.which("nginx") and not os.path.exists("/usr/sbin/nginx"):
        sys.exit("bench: nginx not found: scripts/bootstrap.sh --bench installs it")
    if os.geteuid() != 0:
        sys.exit("bench: the HTTPS runs need port 443 (the AWS CRT dials it): run as root")
    for sub in ("body", "proxy", "fastcgi", "uwsgi", "scgi"):
        os.makedirs(os.path.join(work, "nginx-tmp", sub), exist_ok=True)
    conf = os.path.join(work, "nginx.conf")
    with open(conf, "w") as f:
        f.write(NGINX_CONF.format(work=work, port=emulator_url.rsplit(":", 1)[1],
                                  host=HOST, workers=os.cpu_count() or 1,
                                  user="user root;" if os.geteuid() == 0 else ""))
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    p = subprocess.Popen([nginx, "-c", conf, "-e", os.path.join(work, "nginx-error.log")],
                         stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    deadline = time.time() + 10
    while not workers(p.pid):
        if p.poll() is not None or time.time() > deadline:
            with open(os.path.join(work, "nginx-error.log"), errors="replace") as f:
                sys.exit("bench: nginx did not start:\n" + f.read()[-2000:])
        time.sleep(0.05)
    return p


def stop(p):
    if p.poll() is None:
        p.send_signal(signal.SIGTERM)
        try:
            p.wait(10)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


def workers(master):
    """The pids of nginx's worker processes."""
    out = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == master:
            out.append(int(pid))
    return out


def nginx_cpu(master):
    total = 0.0
    for pid in workers(master):
        try:
            total += proc_cpu(pid)
        except OSError:
            pass
    return total


# --- the contenders ----------------------------------------------------------

CRT = """
import os, sys
from awscrt import auth, http, io, s3
direction, path, bucket, key, host = sys.argv[1:6]
elg = io.EventLoopGroup()
boot = io.ClientBootstrap(elg, io.DefaultHostResolver(elg))
opts = io.TlsContextOptions()
opts.override_default_trust_store_from_path(ca_filepath=os.environ["AWS_CA_BUNDLE"])
tls = io.ClientTlsContext(opts).new_connection_options()
tls.set_server_name(host)
creds = auth.AwsCredentialsProvider.new_static(os.environ["AWS_ACCESS_KEY_ID"],
                                               os.environ["AWS_SECRET_ACCESS_KEY"])
client = s3.S3Client(bootstrap=boot, region=os.environ["AWS_REGION"],
                     credential_provider=creds, tls_mode=s3.S3RequestTlsMode.ENABLED,
                     tls_connection_options=tls, part_size=8 << 20)
if direction == "upload":
    headers = http.HttpHeaders([("Host", host), ("Content-Length", str(os.path.getsize(path))),
                                ("Content-Type", "application/octet-stream")])
    r = client.make_request(type=s3.S3RequestType.PUT_OBJECT, send_filepath=path,
                            request=http.HttpRequest("PUT", f"/{bucket}/{key}", headers))
else:
    headers = http.HttpHeaders([("Host", host)])
    r = client.make_request(type=s3.S3RequestType.GET_OBJECT, recv_filepath=path,
                            request=http.HttpRequest("GET", f"/{bucket}/{key}", headers))
r.finished_future.result()
"""

PRESIGN = """
import os, sys, boto3
from botocore.config import Config
s3 = boto3.client("s3", endpoint_url=os.environ["AWS_ENDPOINT_URL"],
                  config=Config(signature_version="s3v4", s3={"addressing_style": "path"}))
method, bucket, key = sys.argv[1:4]
print(s3.generate_presigned_url(method, Params={"Bucket": bucket, "Key": key},
                                ExpiresIn=3600))
"""


def presign(env, method, key):
    r = subprocess.run([PY, "-c", PRESIGN, method, BUCKET, key], env=env, check=True,
                       capture_output=True, text=True)
    return r.stdout.strip()


def with_emu(result, emu_pid, emu0, master, nginx0):
    """Note nginx's and the emulator's CPU on a row measure() made."""
    result.emu_cpu = proc_cpu(emu_pid) - emu0
    result.nginx_cpu = nginx_cpu(master) - nginx0
    return result


def timed(sc, tool, argv, env, nbytes, emu_pid, master, **kw):
    emu0, nginx0 = proc_cpu(emu_pid), nginx_cpu(master)
    r = measure(sc, tool, argv, env, nbytes, **kw)
    return with_emu(r, emu_pid, emu0, master, nginx0)


def rounds(args, contenders, results):
    """Each contender --repeat times, interleaved (a busy neighbour then
    weighs on all alike); the row is the run of median CPU, its note the
    range of CPU s/GiB over the runs."""
    runs = {tool: [] for tool, _ in contenders}
    for _ in range(args.repeat):
        for tool, go in contenders:
            runs[tool].append(go())
    for tool, _ in contenders:
        done = sorted((r for r in runs[tool] if r.cpu is not None), key=lambda r: r.cpu)
        if not done:
            results.append(runs[tool][-1])
            continue
        row = done[len(done) // 2]
        if len(runs[tool]) > 1:
            per = [r.cpu / (r.nbytes / GIB) for r in done]
            spread = f"median of {len(done)}, CPU s/GiB {per[0]:.2f}-{per[-1]:.2f}"
            failed = len(runs[tool]) - len(done)
            row.note = "; ".join(x for x in (row.note, spread,
                                             f"{failed} failed" if failed else "") if x)
        results.append(row)


def upload(args, env, src, emu_pid, master, results):
    size = os.path.getsize(src)
    sc = f"upload {args.gib} GiB, https"
    url = presign(env, "put_object", "curl.bin")

    def run(tool, argv):
        return lambda: timed(sc, tool, argv, env, size, emu_pid, master)
    contenders = [
        ("vmie import --upload-only", run("vmie import --upload-only", [
            args.vmie, "import", "--source", src, "--s3-bucket", BUCKET, "--s3-key",
            "vmie.bin", "--upload-only", "--force", "--no-progress", "-q"])),
        ("curl -T (one PUT)", run("curl -T (one PUT)", [
            "curl", "-sS", "--fail", "--cacert", env["AWS_CA_BUNDLE"], "-T", src,
            "-o", "/dev/null", url])),
        ("aws s3 cp", run("aws s3 cp", [
            AWS_CLI, "--endpoint-url", ENDPOINT, "s3", "cp", "--only-show-errors", src,
            f"s3://{BUCKET}/awscli.bin"])),
    ]
    if have_module("awscrt.s3"):
        contenders.append(("AWS CRT S3 client", run("AWS CRT S3 client", [
            PY, "-c", CRT, "upload", src, BUCKET, "crt.bin", HOST])))
    rounds(args, contenders, results)
    if not have_module("awscrt.s3"):
        results.append(Result(sc, "AWS CRT S3 client", note="n/a: install python3-awscrt"))


def download(args, env, src, emu_pid, master, results):
    size = os.path.getsize(src)
    sc = f"download {args.gib} GiB, https"
    key = "exports/https.raw"
    out = os.path.join(args.out_dir, "vmie-bench-https-download.out")
    print("bench: storing the object (multipart, as an export is)", flush=True)
    subprocess.run([args.vmie, "import", "--source", src, "--s3-bucket", BUCKET, "--s3-key",
                    key, "--upload-only", "--force", "--no-progress", "-q"], env=env,
                   check=True, capture_output=True)

    def run(tool, argv):
        def go():
            if os.path.exists(out):
                os.unlink(out)
            r = timed(sc, tool, argv, env, size, emu_pid, master)
            if r.wall is not None:
                same = subprocess.run(["cmp", "-s", src, out]).returncode == 0
                r.note = "identical" if same else "DIFFERENT"
            return r
        return go
    contenders = [
        ("vmie download", run("vmie download", [
            args.vmie, "download", "--no-progress", "-q", "--overwrite",
            f"s3://{BUCKET}/{key}", out])),
        ("curl -o (one GET)", run("curl -o (one GET)", [
            "curl", "-sS", "--fail", "--cacert", env["AWS_CA_BUNDLE"], "-o", out,
            presign(env, "get_object", key)])),
        ("aws s3 cp", run("aws s3 cp", [
            AWS_CLI, "--endpoint-url", ENDPOINT, "s3", "cp", "--only-show-errors",
            f"s3://{BUCKET}/{key}", out])),
    ]
    if have_module("awscrt.s3"):
        contenders.append(("AWS CRT S3 client", run("AWS CRT S3 client", [
            PY, "-c", CRT, "download", out, BUCKET, key, HOST])))
    try:
        rounds(args, contenders, results)
    finally:
        if os.path.exists(out):
            os.unlink(out)
    if not have_module("awscrt.s3"):
        results.append(Result(sc, "AWS CRT S3 client", note="n/a: install python3-awscrt"))


def profile(args, env, src):
    """perf record -g of one more vmie upload; the top symbols by self time."""
    if not shutil.which("perf"):
        print("bench: --perf: perf not found (linux-perf)")
        return
    data = os.path.join(args.work, "vmie-https.perf")
    r = subprocess.run(["perf", "record", "-g", "-o", data, "--", args.vmie, "import",
                        "--source", src, "--s3-bucket", BUCKET, "--s3-key", "perf.bin",
                        "--upload-only", "--force", "--no-progress", "-q"], env=env,
                       capture_output=True, text=True)
    if r.returncode != 0:
        print(f"bench: --perf: perf record failed: {r.stderr.strip()[-300:]}")
        return
    # By library first (libcrypto's symbols are stripped: its time is
    # spread over addresses), then the symbols themselves.
    for title, sort in (("by library", "dso"), ("top symbols", "dso,symbol")):
        rep = subprocess.run(["perf", "report", "-i", data, "--stdio", "--no-children",
                              "--sort", sort, "--percent-limit", "1", "-g", "none"],
                             capture_output=True, text=True)
        print(f"\nvmie import over HTTPS, where its CPU goes (perf, self time >= 1 %, "
              f"{title}):")
        for line in rep.stdout.splitlines():
            if line.strip() and not line.startswith("#"):
                print("  " + " ".join(line.split()).replace(" - -", ""))


def print_table(results, gib):
    head = ["scenario", "tool", "wall s", "CPU s", "CPU s/GiB", "peak RSS MiB", "MiB/s",
            "nginx CPU s", "emulator CPU s", "note"]

    def f(v, fmt):
        return format(v, fmt) if v is not None else "-"
    rows = [head]
    for r in results:
        row = r.row()   # scenario, tool, wall, cpu, rss, rate, emu, note
        per = r.cpu / (r.nbytes / GIB) if r.cpu is not None and r.nbytes else None
        rows.append(row[:4] + [f(per, ".2f")] + row[4:6] +
                    [f(getattr(r, "nginx_cpu", None), ".2f")] + row[6:])
    widths = [max(len(str(r[i])) for r in rows) for i in range(len(head))]
    for i, r in enumerate(rows):
        print("  ".join(str(c).ljust(w) for c, w in zip(r, widths)).rstrip())
        if i == 0:
            print("  ".join("-" * w for w in widths))
    for direction, floor in (("upload", "curl -T (one PUT)"), ("download", "curl -o (one GET)")):
        by = {r.tool: r for r in results if r.scenario.startswith(direction)}
        v, c = by.get("vmie import --upload-only" if direction == "upload" else "vmie download"), \
            by.get(floor)
        if v and c and v.cpu and c.cpu:
            print(f"{direction}: vmie {v.cpu / gib:.2f} CPU s/GiB, {floor} {c.cpu / gib:.2f}: "
                  f"vmie = {v.cpu / c.cpu:.2f} x curl")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--vmie", default=os.path.join(ROOT, "build", "vmie"))
    ap.add_argument("--work", default=os.path.join(tempfile.gettempdir(), "vmie-bench"))
    ap.add_argument("--gib", type=int, default=2)
    ap.add_argument("--only", default="upload,download")
    ap.add_argument("--out-dir", help="where downloads are written (default: /dev/shm when "
                    "it has room, so the figures are the clients' and not this disk's; "
                    "else --work)")
    ap.add_argument("--repeat", type=int, default=3,
                    help="runs of each contender, interleaved; the median is shown "
                    "(a shared machine is noisy)")
    ap.add_argument("--perf", action="store_true",
                    help="also profile one vmie upload with perf record -g")
    args = ap.parse_args()
    args.vmie = os.path.abspath(args.vmie)
    args.work = os.path.abspath(args.work)
    os.makedirs(args.work, exist_ok=True)
    if not os.access(args.vmie, os.X_OK):
        sys.exit(f"bench: no vmie binary at {args.vmie} (make build)")
    only = args.only.split(",")
    if not args.out_dir:
        shm = "/dev/shm"
        room = shutil.disk_usage(shm).free if os.path.isdir(shm) else 0
        args.out_dir = shm if room > (args.gib + 1) * GIB else args.work

    src = os.path.join(args.work, f"local-{args.gib}g.bin")
    print(f"bench: writing {args.gib} GiB of random bytes to {src} (once)", flush=True)
    make_random(src, args.gib * GIB)
    ca = make_certificates(args.work)

    results = []
    for direction in ("upload", "download"):
        if direction not in only:
            continue
        # Upload: S3 keeps sizes and checksums, not bytes; download: the bytes.
        emu, plain = start_emulator(args.work, sink=direction == "upload")
        nginx = None
        try:
            nginx = start_nginx(args.work, plain)
            env = aws_env(ENDPOINT)
            env["AWS_CA_BUNDLE"] = ca
            subprocess.run([AWS_CLI, "--endpoint-url", ENDPOINT, "s3api", "create-bucket",
                            "--bucket", BUCKET, "--create-bucket-configuration",
                            f"LocationConstraint={REGION}"], env=env, check=True,
                           capture_output=True)
            if direction == "upload":
                upload(args, env, src, emu.pid, nginx.pid, results)
                if args.perf:
                    profile(args, env, src)
            else:
                download(args, env, src, emu.pid, nginx.pid, results)
        finally:
            if nginx:
                stop(nginx)
            stop(emu)

    print()
    print(f"vmie bench over HTTPS (nginx {nginx_version()} terminating TLS), "
          f"{time.strftime('%Y-%m-%d %H:%M')}, {os.cpu_count()} CPUs, {os.uname().machine}; "
          f"downloads written to {args.out_dir}")
    print_table(results, args.gib)


def nginx_version():
    r = subprocess.run([shutil.which("nginx") or "/usr/sbin/nginx", "-v"], capture_output=True,
                       text=True)
    return r.stderr.strip().rsplit("/", 1)[-1]


if __name__ == "__main__":
    main()
