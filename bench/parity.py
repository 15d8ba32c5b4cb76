#!/usr/bin/env python3
"""The parity yardstick: repro against the test data of the tools it is
measured by (fetched by bench/parity_fetch.sh).

  parity.py diff      diffoscope's test-data pairs: the pairs its own tests
                      compare (`X = load_fixture("f")` then `a.compare(b)` in
                      tests/comparators/test_*.py). For each pair both tools
                      run with --json; agreement is the same exit code and
                      the same set of differing member paths.
  parity.py normalize strip-nondeterminism's t/fixtures/*/*.in with .out and
                      add-determinism's tests/cases NAME with NAME.fixed:
                      repro's canonical forms of input and expected output
                      must be byte-identical.

Each prints counts and writes the disagreements to a report file. Exit code 0
whatever the counts: the numbers are the result.
"""

import argparse
import json
import os
import re
import shutil
import subprocess
import statistics
import sys
import time
import tempfile
from pathlib import Path

# diffoscope's nodes that are views of one file rather than members of a
# container: listings, metadata and the output of a tool run on the file.
LISTINGS = {"file list", "metadata", "filetype from file(1)", "Pretty-printed",
            "encoding", "symlink", "device", "compressed size"}
# diffoscope's views named by a bare command (its comparators run one tool
# on the whole file and show the output as a child node).
COMMANDS = {"docx2txt", "ffprobe", "gifbuild", "kbxutil", "oggDump", "tcpdump", "pgpdump",
            "sng", "odt2txt", "ssconvert", "javap", "xxd", "msgunfmt", "ps2ascii", "pdftotext",
            "sqlite3", "wasm2wat", "xmllint", "zipinfo", "zipnote", "zipdetails", "bsdtar",
            "isoinfo", "cpio", "showttf", "ttx", "img2txt", "identify", "dumppdf", "h5dump",
            "llvm-bcanalyzer", "openssl", "ssh-keygen", "ocamlobjinfo", "ppudump", "gzip",
            "git", "fdtdump", "procyon", "apktool", "dexdump", "enjarify", "Rscript"}


# Pairs where repro disagrees with diffoscope on purpose, counted apart
# ("deliberate") rather than as agreement or disagreement, each with why.
DELIBERATE = {
    ("bug903401_1.deb", "bug903401_2.deb"):
        "diffoscope's DebDataTarFile.recognizes matches every member of an "
        "uncompressed data.tar (its container is a member named data.tar of a "
        ".deb), so changelog.gz is read as a tar, yields nothing and falls back "
        "to a binary diff; repro looks into the gzip (data.tar::...::changelog)",
    ("test1.docx", "test2.docx"):
        "diffoscope shows only docx2txt's text of the document; repro shows the "
        "zip members whose content differs (word/document.xml, and "
        "docProps/core.xml's modification time and revision, which the text "
        "hides)",
    ("test1.odt", "test2.odt"):
        "diffoscope shows only odt2txt's text of the document; repro shows the "
        "zip members whose content differs (content.xml, meta.xml's dates, "
        "settings.xml, the thumbnail), which the text hides",
    ("test1.gnumeric", "test2.gnumeric"):
        "diffoscope runs ssconvert (not installed here: it falls back to a "
        "hexdump of the whole file, and with it shows only the converted "
        "sheet); repro reads the gzip stream and diffs the XML inside "
        "(test1.gnumeric-content)",
}


def is_view(name, parent=None):
    """A node named after a command or a pseudo-node, not a member."""
    if name in LISTINGS or name in COMMANDS:
        return True
    # "zipinfo {}", "readelf --wide --sections {}", "Unicode code points".
    if "{}" in name or " " in name:
        return True
    # diffoscope's fallback to a binary diff of the file itself is a child
    # named like the file.
    if parent is not None and os.path.basename(name) == os.path.basename(parent):
        return True
    # repro's Mach-O sections ("__TEXT,__text"): each a view of its
    # architecture in diffoscope too, named by the otool or llvm-objdump
    # command that dumps it.
    if re.fullmatch(r"__[A-Za-z_]+,__[\w.-]+", name):
        return True
    # repro's ELF sections (".rodata", ".note.gnu.build-id") and pyc views.
    return re.fullmatch(r"\.[A-Za-z_][\w.-]*", name) is not None


def clean(component, root_prefixes):
    for p in root_prefixes:
        if p and component.startswith(p):
            component = component[len(p):]
    component = component.lstrip("/")
    while component.startswith("./"):
        component = component[2:]
    return component


def member_paths(path):
    """The set of member paths (outer::inner) with a difference, or None."""
    try:
        root = json.load(open(path))
    except (OSError, ValueError):
        return None
    out = set()
    # Directory members are named by their full path in diffoscope.
    prefixes = [root.get("source1", "").rstrip("/") + "/"]

    def walk(node, chain):
        for child in node.get("details", []):
            name = child.get("source1", "")
            if is_view(name, node.get("source1", "")):
                walk(child, chain)
                continue
            member = chain + [clean(name, prefixes)]
            out.add("::".join(member))
            walk(child, member)

    walk(root, [])
    return out


def timed(cmd, cwd=None, timeout=600):
    """Runs cmd: (exit code, wall s, peak RSS MB, stderr, CPU s). Wall time
    from a monotonic clock and CPU time (user + system) from wait4's
    rusage, to the microsecond: repro takes a few milliseconds on
    most pairs, and /usr/bin/time's 10 ms steps made those ratios
    meaningless. CPU time is what a loaded machine distorts least; wall
    time is what a user waits."""
    # Peak RSS from /usr/bin/time: a child forked from this Python starts
    # with its pages counted, so wait4's ru_maxrss would say 15 MB for
    # `sleep`. Its own CPU time is well under a millisecond.
    with tempfile.TemporaryFile() as err, tempfile.NamedTemporaryFile("r") as rss:
        start = time.perf_counter()
        p = subprocess.Popen(["/usr/bin/time", "-f", "%M", "-o", rss.name] + cmd, cwd=cwd,
                             stdout=subprocess.DEVNULL, stderr=err)
        deadline = start + timeout
        while True:
            pid, status, usage = os.wait4(p.pid, os.WNOHANG)
            if pid:
                break
            if time.perf_counter() > deadline:
                p.kill()
                os.wait4(p.pid, 0)
                return 124, float(timeout), 0.0, "timeout", float(timeout)
            time.sleep(0.0005)
        wall = time.perf_counter() - start
        p.returncode = os.waitstatus_to_exitcode(status)
        err.seek(0)
        lines = [ln for ln in rss.read().splitlines() if ln.strip().isdigit()]
        peak = int(lines[-1]) / 1024 if lines else 0.0
        return (p.returncode, wall, peak, err.read().decode(errors="replace"),
                usage.ru_utime + usage.ru_stime)


def timed_fast(cmd, cwd=None, runs=3):
    """For a command of a few milliseconds (repro): one run under timed()
    for the exit code, stderr and peak RSS, then `runs` runs with nothing
    in between (no /usr/bin/time, a blocking wait4) for the median wall and
    CPU time. Wrapping and polling cost 2-3 ms a run, as much as repro's
    work on most pairs, and would halve its measured speed-up."""
    rc, _, peak, err, _ = timed(cmd, cwd=cwd)
    walls, cpus = [], []
    for _ in range(runs):
        start = time.perf_counter()
        p = subprocess.Popen(cmd, cwd=cwd, stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL)
        _, _, usage = os.wait4(p.pid, 0)
        walls.append(time.perf_counter() - start)
        cpus.append(usage.ru_utime + usage.ru_stime)
        p.returncode = 0  # reaped above
    return rc, statistics.median(walls), peak, err, statistics.median(cpus)


def diffoscope_pairs(tests):
    """(test file, fixture a, fixture b) for every compare of two fixtures."""
    pairs = []
    seen = set()
    for test in sorted((tests / "comparators").glob("test_*.py")):
        text = test.read_text(errors="replace")
        names = dict(re.findall(r'(\w+)\s*=\s*load_fixture\(\s*"([^"]+)"\s*\)', text))
        for a, b in re.findall(r"(\w+)\.compare\(\s*(\w+)", text):
            if a in names and b in names and names[a] != names[b]:
                key = (names[a], names[b])
                if key not in seen:
                    seen.add(key)
                    pairs.append((test.name, *key))
    return pairs


def cmd_diff(args):
    data = Path(args.diffoscope_src) / "tests" / "data"
    pairs = diffoscope_pairs(Path(args.diffoscope_src) / "tests")
    work = Path(tempfile.mkdtemp(prefix="parity-diff-"))
    rows = []
    for test, a, b in pairs:
        fa, fb = data / a, data / b
        if not (fa.exists() and fb.exists()):
            rows.append(dict(test=test, a=a, b=b, verdict="missing fixture"))
            continue
        rj, dj = work / "r.json", work / "d.json"
        for f in (rj, dj):
            f.unlink(missing_ok=True)
        # Relative names, run from the data directory: both tools name the
        # top level after their arguments.
        # repro's few milliseconds are the median of three bare runs;
        # diffoscope (a tenth of a second and more) runs once.
        rc_r, t_r, m_r, err_r, c_r = timed_fast(
            [args.repro, "diff", "--json", str(rj), a, b], cwd=data)
        rc_d, t_d, m_d, err_d, c_d = timed(
            [args.diffoscope, "--no-progress", "--json", str(dj), a, b], cwd=data)
        mr, md = member_paths(rj), member_paths(dj)
        row = dict(test=test, a=a, b=b, rc_repro=rc_r, rc_dscope=rc_d, t_repro=t_r,
                   t_dscope=t_d, mb_repro=m_r, mb_dscope=m_d,
                   ratio=(t_d / t_r) if t_r > 0 else float("inf"),
                   cpu_ratio=(c_d / c_r) if c_r > 0 else float("inf"))
        if rc_r not in (0, 1) or rc_d not in (0, 1):
            row["verdict"] = "cannot read: " + ("repro" if rc_r not in (0, 1) else "diffoscope")
            row["detail"] = (err_r if rc_r not in (0, 1) else err_d).strip().splitlines()[-1:]
        elif rc_r != rc_d:
            row["verdict"] = "differ: exit code"
        elif (mr or set()) != (md or set()) and (a, b) in DELIBERATE:
            row["verdict"] = "deliberate: members"
            row["only_repro"] = sorted((mr or set()) - (md or set()))
            row["only_dscope"] = sorted((md or set()) - (mr or set()))
            row["detail"] = DELIBERATE[(a, b)]
        elif (mr or set()) != (md or set()):
            row["verdict"] = "differ: members"
            row["only_repro"] = sorted((mr or set()) - (md or set()))
            row["only_dscope"] = sorted((md or set()) - (mr or set()))
        else:
            row["verdict"] = "agree"
        rows.append(row)
        print(f"{row['verdict']:<22} {a} {b} repro {t_r:.3f}s {m_r:.0f}MB  "
              f"diffoscope {t_d:.2f}s {m_d:.0f}MB  x{row['ratio']:.0f} (CPU x{row['cpu_ratio']:.0f})",
              flush=True)
    shutil.rmtree(work, ignore_errors=True)
    counts = {}
    for r in rows:
        key = r["verdict"].split(":")[0]
        counts[key] = counts.get(key, 0) + 1
    timed_rows = [r for r in rows if "ratio" in r]
    slow = [r for r in timed_rows if r["ratio"] < 30]
    big = [r for r in timed_rows if r["mb_repro"] > 64]
    summary = (f"diffoscope pairs: {len(rows)}; " + ", ".join(f"{k} {v}" for k, v in sorted(counts.items()))
               + f"; under 30x faster: {len(slow)}; over 64 MB: {len(big)}")
    if timed_rows:
        ratios = sorted(r["ratio"] for r in timed_rows)
        cpu = sorted(r["cpu_ratio"] for r in timed_rows)
        summary += (f"; wall speed-up min {ratios[0]:.0f}x median {ratios[len(ratios) // 2]:.0f}x;"
                    f" CPU speed-up min {cpu[0]:.0f}x median {cpu[len(cpu) // 2]:.0f}x;"
                    f" repro peak RSS max {max(r['mb_repro'] for r in timed_rows):.0f} MB")
    print(summary)
    with open(args.report, "w") as f:
        f.write(summary + "\n\n")
        f.write("verdict\ttest\ta\tb\trc_repro\trc_dscope\tt_repro\tt_dscope\tratio\tmb_repro\tdetail\n")
        for r in rows:
            if r["verdict"] == "agree":
                continue
            detail = {k: r[k] for k in ("only_repro", "only_dscope", "detail") if k in r}
            f.write("\t".join(str(x) for x in (
                r["verdict"], r["test"], r["a"], r["b"], r.get("rc_repro", ""), r.get("rc_dscope", ""),
                f"{r.get('t_repro', 0):.3f}", f"{r.get('t_dscope', 0):.2f}",
                f"{r.get('ratio', 0):.0f}", f"{r.get('mb_repro', 0):.0f}", json.dumps(detail))) + "\n")
        f.write("\nslower than 30x or over 64 MB:\n")
        for r in slow + [r for r in big if r not in slow]:
            f.write(f"{r['a']}\t{r['b']}\tx{r['ratio']:.1f}\tCPU x{r['cpu_ratio']:.1f}"
                    f"\t{r['mb_repro']:.0f} MB\n")


def normalizer_pairs(sn, ad):
    """(suite, input, expected) for every fixture pair."""
    pairs = []
    fixtures = Path(sn) / "t" / "fixtures"
    for i in sorted(fixtures.glob("*/*.in")):
        o = i.with_suffix(".out")
        if o.exists():
            pairs.append(("strip-nondeterminism", i, o))
    cases = Path(ad) / "crate" / "tests" / "cases"
    for o in sorted(cases.rglob("*fixed*")):
        # NAME.fixed for NAME, or NAME.fixed.EXT for NAME.EXT.
        if o.name.endswith(".fixed"):
            i = o.with_suffix("")
        elif ".fixed." in o.name:
            i = o.with_name(o.name.replace(".fixed.", ".", 1))
        else:
            continue
        if i.exists():
            pairs.append(("add-determinism", i, o))
    return pairs


def canonical(repro, path, outdir, epoch):
    """repro normalize of path into outdir: (exit code, bytes, stderr, format)."""
    outdir.mkdir(parents=True, exist_ok=True)
    # repro detects by content; the base name only names the output.
    cmd = [repro, "normalize", "--json", "-o", str(outdir), str(path)]
    if epoch is not None:
        cmd[2:2] = ["--source-date-epoch", str(epoch)]
    p = subprocess.run(cmd, capture_output=True, timeout=600)
    fmt = None
    try:
        reports = json.loads(p.stdout or b"[]")
        if reports:
            fmt = reports[0].get("format")
    except ValueError:
        pass
    out = outdir / path.name
    body = out.read_bytes() if p.returncode == 0 and out.exists() else None
    return p.returncode, body, p.stderr.decode(errors="replace").strip(), fmt


def cmd_normalize(args):
    pairs = normalizer_pairs(args.sn, args.ad)
    work = Path(tempfile.mkdtemp(prefix="parity-norm-"))
    rows = []
    for n, (suite, i, o) in enumerate(pairs):
        ri = canonical(args.repro, i, work / f"{n}-in", args.epoch)
        ro = canonical(args.repro, o, work / f"{n}-out", args.epoch)
        # A fixture gates when repro claims its format (it normalizes either
        # side as a known format) and the tool's change is one repro's rules
        # make: add-determinism's pyc handler also rewrites the marshalled
        # code (FLAG_REF bits, unused references), which repro's pyc rule
        # (the source mtime) does not claim to do.
        marshal = (suite == "add-determinism" and i.suffix == ".pyc"
                   and i.read_bytes()[16:] != o.read_bytes()[16:])
        gating = (ri[3] is not None or ro[3] is not None) and not marshal
        if ri[0] != 0 or ro[0] != 0:
            verdict = "error"
            detail = (ri[2] if ri[0] != 0 else ro[2]).splitlines()[-1:]
        elif ri[1] == ro[1]:
            verdict, detail = "identical", ""
        else:
            verdict, detail = "differ", ""
        rows.append(dict(suite=suite, input=str(i), fmt=ri[3] or ro[3], gating=gating,
                         marshal=marshal, verdict=verdict, detail=detail))
        print(f"{verdict:<10} {'gating' if gating else 'other ':<6} {suite:<20} {i.name} ({ri[3] or ro[3]})",
              flush=True)
    shutil.rmtree(work, ignore_errors=True)
    lines = []
    for suite in ("strip-nondeterminism", "add-determinism"):
        mine = [r for r in rows if r["suite"] == suite]
        gate = [r for r in mine if r["gating"]]
        ok = [r for r in gate if r["verdict"] == "identical"]
        other_ok = [r for r in mine if not r["gating"] and r["verdict"] == "identical"]
        marshal = [r for r in mine if r["marshal"]]
        lines.append(f"{suite}: {len(mine)} pairs, {len(gate)} gating (a format repro normalizes): "
                     f"{len(ok)} identical, {len(gate) - len(ok)} not; "
                     f"{len(mine) - len(gate) - len(marshal)} in formats repro leaves alone"
                     f" and {len(marshal)} pyc marshal rewrites repro does not make"
                     f" ({len(other_ok)} of those identical anyway)")
    print("\n".join(lines))
    with open(args.report, "w") as f:
        f.write("\n".join(lines) + "\n\nverdict\tgating\tsuite\tformat\tinput\tdetail\n")
        for r in rows:
            if r["verdict"] != "identical":
                f.write(f"{r['verdict']}\t{r['gating']}\t{r['suite']}\t{r['fmt']}\t{r['input']}\t"
                        f"{json.dumps(r['detail'])}\n")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    d = sub.add_parser("diff")
    d.add_argument("--diffoscope-src", required=True, help="diffoscope's unpacked sdist")
    d.add_argument("--diffoscope", required=True, help="the diffoscope to compare with")
    d.add_argument("--repro", required=True)
    d.add_argument("--report", required=True)
    n = sub.add_parser("normalize")
    n.add_argument("--sn", required=True, help="strip-nondeterminism's source tree")
    n.add_argument("--ad", required=True, help="add-determinism's directory (crate/)")
    n.add_argument("--repro", required=True)
    # The lowest epoch: every time either side holds is clamped to it, so
    # that clamping (repro) and setting (strip-nondeterminism -T,
    # add-determinism's SOURCE_DATE_EPOCH) agree and only structure counts.
    n.add_argument("--epoch", type=int, default=0)
    n.add_argument("--report", required=True)
    args = ap.parse_args()
    if not shutil.which(args.repro) and not os.access(args.repro, os.X_OK):
        sys.exit(f"no repro binary at {args.repro}")
    {"diff": cmd_diff, "normalize": cmd_normalize}[args.cmd](args)


if __name__ == "__main__":
    main()
