"""python3 -m emulator --port 0 --state-dir DIR [--speed X] [--s3-sink] [--task-quota N]"""
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
    ap.add_argument("--task-quota", type=int, default=5,
                    help="concurrent import/export tasks per region (ResourceLimitExceeded beyond)")
    a = ap.parse_args()
    httpd = serve(a.state_dir, a.port, a.speed, a.s3_sink)
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
