"""What the fault and kill -9 campaigns share (test_fault_campaign.py,
test_kill_campaign.py, test_resume.py): an emulator that can be stopped
and started again on the same state directory and port (an outage, as a
client sees one: connections refused), vmie's clock scaled with the
emulator's (VMIE_POLL_SCALE: backoff, the outage window and polls all
shrink together, so a 3-minute outage costs under two seconds), and the
checks that a run left exactly what it should and nothing else."""
import hashlib
import json
import os
import pathlib
import signal
import subprocess
import sys
import threading
import time
import urllib.request

from conftest import EMU_ACCESS_KEY, EMU_SECRET_KEY, ROOT

MIB = 1 << 20

# vmie's clock runs SCALE times as fast as a user's: a 10-minute outage
# window is 6 s, a 3-minute outage 1.8 s.
SCALE = 0.01
# The emulator's clock: a 30-minute import task takes 3 s.
SPEED = 600.0


def emulated(seconds):
    """Real seconds for `seconds` of vmie's (scaled) time."""
    return seconds * SCALE


class Emulator:
    """python3 -m emulator on a fixed port and state directory, which a
    test stops and starts again at will."""

    def __init__(self, tmp_path, speed=SPEED):
        self.state = tmp_path / "emu-state"
        self.state.mkdir(exist_ok=True)
        self.speed = speed
        self.port = 0
        self.proc = None
        self.logs = []
        self.lock = threading.Lock()
        self.tmp = tmp_path
        self.start()
        self.url = f"http://127.0.0.1:{self.port}"

    def start(self):
        portfile = self.state / "port"
        if portfile.exists():
            portfile.unlink()
        log = open(self.tmp / f"emulator-{len(self.logs)}.log", "wb")
        self.logs.append(log)
        self.proc = subprocess.Popen(
            [sys.executable or "/usr/bin/python3", "-m", "emulator", "--port", str(self.port),
             "--state-dir", str(self.state), "--speed", str(self.speed)],
            cwd=str(ROOT), stdout=log, stderr=subprocess.STDOUT)
        deadline = time.time() + 20
        while not portfile.exists():
            if self.proc.poll() is not None or time.time() > deadline:
                raise RuntimeError("the emulator did not start: " +
                                   (self.tmp / f"emulator-{len(self.logs) - 1}.log").read_text())
            time.sleep(0.02)
        self.port = int(portfile.read_text())

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()  # a crash: no goodbye to the clients
            self.proc.wait()

    def outage(self, seconds):
        """Down for `seconds` (real), then up again on the same state."""
        with self.lock:
            self.stop()
            time.sleep(seconds)
            self.start()

    def close(self):
        self.stop()
        for log in self.logs:
            log.close()

    def control(self, method, route, body=None):
        data = json.dumps(body).encode() if body is not None else None
        rq = urllib.request.Request(f"{self.url}/_vmie/{route}", data=data, method=method,
                                    headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(rq, timeout=30) as r:
            return json.loads(r.read() or b"null")

    def try_control(self, method, route, body=None):
        """The same, None while the emulator is down."""
        try:
            return self.control(method, route, body)
        except OSError:
            return None


def env_for(clean_env, emu, **extra):
    env = dict(clean_env)
    env.update({
        "AWS_ACCESS_KEY_ID": EMU_ACCESS_KEY,
        "AWS_SECRET_ACCESS_KEY": EMU_SECRET_KEY,
        "AWS_REGION": "us-west-2",
        "AWS_ENDPOINT_URL": emu.url,
        "VMIE_POLL_SCALE": str(SCALE),
        "VMIE_SANBOOT_SSM_TIMEOUT_S": "120",
    })
    env.update({k: str(v) for k, v in extra.items()})
    return env


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(MIB), b""):
            h.update(block)
    return h.hexdigest()


def wait_for(cond, what, timeout=60, step=0.05):
    deadline = time.time() + timeout
    while time.time() < deadline:
        got = cond()
        if got:
            return got
        time.sleep(step)
    raise AssertionError(f"timed out waiting for {what}")


def start(vmie_bin, args, env):
    return subprocess.Popen([vmie_bin, *args], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def finish(p, timeout=180, keep=None):
    """Waits for p; its stderr also into `keep` (a path), to read after."""
    out, err = p.communicate(timeout=timeout)
    if keep:
        pathlib.Path(keep).write_text(err)
    return p.returncode, out, err


def kill9(p):
    p.send_signal(signal.SIGKILL)
    p.communicate(timeout=30)


def state(emu):
    return emu.control("GET", "state")


def parts_open(emu):
    ups = state(emu)["s3"]["multipart_uploads_open"]
    return sum(u["parts"] for u in ups)


def requests(emu, op=None):
    return [q for q in emu.control("GET", "requests") if op is None or q["operation"] == op]


def sent_bytes(emu, op="UploadPart"):
    """Body bytes of the requests of `op` the emulator logged."""
    return sum(int(q["headers"].get("Content-Length") or 0) for q in requests(emu, op))


def left_nothing(emu, imports=1, exports=0, images=None):
    """Exactly one task of each kind, every one completed; no instance
    running; no multipart upload open; `images` AMIs."""
    deadline = time.time() + 10
    while True:
        s = state(emu)
        ec2 = s["ec2"]
        live = ec2["instances_not_terminated"]
        if not live or time.time() > deadline:
            break
        time.sleep(0.1)
    assert live == [], f"instances left: {live}"
    assert s["s3"]["multipart_uploads_open"] == [], s["s3"]["multipart_uploads_open"]
    tasks = ec2["import_tasks"]
    assert tasks == ({"completed": tasks.get("completed", [])} if imports else {}), tasks
    assert len(tasks.get("completed", [])) == imports, tasks
    etasks = ec2["export_tasks"]
    assert etasks == ({"completed": etasks.get("completed", [])} if exports else {}), etasks
    assert len(etasks.get("completed", [])) == exports, etasks
    if images is not None:
        assert ec2["images"] == images, ec2["images"]
    return s


def journals(env):
    d = pathlib.Path(env["XDG_STATE_HOME"]) / "vmie" / "runs"
    return sorted(d.glob("*.json")) if d.exists() else []


def journal(env):
    (j,) = journals(env)
    return json.loads(j.read_text())


def mode_of(path):
    return oct(os.stat(path).st_mode & 0o777)
