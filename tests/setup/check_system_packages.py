#!/usr/bin/env python3
"""check_system_packages - every system file the build and the scripts read belongs to a Debian package that
scripts/setup installs (directly or as a dependency), so a new dependency cannot slip in unnamed.

What it collects, from one configured and built tree:
  - every header and compiler file in the compilers' dependency files (<tree>/**/*.o.d),
  - every shared library the built programs load (ldd of <tree>/bin/*),
  - the pkg-config files of the modules the CMakeLists name (pkg_check_modules),
  - the .proto files imported from the system proto paths CMake passes to protoc/protoc-c,
  - every program CMake found (FILEPATH entries of CMakeCache.txt that are executables under /usr or /bin),
  - every program the scripts call by name or by absolute path (scripts/, bench/, tests/: shell and Python),
and maps each to its package with dpkg. The packages allowed are scripts/setup's list and everything they depend on,
recursively (Depends and Pre-Depends of the installed packages, alternatives and virtual packages resolved to what
is installed), plus the packages of priority "required" that every Debian 12 system has.

A file that no package owns fails the check, except for the few programs the scripts only use when present (OPTIONAL
below: the test that needs them skips without them) and node/npm, which scripts/setup accepts from any source.

Usage: check_system_packages.py --source DIR --build DIR [--proto-path DIR]...
Exit 0 when every file is covered; 1 with one line per missing file: the file, the package that has it, and who read it.
"""
import argparse
import glob
import os
import re
import shlex
import subprocess
import sys

# Programs a test uses only when the machine has them (it skips otherwise); none is in Debian 12.
OPTIONAL = {
    "kubectl": "tests/deploy render the Kubernetes overlays with it when present, and skip without it",
}
# scripts/setup installs nodejs/npm only when no node/npm is on PATH (NodeSource's build, say, will do).
ANY_SOURCE = {"node", "npm", "npx"}


def setup_packages(source):
    """The package names in scripts/setup's packages=( ... ) array and its conditional packages+=(...) lines."""
    text = open(os.path.join(source, "scripts", "setup"), encoding="utf-8").read()
    m = re.search(r"^packages=\((.*?)^\)", text, re.S | re.M)
    if not m:
        sys.exit("check_system_packages: no packages=( ... ) array in scripts/setup")
    names = []
    for line in m.group(1).splitlines():
        names += line.split("#", 1)[0].split()
    names += re.findall(r"packages\+=\((\S+)\)", text)
    return names


def installed_status():
    """{package: (depends, pre_depends, provides, priority, essential)} of every installed package."""
    fmt = "${db:Status-Status}\t${Package}\t${Depends}\t${Pre-Depends}\t${Provides}\t${Priority}\t${Essential}\n"
    out = subprocess.run(["dpkg-query", "-W", "-f", fmt], check=True, capture_output=True, text=True).stdout
    pkgs = {}
    for line in out.splitlines():
        parts = line.split("\t")
        if len(parts) != 7 or parts[0] != "installed":
            continue
        pkgs[parts[1]] = tuple(parts[2:])
    return pkgs


def dep_names(field):
    """[[alternative, ...], ...] of a Depends field, names stripped of versions and architecture qualifiers."""
    groups = []
    for group in field.split(","):
        alts = []
        for alt in group.split("|"):
            alt = re.sub(r"\(.*?\)|\[.*?\]|<.*?>", "", alt).strip()
            if alt:
                alts.append(alt.split(":", 1)[0])
        if alts:
            groups.append(alts)
    return groups


def closure(roots, pkgs):
    """The installed packages reachable from roots through Depends and Pre-Depends."""
    providers = {}
    for name, (_, _, provides, _, _) in pkgs.items():
        for alts in dep_names(provides):
            for a in alts:
                providers.setdefault(a, set()).add(name)
    seen, todo = set(), list(roots)
    while todo:
        p = todo.pop()
        if p in seen:
            continue
        seen.add(p)
        if p not in pkgs:
            continue
        depends, pre, _, _, _ = pkgs[p]
        for alts in dep_names(depends) + dep_names(pre):
            for a in alts:
                cand = ([a] if a in pkgs else []) + sorted(providers.get(a, ()))
                todo.extend(cand)
    return seen


_OWNERS = None


def dpkg_owners():
    """{path: package} from dpkg's file lists (/var/lib/dpkg/info/*.list), read once."""
    global _OWNERS
    if _OWNERS is None:
        _OWNERS = {}
        for lst in glob.glob("/var/lib/dpkg/info/*.list"):
            pkg = os.path.basename(lst)[:-5].split(":")[0]
            with open(lst, encoding="utf-8", errors="replace") as fh:
                for line in fh:
                    _OWNERS.setdefault(line.rstrip("\n"), pkg)
    return _OWNERS


def dpkg_owner(path):
    """The package owning path (as given, resolved, or across merged /usr: /lib is /usr/lib), or None."""
    owners = dpkg_owners()
    tries = [path, os.path.realpath(path)]
    for t in list(tries):
        if t.startswith(("/usr/lib/", "/usr/bin/", "/usr/sbin/", "/usr/lib64/")):
            tries.append(t[4:])
        elif t.startswith(("/lib/", "/bin/", "/sbin/", "/lib64/")):
            tries.append("/usr" + t)
    for t in tries:
        if t in owners:
            return owners[t]
        # a file reached through a symlinked folder (/usr/lib/x86_64-linux-gnu/... listed under its real folder)
        d, b = os.path.split(t)
        rd = os.path.realpath(d)
        if os.path.join(rd, b) in owners:
            return owners[os.path.join(rd, b)]
    return None


def system_path(p):
    return p.startswith(("/usr/", "/lib/", "/lib64/", "/bin/", "/sbin/", "/etc/"))


def depfile_paths(build):
    """Absolute system paths named in the compilers' dependency files of the tree."""
    found = {}
    for f in glob.glob(os.path.join(build, "**", "*.o.d"), recursive=True):
        text = open(f, encoding="utf-8", errors="replace").read().replace("\\\n", " ")
        for tok in text.split():
            if tok.endswith(":"):
                continue
            if system_path(tok):
                found.setdefault(os.path.normpath(tok), "compiler dependency file " + os.path.relpath(f, build))
    return found


def ldd_paths(build):
    found = {}
    for exe in sorted(glob.glob(os.path.join(build, "bin", "*"))):
        if not (os.path.isfile(exe) and os.access(exe, os.X_OK)):
            continue
        r = subprocess.run(["ldd", exe], capture_output=True, text=True)
        for m in re.finditer(r"=>\s+(/\S+)|^\s*(/\S+)\s+\(", r.stdout, re.M):
            p = m.group(1) or m.group(2)
            found.setdefault(p, "shared library of bin/" + os.path.basename(exe))
    return found


def pkgconfig_paths(source):
    found = {}
    for cm in glob.glob(os.path.join(source, "**", "CMakeLists.txt"), recursive=True):
        if "/build" in os.path.relpath(cm, source).split(os.sep)[0][:6] or "node_modules" in cm:
            continue
        for m in re.finditer(r"pkg_check_modules\(\s*\w+(.*?)\)", open(cm, encoding="utf-8").read(), re.S):
            for tok in m.group(1).split():
                if tok in ("REQUIRED", "QUIET", "IMPORTED_TARGET", "GLOBAL", "NO_CMAKE_PATH",
                           "NO_CMAKE_ENVIRONMENT_PATH"):
                    continue
                mod = re.split(r"[<>=]", tok)[0]
                r = subprocess.run(["pkg-config", "--path", mod], capture_output=True, text=True)
                if r.returncode != 0:
                    found["(pkg-config module " + mod + ")"] = os.path.relpath(cm, source)
                else:
                    found.setdefault(r.stdout.strip(), "pkg-config module %s (%s)" % (mod, os.path.relpath(cm, source)))
    return found


def proto_paths(source, proto_dirs):
    """System .proto files reached by the imports of proto/ through the system import paths."""
    found, todo, seen = {}, [], set()
    for f in glob.glob(os.path.join(source, "proto", "**", "*.proto"), recursive=True):
        todo.append((f, os.path.relpath(f, source)))
    while todo:
        f, who = todo.pop()
        if f in seen:
            continue
        seen.add(f)
        for imp in re.findall(r'^\s*import\s+(?:public\s+|weak\s+)?"([^"]+)"\s*;', open(f, encoding="utf-8").read(),
                              re.M):
            if os.path.exists(os.path.join(source, "proto", imp)):
                continue
            for d in proto_dirs:
                p = os.path.join(d, imp)
                if os.path.exists(p):
                    found.setdefault(p, "import in " + who)
                    todo.append((p, p))
                    break
            else:
                found["(proto import " + imp + ")"] = "import in %s: not found in %s" % (who, " ".join(proto_dirs))
    return found


def cmake_programs(build, source):
    """The programs the project's CMakeLists find (find_program) and the C compiler, as CMakeCache.txt recorded
    them. CMake's own probes of optional tools (llvm-ar, ld.lld, objcopy... found only when present) are not the
    build's needs: without them CMake takes binutils' (a dependency of gcc)."""
    wanted = {"CMAKE_C_COMPILER"}
    for cm in glob.glob(os.path.join(source, "**", "CMakeLists.txt"), recursive=True):
        if "node_modules" in cm or os.path.relpath(cm, source).startswith("build"):
            continue
        wanted |= set(re.findall(r"find_program\(\s*(\w+)", open(cm, encoding="utf-8").read()))
    found = {}
    cache = os.path.join(build, "CMakeCache.txt")
    for line in open(cache, encoding="utf-8", errors="replace"):
        m = re.match(r"^([A-Za-z_0-9]+):FILEPATH=(/\S+)$", line.strip())
        if not m or m.group(1) not in wanted or not system_path(m.group(2)):
            continue
        p = m.group(2)
        if os.path.isfile(p) and os.access(p, os.X_OK) and not p.endswith((".so", ".a")):
            found.setdefault(p, "CMakeCache.txt " + m.group(1))
    return found


SHELL_SEPARATORS = re.compile(r"\$\(|`|\|\||&&|[|;&(){}!]")
SHELL_PREFIXES = {"then", "do", "else", "elif", "if", "while", "until", "exec", "time", "command", "env", "nohup",
                  "sudo", "xargs", "!", "timeout", "setsid"}


def script_files(source):
    files = []
    for pat in ("scripts/*", ".ci/*", "bench/*", "bench/**/*.sh", "bench/**/*.py", "tests/**/*.sh", "tests/**/*.py",
                "deploy/**/*.sh", "tools/**/*.sh"):
        for f in glob.glob(os.path.join(source, pat), recursive=True):
            if os.path.isfile(f) and "node_modules" not in f:
                files.append(f)
    return sorted(set(files))


def is_shell(f):
    if f.endswith(".sh"):
        return True
    try:
        first = open(f, encoding="utf-8", errors="replace").readline()
    except OSError:
        return False
    return first.startswith("#!") and ("bash" in first or first.rstrip().endswith("/sh"))


def shell_command_words(text):
    """Words in command position of a shell script (a heuristic: first word after a separator or a keyword,
    assignments skipped); comments, heredoc bodies and quoted strings' insides are skipped as well as we can."""
    words = set()
    heredoc = None
    for raw in text.splitlines():
        if heredoc:
            if raw.strip() == heredoc:
                heredoc = None
            continue
        m = re.search(r"<<-?\s*['\"]?(\w+)['\"]?", raw)
        if m:
            heredoc = m.group(1)
        line = re.sub(r"'[^']*'", "''", raw)
        line = re.sub(r'"(?:[^"\\$]|\\.)*"', '""', line)
        line = re.sub(r"(^|\s)#.*$", "", line)
        line = re.sub(r"^\s*[\w|*.\-\[\]'\"]+\)", "", line)   # a case label: "init) ..."
        for seg in SHELL_SEPARATORS.split(line):
            toks = seg.split()
            while toks and (re.match(r"^[A-Za-z_][A-Za-z_0-9]*=", toks[0]) or toks[0] in SHELL_PREFIXES):
                toks.pop(0)
            if toks and (re.match(r"^[A-Za-z][\w.+-]*$", toks[0]) or toks[0].startswith("/")):
                words.add(toks[0])
    return words


def python_command_words(text):
    """Program names in the first place of a list given to subprocess, and absolute paths of programs."""
    words = set(re.findall(r'(?:run|Popen|check_output|check_call|call)\(\s*\[\s*"([A-Za-z][\w.+-]*)"', text))
    words |= set(re.findall(r'^\s*cmd\s*=\s*\[\s*"([A-Za-z][\w.+-]*)"', text, re.M))
    return words


def script_programs(source):
    per_word = {}
    for f in script_files(source):
        text = open(f, encoding="utf-8", errors="replace").read()
        words = shell_command_words(text) if is_shell(f) else python_command_words(text) if f.endswith(".py") else set()
        words |= set(re.findall(r"(/usr/lib/postgresql/\d+/bin/[\w.+-]+)", text))
        for w in words:
            per_word.setdefault(w, os.path.relpath(f, source))
    # Absolute paths through $PG_BIN-style variables: the PostgreSQL server programs the scripts call by name.
    for f in script_files(source):
        text = open(f, encoding="utf-8", errors="replace").read()
        for prog in re.findall(r"\$\{?PG_?BIN\}?/([\w.+-]+)", text, re.I):
            per_word.setdefault("/usr/lib/postgresql/15/bin/" + prog, os.path.relpath(f, source))
    names = sorted(w for w in per_word if not w.startswith("/"))
    kinds = {}
    if names:
        script = "for w in " + " ".join(shlex.quote(n) for n in names) + '; do printf "%s %s\\n" "$w" "$(type -t "$w")"; done'
        out = subprocess.run(["bash", "-c", script], capture_output=True, text=True).stdout
        for line in out.splitlines():
            w, _, kind = line.partition(" ")
            kinds[w] = kind
    found = {}
    for w, who in per_word.items():
        if w.startswith("/"):
            path = w
        elif kinds.get(w) == "file":
            path = subprocess.run(["bash", "-c", 'command -v -- "$1"', "_", w], capture_output=True,
                                  text=True).stdout.strip()
        else:
            continue
        if w in OPTIONAL or os.path.basename(path) in OPTIONAL:
            continue
        if os.path.basename(path) in ANY_SOURCE:
            continue
        if path and system_path(path) or path.startswith("/usr/local/"):
            found.setdefault(path, "called by " + who)
    return found


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--source", required=True)
    ap.add_argument("--build", required=True)
    ap.add_argument("--proto-path", action="append", default=[])
    a = ap.parse_args()

    roots = setup_packages(a.source)
    pkgs = installed_status()
    allowed = closure(roots, pkgs)
    allowed |= {p for p, v in pkgs.items() if v[3] == "required" or v[4] == "yes"}

    files = {}
    for part in (depfile_paths(a.build), ldd_paths(a.build), pkgconfig_paths(a.source),
                 proto_paths(a.source, a.proto_path), cmake_programs(a.build, a.source), script_programs(a.source)):
        for k, v in part.items():
            files.setdefault(k, v)
    if not any(k.endswith(".h") for k in files):
        print("check_system_packages: no compiler dependency file in %s: build the tree first" % a.build)
        return 1

    bad = []
    packages = set()
    for path, who in sorted(files.items()):
        if path.startswith("("):
            bad.append("%s: not found (%s)" % (path, who))
            continue
        owner = dpkg_owner(path)
        if owner is None:
            bad.append("%s: no Debian package owns it (%s)" % (path, who))
        elif owner not in allowed:
            bad.append("%s: package %s is not installed by scripts/setup, directly or as a dependency (%s)"
                       % (path, owner, who))
        else:
            packages.add(owner)
    for line in bad:
        print("check_system_packages: " + line)
    print("check_system_packages: %d system files from %d packages checked against scripts/setup's %d packages "
          "(%d with their dependencies): %d missing" % (len(files), len(packages), len(roots), len(allowed), len(bad)))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
