"""The bash and zsh completions vmie-docgen writes at build time (build/doc/vmie
and build/doc/_vmie), driven as the shells drive them: bash by sourcing the
script, setting COMP_WORDS/COMP_CWORD and calling _vmie; zsh through a
pseudo-terminal (zpty) with compadd recording what the completion offers.

What they offer is checked against the binary itself: the options of each
command against `vmie CMD --help`, the values of an option against what vmie
accepts (each offered value passes, a wrong one is refused and, where the
hint lists the accepted ones, the two lists are the same)."""
import os
import pathlib
import re
import shlex
import shutil
import subprocess

import pytest

from conftest import run

COMMANDS = ["import", "export", "convert", "batch", "download", "inspect", "whoami", "runs"]
AMI = "ami-0123456789abcdef0"


@pytest.fixture(scope="module")
def docs(vmie_bin):
    d = pathlib.Path(vmie_bin).parent / "doc"
    if not (d / "vmie").exists() or not (d / "_vmie").exists():
        pytest.fail(f"no generated completions in {d}: build with meson (make build)")
    return d


def help_options(vmie_bin, env, cmd=None):
    """The long and short options `vmie [CMD] --help` lists."""
    out = run(vmie_bin, ([cmd] if cmd else []) + ["--help"], env).stdout
    opts = set()
    for m in re.finditer(r"^  (?:(-\w), |    )(--[a-z0-9][a-z0-9-]*)", out, re.M):
        opts.update(o for o in m.groups() if o)
    return opts


def help_placeholders(vmie_bin, env, cmd):
    """{--option: placeholder} from `vmie CMD --help`."""
    out = run(vmie_bin, [cmd, "--help"], env).stdout
    return dict(re.findall(r"^  (?:-\w, |    )(--[a-z0-9-]+) ([^ \n]+)", out, re.M))


# --- bash --------------------------------------------------------------------

def bash_complete(docs, words, env, cwd=None, bash_completion=False):
    """COMPREPLY after `words` (the last one is the word being completed)."""
    prog = "\n".join([
        "source /usr/share/bash-completion/bash_completion" if bash_completion else "",
        'source "$1"',
        f"COMP_WORDS=({' '.join(shlex.quote(w) for w in words)})",
        f"COMP_CWORD={len(words) - 1}",
        f"COMP_LINE={shlex.quote(' '.join(words))}",
        "COMP_POINT=${#COMP_LINE}",
        "_vmie",
        'printf "%s\\n" "${COMPREPLY[@]}"',
    ])
    r = subprocess.run(["bash", "--norc", "--noprofile", "-c", prog, "bash",
                        str(docs / "vmie")], env=env, cwd=cwd, capture_output=True,
                       text=True, timeout=30)
    assert r.returncode == 0 and r.stderr == "", r.stderr
    return set(filter(None, r.stdout.split("\n")))


def test_bash_script_is_clean(docs):
    r = subprocess.run(["bash", "-n", str(docs / "vmie")], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    if not shutil.which("shellcheck"):
        print("shellcheck not installed (scripts/bootstrap.sh installs it): "
              "only bash -n checked")
        return
    r = subprocess.run(["shellcheck", "-s", "bash", str(docs / "vmie")],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stdout


def test_bash_commands(docs, clean_env):
    assert bash_complete(docs, ["vmie", ""], clean_env) == set(COMMANDS + ["help"])
    assert bash_complete(docs, ["vmie", "i"], clean_env) == {"import", "inspect"}
    # After global options and their values, still the command.
    assert bash_complete(docs, ["vmie", "--profile", "p", "--debug", "ex"],
                         clean_env) == {"export"}
    assert bash_complete(docs, ["vmie", "help", "d"], clean_env) == {"download"}
    assert bash_complete(docs, ["vmie", "help", "import", ""], clean_env) == set()


@pytest.mark.parametrize("cmd", COMMANDS)
def test_bash_options_are_the_help_options(vmie_bin, docs, clean_env, cmd):
    offered = bash_complete(docs, ["vmie", cmd, "-"], clean_env)
    assert offered == help_options(vmie_bin, clean_env, cmd)
    # Globals before the command too; only they.
    assert bash_complete(docs, ["vmie", "-"], clean_env) == help_options(vmie_bin, clean_env)
    assert bash_complete(docs, ["vmie", "--profile", "p", cmd, "--"], clean_env) == {
        o for o in offered if o.startswith("--")}


ENUMS = ["--export-format", "--boot-mode", "--storage-class", "--license-type",
         "--architecture", "--platform"]


def accepted_check(vmie_bin, env, cmd, opt, value, tmp_path):
    """vmie's verdict on OPT VALUE: the usage error about it, or None."""
    base = {"import": ["-r", "us-west-2", "-b", "bucket", "-s", str(tmp_path / "x.raw")],
            "convert": ["-r", "us-west-2", "-b", "bucket", "-s", str(tmp_path / "x.raw")],
            "export": ["-r", "us-west-2", "-b", "bucket", "-a", AMI]}[cmd]
    r = run(vmie_bin, [cmd] + base + [opt, value, "--no-progress"], env)
    if r.returncode == 2 and f"{opt} '{value}'" in r.stderr:
        return r.stderr
    return None


@pytest.mark.parametrize("opt", ENUMS)
def test_bash_enum_values_are_what_vmie_accepts(vmie_bin, docs, clean_env, tmp_path, opt):
    (tmp_path / "x.raw").write_bytes(b"\0" * 4096)
    cmd = next(c for c in ("import", "export")
               if opt in help_options(vmie_bin, clean_env, c))
    values = bash_complete(docs, ["vmie", cmd, opt, ""], clean_env)
    assert len(values) >= 2, values
    # The same through "--opt=" (= is a word break for readline) and with a prefix.
    assert bash_complete(docs, ["vmie", cmd, opt, "=", ""], clean_env) == values
    first = sorted(values)[0]
    assert first in bash_complete(docs, ["vmie", cmd, opt, first[:1]], clean_env)
    for v in values:
        assert accepted_check(vmie_bin, clean_env, cmd, opt, v, tmp_path) is None, (opt, v)
    refusal = accepted_check(vmie_bin, clean_env, cmd, opt, "NOT-A-VALUE", tmp_path)
    assert refusal, f"vmie accepted {opt} NOT-A-VALUE"
    m = re.search(r"hint: use one of ([^(\n]+)", refusal)
    if m:
        assert set(m.group(1).strip().split(", ")) == values, refusal
    # Where the placeholder lists the values, it is the same list.
    ph = help_placeholders(vmie_bin, clean_env, cmd)[opt]
    if "|" in ph:
        assert set(ph.split("|")) == values


def test_bash_no_equals_word_break(docs, clean_env):
    """Without '=' in COMP_WORDBREAKS the value stays in the option's word."""
    assert bash_complete(docs, ["vmie", "export", "--export-format=V"], clean_env) == {
        "--export-format=VMDK", "--export-format=VHD"}


def test_bash_files(docs, clean_env, tmp_path):
    (tmp_path / "disk.raw").write_bytes(b"")
    (tmp_path / "disk.vmdk").write_bytes(b"")
    (tmp_path / "other").write_bytes(b"")
    for words in (["vmie", "import", "--source", "disk"],
                  ["vmie", "import", "-s", "disk"],
                  ["vmie", "export", "--download", "disk"],
                  ["vmie", "--log-file", "disk"],
                  ["vmie", "inspect", "a.raw", "disk"],
                  ["vmie", "download", "s3://b/k", "disk"]):
        assert bash_complete(docs, words, clean_env, cwd=tmp_path) == {
            "disk.raw", "disk.vmdk"}, words
        # bash-completion's own _filedir when it is loaded
        assert bash_complete(docs, words, clean_env, cwd=tmp_path,
                             bash_completion=True) == {"disk.raw", "disk.vmdk"}, words
    # Free text and the S3 URL operand: nothing offered.
    assert bash_complete(docs, ["vmie", "import", "--region", ""], clean_env,
                         cwd=tmp_path) == set()
    assert bash_complete(docs, ["vmie", "download", "d"], clean_env, cwd=tmp_path) == set()


def write_aws_files(env, tmp_path):
    config = tmp_path / "my-config"
    config.write_text("[default]\nregion = us-west-2\n"
                      "[profile dev]\nregion = eu-west-1\n"
                      "[ profile  spaced ]\n"
                      "[sso-session corp]\nsso_region = us-east-1\n"
                      "[services local]\ns3 =\n  endpoint_url = http://localhost\n"
                      "[profile dev]\n")                 # twice: offered once
    creds = tmp_path / "my-credentials"
    creds.write_text("[default]\naws_access_key_id = A\n[prod]\naws_access_key_id = B\n"
                     "[ci-bot]")                           # no newline at the end
    env = dict(env, AWS_CONFIG_FILE=str(config), AWS_SHARED_CREDENTIALS_FILE=str(creds))
    return env, {"default", "dev", "spaced", "prod", "ci-bot"}


def test_bash_profiles(docs, clean_env, tmp_path):
    env, want = write_aws_files(clean_env, tmp_path)
    assert bash_complete(docs, ["vmie", "--profile", ""], env) == want
    assert bash_complete(docs, ["vmie", "whoami", "--profile", "d"], env) == {"default", "dev"}
    assert bash_complete(docs, ["vmie", "--profile", "=", "p"], env) == {"prod"}
    # The default locations under $HOME, as the AWS CLI's.
    home_env = {k: v for k, v in env.items()
                if k not in ("AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE")}
    aws = pathlib.Path(home_env["HOME"]) / ".aws"
    aws.mkdir()
    (aws / "config").write_text("[profile athome]\n")
    assert bash_complete(docs, ["vmie", "--profile", ""], home_env) == {"athome"}
    # Missing files: nothing, and no error.
    assert bash_complete(docs, ["vmie", "--profile", ""], clean_env) == set()


# --- zsh ---------------------------------------------------------------------

# For each line: what zsh's completion system offers after it, recorded by a
# compadd wrapper inside an interactive zsh on a pseudo-terminal.
ZSH_CAPTURE = r"""
zmodload zsh/zpty
zpty z zsh -f -i
zpty -w z "PROMPT= RPROMPT= PS2="
zpty -w z "fpath=(${(q)1} \$fpath); autoload -Uz compinit; compinit -u -D"
zpty -w z 'bindkey "^I" complete-word; zstyle ":completion:*" list-grouped false'
zpty -w z 'compadd () { if [[ ${@[1,(i)(-|--)]} == *-(O|A|D)\ * ]]; then builtin compadd "$@"; return $?; fi; local -a __hits; builtin compadd -A __hits "$@"; local h; for h in $__hits; do print -r -- "<""hit>$h"; done; }'
zpty -w z '__done() { print -r -- "<""end>"; }'
shift
local line q
for q in "$@"; do
  zpty -w z 'comppostfuncs=(__done)'
  zpty -n -w z "$q"$'\t'
  print -r -- "<query>$q"
  while zpty -r z line; do
    [[ $line == *'<end>'* ]] && break
    [[ $line == *"<hit>"* ]] && print -r -- "${${line##*<hit>}%%$'\r'*}"
  done
  zpty -n -w z $'\C-u'
done
zpty -d z
"""


def zsh_complete(docs, lines, env, cwd=None):
    """{line: set of what zsh offers}, all lines in one zsh."""
    r = subprocess.run(["zsh", "-f", "-c", ZSH_CAPTURE, "zsh", str(docs)] + lines, env=env,
                       cwd=cwd, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    out, cur = {}, None
    for line in r.stdout.split("\n"):
        if line.startswith("<query>"):
            cur = line[len("<query>"):]
            out[cur] = set()
        elif line and cur is not None:
            out[cur].add(line)
    assert list(out) == lines, r.stdout
    return out


@pytest.fixture(scope="module")
def zsh():
    if not shutil.which("zsh"):
        pytest.skip("zsh not found: install zsh (scripts/bootstrap.sh does) to test "
                    "the zsh completion")
    return shutil.which("zsh")


def test_zsh_script_parses(zsh, docs):
    r = subprocess.run([zsh, "-n", str(docs / "_vmie")], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr


def test_zsh_completion(vmie_bin, zsh, docs, clean_env, tmp_path):
    env, profiles = write_aws_files(clean_env, tmp_path)
    (tmp_path / "disk.raw").write_bytes(b"")
    (tmp_path / "disk.vmdk").write_bytes(b"")
    lines = ["vmie ", "vmie --profile ", "vmie --profile d", "vmie export --export-format ",
             "vmie import --boot-mode ", "vmie import --storage-class ",
             "vmie import --source disk", "vmie inspect disk", "vmie help "]
    lines += [f"vmie {c} --" for c in COMMANDS]
    got = zsh_complete(docs, lines, env, cwd=tmp_path)
    assert got["vmie "] == set(COMMANDS + ["help"])
    assert got["vmie --profile "] == profiles
    assert got["vmie --profile d"] == {"default", "dev"}
    assert got["vmie export --export-format "] == {"RAW", "VMDK", "VHD"}
    assert got["vmie import --boot-mode "] == bash_complete(
        docs, ["vmie", "import", "--boot-mode", ""], env)
    assert got["vmie import --storage-class "] == bash_complete(
        docs, ["vmie", "import", "--storage-class", ""], env)
    assert got["vmie import --source disk"] == {"disk.raw", "disk.vmdk"}
    assert got["vmie inspect disk"] == {"disk.raw", "disk.vmdk"}
    assert got["vmie help "] == set(COMMANDS)
    for c in COMMANDS:
        want = {o for o in help_options(vmie_bin, env, c) if o.startswith("--")}
        assert got[f"vmie {c} --"] == want, c
