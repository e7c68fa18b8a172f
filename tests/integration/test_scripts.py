"""The scripts --install-sanbootable sends to its instance (data/): they
parse (bash -n), pass shellcheck when it is installed, are compiled into
the binary byte for byte, and do what they say when run against stub
package managers (a PATH of fakes: nothing is installed for real)."""
import os
import shutil
import subprocess

import pytest

from conftest import ROOT

DATA = ROOT / "data"
INSTALL = DATA / "install_sanbootable.sh"
USERDATA = DATA / "ssm_agent_userdata.sh"
SCRIPTS = [INSTALL, USERDATA]
RELEASES = "https://github.com/ipxe/sanbootable/releases/latest/download"


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.name)
def test_bash_parses(script):
    r = subprocess.run(["bash", "-n", str(script)], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.name)
def test_shellcheck(script):
    sc = shutil.which("shellcheck")
    if not sc:
        pytest.skip("shellcheck is not installed (apt-get install shellcheck): "
                    "only bash -n checked the scripts")
    r = subprocess.run([sc, "-s", "bash", str(script)], capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.name)
def test_compiled_into_the_binary(vmie_bin, script):
    """The binary holds each script as a NUL-terminated string, exactly."""
    with open(vmie_bin, "rb") as f:
        binary = f.read()
    assert script.read_bytes() + b"\0" in binary


# --- running the scripts against fakes ------------------------------------------------

REAL_TOOLS = ["mktemp", "rm", "wc", "grep", "sync", "cat", "uname", "sed", "tr", "touch",
              "dirname"]


def stub(bindir, name, body):
    p = bindir / name
    p.write_text("#!/bin/bash\n" + body)
    p.chmod(0o755)


@pytest.fixture
def sandbox(tmp_path):
    """A PATH with the basic tools and nothing else; fakes are added by
    each test.  Every fake appends its argv to $STUB_LOG."""
    bindir = tmp_path / "bin"
    bindir.mkdir()
    for tool in REAL_TOOLS:
        real = shutil.which(tool)
        if real:
            (bindir / tool).symlink_to(real)
    state = tmp_path / "state"
    state.mkdir()
    env = {"PATH": str(bindir), "STUB_LOG": str(tmp_path / "log"), "STUB_STATE": str(state),
           "HOME": str(tmp_path), "TMPDIR": str(tmp_path)}
    # curl: -o FILE URL writes a fake package; IMDS calls answer.
    stub(bindir, "curl", r'''
echo "curl $*" >> "$STUB_LOG"
out=; url=
while [ $# -gt 0 ]; do
  case $1 in -o) out=$2; shift ;; -H|-X|-m|--retry|--retry-delay|--connect-timeout) shift ;;
  http*) url=$1 ;; esac; shift
done
case $url in
  */latest/api/token) echo TOKEN123; exit 0 ;;
  */meta-data/placement/region) echo us-west-2; exit 0 ;;
esac
[ -n "${STUB_CURL_FAIL:-}" ] && { echo "curl: (22) 404" >&2; exit 22; }
[ -n "$out" ] && echo "package from $url" > "$out"
exit 0
''')
    return bindir, env, tmp_path


def run_script(script, env):
    return subprocess.run(["/bin/bash", str(script)], env=env, capture_output=True,
                          text=True, timeout=60)


def log_of(tmp):
    p = tmp / "log"
    return p.read_text() if p.exists() else ""


def add_apt(bindir, fail_install=False):
    on_install = ("echo 'E: Unable to locate package open-iscsi' >&2; exit 100"
                  if fail_install else 'touch "$STUB_STATE/installed"')
    stub(bindir, "apt-get", '''
echo "apt-get $*" >> "$STUB_LOG"
case " $* " in *" install "*) ''' + on_install + ''' ;;
esac
exit 0
''')
    stub(bindir, "dpkg", '''
echo "dpkg $*" >> "$STUB_LOG"
[ -e "$STUB_STATE/installed" ] || exit 1
printf 'Package: sanbootable\\nStatus: install ok installed\\n'
''')
    stub(bindir, "dpkg-query", 'echo 0.3\n')


def test_install_with_apt(sandbox):
    bindir, env, tmp = sandbox
    add_apt(bindir)
    r = run_script(INSTALL, env)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "package manager: apt-get" in r.stdout
    assert "installed sanbootable 0.3 with apt-get" in r.stdout
    log = log_of(tmp)
    assert f"{RELEASES}/sanbootable.deb" in log
    assert "apt-get -q -y -o DPkg::Lock::Timeout=600 update" in log
    install = [line for line in log.splitlines() if " install " in line][0]
    assert install.endswith("/sanbootable.deb"), install
    assert "dpkg -s sanbootable" in log  # verified
    assert r.stderr == ""


def test_install_with_dnf(sandbox):
    bindir, env, tmp = sandbox
    stub(bindir, "dnf", 'echo "dnf $*" >> "$STUB_LOG"; touch "$STUB_STATE/installed"\n')
    stub(bindir, "rpm", '''
echo "rpm $*" >> "$STUB_LOG"
[ -e "$STUB_STATE/installed" ] || exit 1
case " $* " in *" --qf "*) printf '0.3-1' ;; *) echo sanbootable-0.3-1.noarch ;; esac
''')
    r = run_script(INSTALL, env)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "package manager: dnf" in r.stdout
    assert "installed sanbootable 0.3-1 with dnf" in r.stdout
    log = log_of(tmp)
    assert f"{RELEASES}/sanbootable.rpm" in log
    assert any(line.startswith("dnf -y install") and line.endswith("/sanbootable.rpm")
               for line in log.splitlines()), log
    assert "rpm -q sanbootable" in log


def test_install_failure_says_why_on_stderr(sandbox):
    bindir, env, tmp = sandbox
    add_apt(bindir, fail_install=True)
    r = run_script(INSTALL, env)
    assert r.returncode != 0
    assert "E: Unable to locate package open-iscsi" in r.stderr
    assert "vmie-sanbootable: error:" in r.stderr and "apt-get" in r.stderr
    assert "installed sanbootable" not in r.stdout


def test_download_failure_says_why(sandbox):
    bindir, env, tmp = sandbox
    add_apt(bindir)
    r = run_script(INSTALL, dict(env, STUB_CURL_FAIL="1"))
    assert r.returncode == 1
    assert f"could not download {RELEASES}/sanbootable.deb" in r.stderr


def test_no_package_manager(sandbox):
    bindir, env, tmp = sandbox
    r = run_script(INSTALL, env)
    assert r.returncode == 1
    assert "no apt-get, dnf or yum" in r.stderr


def add_systemctl(bindir, active_from_start):
    first = 'touch "$STUB_STATE/agent"' if active_from_start else ":"
    stub(bindir, "systemctl", first + '''
echo "systemctl $*" >> "$STUB_LOG"
case $1 in
  is-active) [ -e "$STUB_STATE/agent-running" ] || [ -e "$STUB_STATE/agent" ] ;;
  list-unit-files) [ -e "$STUB_STATE/agent-installed" ] && echo "amazon-ssm-agent.service enabled" ;;
  enable) exit 0 ;;
  restart) touch "$STUB_STATE/agent-running" ;;
esac
''')


def test_userdata_leaves_a_running_agent(sandbox):
    bindir, env, tmp = sandbox
    add_systemctl(bindir, active_from_start=True)
    r = run_script(USERDATA, env)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "already running" in r.stdout
    assert "curl" not in log_of(tmp)


def test_userdata_installs_the_agent_from_the_regional_bucket(sandbox):
    """No agent: the region comes from IMDSv2 (token first), the .deb from
    the region's SSM bucket, then the agent is enabled and started.  (On
    an Ubuntu host with snap the snap would be used; the sandbox has no
    snap.)"""
    bindir, env, tmp = sandbox
    add_systemctl(bindir, active_from_start=False)
    stub(bindir, "dpkg", 'echo "dpkg $*" >> "$STUB_LOG"; touch "$STUB_STATE/agent-installed"\n')
    r = run_script(USERDATA, env)
    assert r.returncode == 0, r.stdout + r.stderr
    log = log_of(tmp)
    arch = {"x86_64": "amd64", "aarch64": "arm64"}[os.uname().machine]
    assert "X-aws-ec2-metadata-token-ttl-seconds" in log  # IMDSv2
    assert "X-aws-ec2-metadata-token: TOKEN123" in log
    assert (f"https://s3.us-west-2.amazonaws.com/amazon-ssm-us-west-2/latest/debian_{arch}/"
            "amazon-ssm-agent.deb") in log
    assert "dpkg -i" in log
    assert "systemctl restart amazon-ssm-agent" in log
    assert "started amazon-ssm-agent" in r.stdout
