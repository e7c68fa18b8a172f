"""The log directory ($XDG_STATE_HOME/vmie/logs) is pruned by each run that
writes there: a log goes only when it is both beyond the newest
VMIE_LOG_KEEP_RUNS (50) and older than VMIE_LOG_KEEP_DAYS (30) days; nothing
that is not a vmie log is ever touched, nor anything through a symlink.
(The rules case by case are tests/unit/test_logprune.c; this is the real
binary, its settings and its messages.)"""
import os
import pathlib
import re
import time

from conftest import run

DAY = 86400


def log_dir(env):
    return pathlib.Path(env["XDG_STATE_HOME"]) / "vmie" / "logs"


def seed(env, n, age_days, start=0):
    """n vmie logs written age_days (and a minute per index) ago."""
    d = log_dir(env)
    d.mkdir(parents=True, exist_ok=True, mode=0o700)
    now = time.time()
    names = []
    for i in range(start, start + n):
        p = d / f"vmie-20250101-000000-{1000 + i}.log"
        p.write_text("old run\n")
        t = now - age_days * DAY - i * 60
        os.utime(p, (t, t))
        names.append(p.name)
    return names


def inspect(vmie_bin, env, tmp_path, *extra):
    image = tmp_path / "disk.raw"
    image.write_bytes(b"\0" * 4096)
    r = run(vmie_bin, ["inspect", str(image), *extra], env)
    assert r.returncode in (0, 4), r.stderr
    return r


def logs(env):
    return sorted(p.name for p in log_dir(env).iterdir()
                  if re.fullmatch(r"vmie-\d{8}-\d{6}-\d+\.log", p.name))


def test_defaults_keep_a_month_and_the_last_50(vmie_bin, clean_env, tmp_path):
    recent = seed(clean_env, 60, 2)
    inspect(vmie_bin, clean_env, tmp_path)
    assert set(recent) <= set(logs(clean_env)) and len(logs(clean_env)) == 61

    old = seed(clean_env, 30, 60, start=100)
    inspect(vmie_bin, clean_env, tmp_path)
    # 62 logs younger than 30 days stay; the old ones are beyond the last 50.
    assert not set(old) & set(logs(clean_env))
    assert len(logs(clean_env)) == 62


def test_last_runs_kept_however_old(vmie_bin, clean_env, tmp_path):
    old = seed(clean_env, 55, 400)
    inspect(vmie_bin, clean_env, tmp_path)
    left = logs(clean_env)
    assert len(left) == 50
    assert set(old[:49]) <= set(left)      # the newest old ones, and this run's
    assert not set(old[49:]) & set(left)


def test_settings_and_what_is_never_touched(vmie_bin, clean_env, tmp_path):
    old = seed(clean_env, 6, 400)
    d = log_dir(clean_env)
    (d / "notes.txt").write_text("mine")
    (d / "vmie-20250101-000000-1.log.bak").write_text("mine")
    outside = tmp_path / "precious"
    outside.write_text("not a log")
    (d / "vmie-20200101-000000-7.log").symlink_to(outside)
    (d / "vmie-20200101-000000-8.log").mkdir()
    for p in d.iterdir():                 # the others: as old as can be
        if p.name not in old:
            os.utime(p, (0, 0), follow_symlinks=False)

    env = dict(clean_env, VMIE_LOG_KEEP_RUNS="3", VMIE_LOG_KEEP_DAYS="0")
    r = inspect(vmie_bin, env, tmp_path, "--debug")
    # This run's log and the two newest old ones are the last 3 runs.
    assert "deleted 4 old log files" in r.stderr, r.stderr
    left = set(os.listdir(d))
    assert set(old[:2]) <= left and not set(old[2:]) & left
    assert {"notes.txt", "vmie-20250101-000000-1.log.bak", "vmie-20200101-000000-7.log",
            "vmie-20200101-000000-8.log"} <= left
    assert outside.read_text() == "not a log"
    assert len(logs(env)) == 5            # and the symlink, the directory

    # 'all' keeps everything; --log-file leaves the directory alone.
    seed(clean_env, 5, 400, start=50)
    inspect(vmie_bin, dict(env, VMIE_LOG_KEEP_DAYS="all"), tmp_path)
    assert len(logs(env)) == 11
    inspect(vmie_bin, env, tmp_path, "--log-file", str(tmp_path / "x.log"))
    assert len(logs(env)) == 11


def test_bad_setting_warns_and_keeps_the_default(vmie_bin, clean_env, tmp_path):
    old = seed(clean_env, 3, 400)
    env = dict(clean_env, VMIE_LOG_KEEP_RUNS="ten", VMIE_LOG_KEEP_DAYS="0")
    r = inspect(vmie_bin, env, tmp_path)
    warnings = [line for line in r.stderr.splitlines() if line.startswith("vmie: warning:")]
    assert warnings == ["vmie: warning: VMIE_LOG_KEEP_RUNS='ten' is not a number "
                        "(0 to 1000000) or 'all'; using 50"], r.stderr
    assert set(old) <= set(logs(env))     # the default 50 runs protect them
