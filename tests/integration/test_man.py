"""The man pages vmie-docgen writes at build time (build/doc/*.1): each says
what --help says (every option, with the same text and default, and no
other), man and groff render them without a warning, and `meson install`
puts them, and the shell completions, where man and the shells look."""
import os
import pathlib
import re
import shutil
import subprocess

import pytest

from conftest import run

COMMANDS = ["import", "export", "convert", "batch", "download", "inspect", "whoami", "runs"]
PAGES = ["vmie"] + [f"vmie-{c}" for c in COMMANDS]


@pytest.fixture(scope="module")
def docs(vmie_bin):
    d = pathlib.Path(vmie_bin).parent / "doc"
    if not (d / "vmie.1").exists():
        pytest.fail(f"no generated man pages in {d}: build with meson (make build)")
    return d


def need(tool, package):
    if not shutil.which(tool):
        pytest.fail(f"{tool} not found: install {package} (scripts/bootstrap.sh does)")


def render(page, env):
    """`man -l PAGE` as a reader sees it, 80 columns, and its warnings."""
    need("man", "man-db")
    env = dict(env, MANWIDTH="80", LC_ALL="C.UTF-8", MANPAGER="cat", PAGER="cat")
    r = subprocess.run(["man", "--warnings", "-l", str(page)], env=env, capture_output=True,
                       text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    return r.stdout, r.stderr


def norm(s):
    return " ".join(s.split())


def help_entries(text, section):
    """{name: 'name and its text, one line'} of a --help section ("Options:",
    "Global options (before or after the command):", "Exit status:", ...)."""
    m = re.search(rf"^{re.escape(section)}\n((?:  .*\n| {{3,}}.*\n)+)", text, re.M)
    assert m, (section, text)
    entries, cur = {}, None
    for line in m.group(1).splitlines():
        if re.match(r"^  \S|^ {6}-", line):   # "  -r, --region", "      --force"
            cur = line.strip()
            entries[cur] = [line]
        else:
            entries[cur].append(line)
    return {k: norm("\n".join(v)) for k, v in entries.items()}


def man_entries(text, section):
    """The same from a rendered page: the section's tagged paragraphs."""
    m = re.search(rf"^{re.escape(section)}\n(.*?)(?=^\S|\Z)", text, re.M | re.S)
    assert m, (section, text)
    entries, cur = {}, None
    for line in m.group(1).splitlines():
        if re.match(r"^ {7}\S", line):
            cur = line.strip()
            entries[cur] = [line]
        elif line.strip() and cur:
            entries[cur].append(line)
    return {k: norm("\n".join(v)) for k, v in entries.items()}


def by_option(entries):
    """Re-key option entries by their long name; the value keeps all."""
    out = {}
    for text in entries.values():
        m = re.match(r"(?:-\w, )?(--[a-z0-9][a-z0-9-]*)", text)
        if m:
            out[m.group(1)] = text
    return out


def test_pages_render_without_warnings(docs, clean_env):
    need("groff", "groff-base")
    for page in PAGES:
        path = docs / f"{page}.1"
        out, warnings = render(path, clean_env)
        assert warnings == "", (page, warnings)
        assert re.match(rf"^{page.upper()}\(1\)", out), out[:200]
        # groff's own strictest view: every warning, the man macros' style checks.
        r = subprocess.run(["groff", "-man", "-ww", "-z", "-rCHECKSTYLE=3", "-Tutf8",
                            str(path)], capture_output=True, text=True, timeout=60)
        assert r.returncode == 0 and r.stderr == "", (page, r.stderr)


@pytest.mark.parametrize("cmd", COMMANDS)
def test_command_page_is_its_help(vmie_bin, docs, clean_env, cmd):
    help_text = run(vmie_bin, [cmd, "--help"], clean_env).stdout
    page, _ = render(docs / f"vmie-{cmd}.1", clean_env)
    sections = [("Options:", "OPTIONS"),
                ("Global options (before or after the command):", "GLOBAL OPTIONS")]
    if "\nOptions:\n" not in help_text:
        sections = sections[1:]
        assert "\nOPTIONS\n" not in page
    seen = 0
    for h, m in sections:
        want = by_option(help_entries(help_text, h))
        got = by_option(man_entries(page, m))
        # Every option --help shows is in the page, with the same text
        # and default, and the page shows no other.
        assert set(got) == set(want), (cmd, m, set(got) ^ set(want))
        for opt in want:
            assert got[opt] == want[opt], (cmd, opt)
        seen += len(want)
    assert seen >= 10
    # The description, the synopsis, the examples.
    description = help_text.split("\n\n")[1]
    assert norm(description) in norm(page)
    usage = help_text.splitlines()[0].removeprefix("Usage: ")
    assert norm(usage) in norm(page)
    example = help_text.split("Example:\n")[1].split("\n\n")[0]
    for line in example.splitlines():
        assert line.strip() in page, line
    assert f"VMIE-{cmd.upper()}(1)" in page


def test_main_page_is_the_main_help(vmie_bin, docs, clean_env):
    help_text = run(vmie_bin, ["--help"], clean_env).stdout
    page, _ = render(docs / "vmie.1", clean_env)
    want = by_option(help_entries(help_text, "Global options (before or after the command):"))
    got = by_option(man_entries(page, "GLOBAL OPTIONS"))
    assert set(got) == set(want) and len(want) >= 10, set(got) ^ set(want)
    for opt in want:
        assert got[opt] == want[opt], opt
    # The commands, the exit statuses, the environment: each name with its text.
    cmds = {k.split()[0]: v for k, v in help_entries(help_text, "Commands:").items()}
    man_cmds = {k.split()[0]: v for k, v in man_entries(page, "COMMANDS").items()}
    assert set(cmds) == set(man_cmds) == set(COMMANDS + ["help"])
    for c in COMMANDS:
        assert cmds[c] == man_cmds[c]
    for h, m in (("Exit status:", "EXIT STATUS"), ("Environment:", "ENVIRONMENT")):
        want = help_entries(help_text, h)
        got = man_entries(page, m)
        assert len(want) >= 5
        # Help puts name and text on one line when they fit; the page
        # puts the text under the name: compare them joined.
        assert sorted(want.values()) == sorted(got.values()), (h, want, got)
    for c in COMMANDS:
        assert f"vmie-{c}(1)" in page


def test_meson_install_puts_pages_and_completions(vmie_bin, docs, tmp_path):
    build = pathlib.Path(vmie_bin).parent
    if not (build / "meson-info").is_dir():
        pytest.fail(f"{build} is not a meson build directory")
    dest = tmp_path / "dest"
    r = subprocess.run(["meson", "install", "-C", str(build), "--no-rebuild", "--quiet",
                        "--destdir", str(dest)], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    installed = {p.relative_to(dest).as_posix(): p for p in dest.rglob("*") if p.is_file()}
    for page in PAGES:
        hits = [k for k in installed if k.endswith(f"/share/man/man1/{page}.1")]
        assert len(hits) == 1, (page, sorted(installed))
        assert installed[hits[0]].read_bytes() == (docs / f"{page}.1").read_bytes()
    bash = [k for k in installed if k.endswith("/bash-completion/completions/vmie")]
    zsh = [k for k in installed if k.endswith("/zsh/site-functions/_vmie")]
    assert len(bash) == 1 and len(zsh) == 1, sorted(installed)
    assert installed[bash[0]].read_bytes() == (docs / "vmie").read_bytes()
    assert any(k.endswith("/bin/vmie") for k in installed)
    # Nothing of the generator's.
    assert not any("docgen" in k for k in installed)
