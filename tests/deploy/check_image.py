#!/usr/bin/env python3
"""check_image BINDIR - what can be checked of the Dockerfile without a Docker engine, on this Debian 12 machine
(the image's base):

  - two stages: a Debian 12 build stage and a debian:12-slim runtime stage; a numeric non-root USER; tini as PID 1
    running deploy/docker/ltc-entrypoint;
  - the build stage installs the package of every pkg-config module and program the CMake tree asks for;
  - the build stage copies the whole context, which .dockerignore limits to the CMake tree of the binaries (every
    folder the top CMakeLists.txt adds; never .git, build trees, stack state, .env, docs or tests), and that context
    alone configures with cmake;
  - the runtime stage installs the package of every library the five built binaries link (their NEEDED entries);
  - the entry point runs a process by name, prints its usage for `help`, refuses no argument.
"""
import fnmatch
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
BINARIES = ("ltc-gateway", "ltc-ltb", "ltc-bto", "ltc-otd", "ltc-dtc")
failures = []


def check(cond, msg):
    if not cond:
        failures.append(msg)
    return cond


def instructions(text):
    """Dockerfile instructions as (KEYWORD, rest) with continuation lines joined and comments dropped."""
    out, cur = [], ""
    for line in text.splitlines():
        s = line.strip()
        if not cur and (not s or s.startswith("#")):
            continue
        if s.startswith("#"):
            continue
        if s.endswith("\\"):
            cur += s[:-1] + " "
            continue
        cur += s
        kw, _, rest = cur.partition(" ")
        out.append((kw.upper(), rest.strip()))
        cur = ""
    return out


def apt_packages(run):
    m = re.search(r"apt-get install ([^&;]*)", run)
    return {w for w in (m.group(1).split() if m else []) if not w.startswith("-")}


def owner(path):
    """The Debian package that owns a file (following the usrmerge aliases)."""
    cands = [path, os.path.realpath(path)]
    for c in list(cands):
        if c.startswith("/usr/lib/"):
            cands.append(c[len("/usr"):])
        elif c.startswith("/lib/"):
            cands.append("/usr" + c)
    for c in cands:
        p = subprocess.run(["dpkg", "-S", c], capture_output=True, text=True)
        if p.returncode == 0:
            return p.stdout.split(":")[0].strip()
    return None


def needed_libs(binary):
    p = subprocess.run(["objdump", "-p", binary], capture_output=True, text=True, check=True)
    return re.findall(r"^\s*NEEDED\s+(\S+)", p.stdout, re.M)


def lib_path(soname):
    p = subprocess.run(["ldconfig", "-p"], capture_output=True, text=True, check=True)
    for line in p.stdout.splitlines():
        if line.strip().startswith(soname + " ") and "x86-64" in line or line.strip().startswith(soname + " ("):
            return line.split("=>")[-1].strip()
    return None


def ignored(rel, patterns):
    """.dockerignore semantics (last matching pattern wins, ! re-includes; a pattern matches a path or a parent)."""
    parts = rel.split("/")
    result = False
    for pat in patterns:
        neg = pat.startswith("!")
        pat = pat[1:] if neg else pat
        pat = pat.strip("/")
        for i in range(1, len(parts) + 1):
            prefix = "/".join(parts[:i])
            if fnmatch.fnmatchcase(prefix, pat) or (pat.startswith("**/") and
                                                    fnmatch.fnmatchcase(parts[i - 1], pat[3:])):
                result = not neg
                break
    return result


def main():
    bindir = Path(sys.argv[1]) if len(sys.argv) > 1 else REPO / "build" / "bin"
    df = (REPO / "Dockerfile").read_text()
    ins = instructions(df)
    args = {}
    stages = []
    for kw, rest in ins:
        if kw == "ARG" and "=" in rest and not stages:
            k, v = rest.split("=", 1)
            args[k] = v
        if kw == "FROM":
            words = rest.split()
            image = re.sub(r"\$\{(\w+)\}", lambda m: args.get(m.group(1), ""), words[0])
            stages.append({"image": image, "name": words[2] if len(words) > 2 else None, "ins": []})
        elif stages:
            stages[-1]["ins"].append((kw, rest))
    if not check(len(stages) == 2, f"Dockerfile has {len(stages)} stages, want build and runtime"):
        return report()
    build, runtime = stages
    check(build["image"] == "debian:12", f"build stage from {build['image']}")
    check(runtime["image"] == "debian:12-slim", f"runtime stage from {runtime['image']}")

    # build stage: packages for every pkg-config module and program of the CMake tree
    build_pkgs = set().union(*(apt_packages(r) for k, r in build["ins"] if k == "RUN"))
    top = (REPO / "CMakeLists.txt").read_text()
    mods = []
    for m in re.finditer(r"pkg_check_modules\(\s*\w+\s+(?:REQUIRED\s+)?(?:IMPORTED_TARGET\s+)?([^)]*)\)", top):
        mods += [re.split(r"[<>=]", w)[0] for w in m.group(1).split() if w not in ("REQUIRED", "IMPORTED_TARGET")]
    for mod in sorted(set(mods)):
        p = subprocess.run(["pkg-config", "--variable=pcfiledir", mod], capture_output=True, text=True)
        pkg = owner(f"{p.stdout.strip()}/{mod}.pc") if p.returncode == 0 else None
        check(pkg in build_pkgs, f"build stage lacks {pkg or '?'} (pkg-config module {mod})")
    for prog in re.findall(r"find_program\(\s*\w+\s+(\S+)", top):
        path = shutil.which(prog)
        pkg = owner(path) if path else None
        check(pkg in build_pkgs, f"build stage lacks {pkg or '?'} (program {prog})")
    check("libprotobuf-dev" in build_pkgs, "build stage lacks libprotobuf-dev (google/protobuf/*.proto)")

    # build stage: the context (what .dockerignore lets in, copied whole) covers the CMake tree and configures
    pats = [ln.strip() for ln in (REPO / ".dockerignore").read_text().splitlines()
            if ln.strip() and not ln.startswith("#")]
    copies = [shlex.split(r) for k, r in build["ins"] if k == "COPY" and not r.startswith("--from")]
    check(copies == [[".", "/src/"]], f"the build stage copies {copies}, want the whole (filtered) context")
    context = []
    for root, dirs, files in os.walk(REPO):
        rel_root = os.path.relpath(root, REPO)
        rel_root = "" if rel_root == "." else rel_root + "/"
        # prune what is ignored as a whole and holds no re-included path (build trees, .git, state)
        dirs[:] = [d for d in dirs if not (ignored(rel_root + d, pats) and not any(
            p.startswith("!" + rel_root + d + "/") for p in pats))]
        context += [rel_root + f for f in files if not ignored(rel_root + f, pats)]
    for sub in re.findall(r"^\s*add_subdirectory\((\w+)", top, re.M):
        check(f"{sub}/CMakeLists.txt" in context,
              f"the top CMakeLists.txt adds {sub}/, which .dockerignore keeps out of the build context")
    for rel in context:
        check(re.match(r"(CMakeLists\.txt|cmake/|proto/|common/|services/|bench/|tests/CMakeLists\.txt|deploy/docker/)",
                       rel) is not None, f"{rel} is in the build context")
    for rel in (".git/HEAD", "build/CMakeCache.txt", ".ltc/secrets/bto.dsn", ".env", "docs/operations.md",
                "tests/integration/harness.py", "services/bto/.env", "deploy/base/bto.yaml"):
        check(ignored(rel, pats), f".dockerignore lets {rel} into the build context")
    run_copies = [shlex.split(r)[0] for k, r in runtime["ins"] if k == "COPY" and not r.startswith("--from")]
    for rel in run_copies:
        check(rel in context, f"the runtime stage copies {rel}, which is not in the build context")
    with tempfile.TemporaryDirectory(prefix="ltc-image-ctx-") as tmp:
        for rel in context:
            dst = Path(tmp) / rel
            dst.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / rel, dst)
        p = subprocess.run(["cmake", "-S", tmp, "-B", f"{tmp}/build", "-DCMAKE_BUILD_TYPE=RelWithDebInfo"],
                           capture_output=True, text=True, timeout=300)
        check(p.returncode == 0, f"the build context does not configure:\n{p.stdout[-1500:]}{p.stderr[-1500:]}")
        targets = set(re.findall(r"\b(ltc-\w+)\b", " ".join(r for k, r in build["ins"] if k == "RUN")))
        check(set(BINARIES) <= targets, f"the build stage builds {sorted(targets)}")

    # runtime stage: the libraries of the built binaries, tini, numeric non-root user
    run_pkgs = set().union(*(apt_packages(r) for k, r in runtime["ins"] if k == "RUN"))
    for b in BINARIES:
        path = bindir / b
        if not check(path.exists(), f"{path} not built"):
            continue
        for so in needed_libs(str(path)):
            lp = lib_path(so)
            pkg = owner(lp) if lp else None
            check(pkg is not None and (pkg in run_pkgs or pkg == "libc6"),
                  f"runtime stage lacks {pkg or '?'} ({so}, linked by {b})")
    check("tini" in run_pkgs, "runtime stage does not install tini")
    users = [r for k, r in runtime["ins"] if k == "USER"]
    check(users and re.fullmatch(r"[1-9]\d*(:[1-9]\d*)?", users[-1]), f"USER {users}: numeric and not root")
    ep = [r for k, r in runtime["ins"] if k == "ENTRYPOINT"]
    check(ep and ep[-1] == '["/usr/bin/tini", "--", "/usr/local/bin/ltc-entrypoint"]', f"ENTRYPOINT {ep}")
    check(not any(k == "VOLUME" for k, _ in runtime["ins"]), "the runtime stage declares a VOLUME")

    # the entry point
    script = str(REPO / "deploy/docker/ltc-entrypoint")
    p = subprocess.run(["sh", script, "help"], capture_output=True, text=True)
    check(p.returncode == 0 and "gateway ltb bto otd dtc" in p.stdout, f"entrypoint help: {p.returncode} {p.stdout}")
    p = subprocess.run(["sh", script], capture_output=True, text=True)
    check(p.returncode == 2, f"entrypoint without arguments exits {p.returncode}")
    p = subprocess.run(["sh", script, "sh", "-c", "exit 7"], capture_output=True, text=True)
    check(p.returncode == 7, f"entrypoint does not exec other commands ({p.returncode})")
    text = Path(script).read_text()
    for b in BINARIES:
        check(f"{b}" in text or "ltc-$name" in text, f"entrypoint does not know {b}")
    return report()


def report():
    for f in failures:
        print(f"FAIL: {f}")
    print(f"image: Dockerfile, .dockerignore and entry point checked, {len(failures)} problem(s)")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
