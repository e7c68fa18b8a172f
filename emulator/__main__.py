"""python3 -m emulator --port 0 --state-dir DIR [--speed X] [--s3-sink]
                     [--s3-bandwidth MIB_PER_S] [--task-quota N]"""
import argparse
import os
import sys

from .server import serve


def main():
    ap = argparse.ArgumentParser(prog="python3 -m emulator")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--state-dir", required=True)
    ap.add_argument("--speed", type=float, default=1.0)
    ap.add_argument("--s3-sink", action="store_true",
                    help="benchmarks: keep object sizes and checksums, not bytes")
    ap.add_argument("--s3-bandwidth", type=float, default=None, metavar="MIB_PER_S",
                    help="benchmarks: cap request and response bodies, all "
                    "connections together, at this many MiB/s (a link)")
    ap.add_argument("--task-quota", type=int, default=5,
                    help="concurrent import/export tasks per region (ResourceLimitExceeded beyond)")
    a = ap.parse_args()
    if a.s3_bandwidth is not None and a.s3_bandwidth <= 0:
        ap.error("--s3-bandwidth must be a positive number of MiB/s")
    bandwidth = a.s3_bandwidth * (1 << 20) if a.s3_bandwidth else None
    httpd = serve(a.state_dir, a.port, a.speed, a.s3_sink, bandwidth)
    httpd.emulator.task_quota = max(1, a.task_quota)
    port = httpd.server_address[1]
    tmp = os.path.join(a.state_dir, "port.tmp")
    with open(tmp, "w") as f:
        f.write(f"{port}\n")
    os.replace(tmp, os.path.join(a.state_dir, "port"))
    print(f"emulator listening on 127.0.0.1:{port}", flush=True)
    try:
        httpd.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        httpd.server_close()
    return 0


sys.exit(main())
