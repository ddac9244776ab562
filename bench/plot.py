#!/usr/bin/env python3
"""plot.py: draws the results of a benchmark run with gnuplot (make bench-plot).

    python3 bench/plot.py bench/results/latest.json

Writes, beside the JSON file, PNG files and the data and gnuplot script
each was drawn from (NAME.dat, NAME.gp):
  migrate.png   one move's latency against heap size (log-log): shoal's
                migration p50 and p99, shoal's copy baseline (one deep
                copy) p50, BEAM's copy p50
  skew.png      the skew speed-up from 1 VM to all VMs under each policy
                (median, min-max bars), with BENCH.md's bar (1.85) and
                BEAM's speed-up
  memory.png    bytes per idle process: shoal (the memfd's allocated
                blocks) and BEAM (erlang:memory(processes)), at each size
                that ran, with the bar (0.4x BEAM)
A plot whose rows are missing from the results is skipped, with a
message; the exit status is 0 if at least one was drawn.
"""
import json
import os
import shutil
import subprocess
import sys

UNITS = {"B": 1, "KiB": 1 << 10, "MiB": 1 << 20, "GiB": 1 << 30}


def size_bytes(text):
    """'4 KiB' -> 4096; None if it is not a size."""
    parts = text.split()
    if len(parts) != 2 or parts[1] not in UNITS:
        return None
    try:
        return int(parts[0]) * UNITS[parts[1]]
    except ValueError:
        return None


def terminal():
    """pngcairo where gnuplot has it, else png (libgd)."""
    p = subprocess.run(["gnuplot", "-e", "set terminal pngcairo"], stdout=subprocess.DEVNULL,
                       stderr=subprocess.PIPE)
    if p.returncode == 0 and not p.stderr.strip():
        return "pngcairo size 960,600 font ',10'"
    return "png size 960,600"


def draw(outdir, name, data, script, term):
    """Writes NAME.dat and NAME.gp and runs gnuplot; True if NAME.png was made."""
    dat = os.path.join(outdir, name + ".dat")
    gp = os.path.join(outdir, name + ".gp")
    png = os.path.join(outdir, name + ".png")
    with open(dat, "w") as f:
        f.write(data)
    with open(gp, "w") as f:
        f.write("set terminal %s\nset output '%s'\n" % (term, png))
        f.write(script.replace("DAT", "'%s'" % dat))
    p = subprocess.run(["gnuplot", gp], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    if p.returncode != 0:
        print("plot: %s: gnuplot failed: %s" % (name, p.stderr.decode(errors="replace").strip()),
              file=sys.stderr)
        return False
    print("plot: %s" % os.path.relpath(png))
    return True


def num(x):
    return "NaN" if x is None else repr(float(x))


def migrate_plot(doc, outdir, term):
    rows = [r for r in doc["rows"] if r["workload"] == "migrate"]
    series = ["migrate p50, one move", "migrate p99, one move", "copy baseline p50, one deep copy"]
    by = {}
    for r in rows:
        b = size_bytes(r["size"])
        if b is None:
            continue
        d = by.setdefault(b, {})
        if r["variant"] in series:
            d[r["variant"]] = r["median"]
        if r["variant"] == "migrate p50, one move":
            d["beam"] = r["peer_median"]
    if not by or all(v is None for d in by.values() for v in d.values()):
        print("plot: migrate: no migrate rows in the results; skipped", file=sys.stderr)
        return False
    lines = ["# heap_bytes migrate_p50_us migrate_p99_us copy_p50_us beam_copy_p50_us"]
    for b in sorted(by):
        d = by[b]
        lines.append("%d %s %s %s %s" % (b, num(d.get(series[0])), num(d.get(series[1])),
                                         num(d.get(series[2])), num(d.get("beam"))))
    script = """set title "migrate: one move of a process to the other VM, against its heap size"
set xlabel "heap size (bytes of live list)"
set ylabel "microseconds per move"
set logscale xy 2
set format x "%.0b %BB"
set format y "10^{%L}"
set logscale y 10
set grid
set key top left
plot DAT using 1:2 with linespoints title "shoal migrate p50", \\
     DAT using 1:3 with linespoints title "shoal migrate p99", \\
     DAT using 1:4 with linespoints title "shoal copy baseline p50 (one deep copy)", \\
     DAT using 1:5 with linespoints title "BEAM copy p50 (to a fresh process)"
"""
    return draw(outdir, "migrate", "\n".join(lines) + "\n", script, term)


def skew_plot(doc, outdir, term):
    rows = [r for r in doc["rows"] if r["workload"] == "policies"
            and r["variant"].startswith("skew speed-up")]
    if not rows:
        print("plot: skew: no policies rows in the results; skipped", file=sys.stderr)
        return False
    beam = [r["peer_median"] for r in doc["rows"] if r["workload"] == "skew"
            and r["variant"].startswith("speed-up")]
    lines = ["# policy median min max"]
    for r in rows:
        policy = r["variant"].rsplit(", ", 1)[-1]
        lines.append('"%s" %s %s %s' % (policy, num(r["median"]), num(r["min"]), num(r["max"])))
    title = rows[0]["variant"].rsplit(",", 1)[0]
    extra = ""
    if beam and beam[0] is not None:
        extra = ", %s with lines dashtype 2 title \"BEAM +S 1 -> +S 2 (%.2f)\"" % (beam[0], beam[0])
    script = """set title "%s, per policy (%s)"
set ylabel "speed-up (makespan 1 VM / all VMs)"
set yrange [0:*]
set style fill solid 0.5
set boxwidth 0.6
set grid y
set key outside bottom center horizontal
plot DAT using 0:2:xtic(1) with boxes title "shoal median", \\
     DAT using 0:2:3:4 with yerrorbars title "min-max", \\
     1.85 with lines title "bar: 1.85 (steal)"%s
""" % (title, rows[0]["size"], extra)
    return draw(outdir, "skew", "\n".join(lines) + "\n", script, term)


def memory_plot(doc, outdir, term):
    rows = [r for r in doc["rows"] if r["variant"] == "shared memory per idle process"]
    if not rows:
        print("plot: memory: no memory rows in the results; skipped", file=sys.stderr)
        return False
    lines = ["# label shoal_bytes beam_bytes bar_bytes"]
    for r in rows:
        n = r["size"].split()[0]
        bar = 0.4 * r["peer_median"] if r["peer_median"] is not None else None
        lines.append('"%s idle" %s %s %s' % (n, num(r["median"]), num(r["peer_median"]), num(bar)))
    script = """set title "shared memory per idle process"
set ylabel "bytes per process"
set yrange [0:*]
set style data histogram
set style histogram clustered gap 1
set style fill solid 0.6
set grid y
set key outside bottom center horizontal
plot DAT using 2:xtic(1) title "shoal (memfd's allocated blocks)", \\
     DAT using 3 title "BEAM (erlang:memory(processes))", \\
     DAT using 4 title "bar: 0.4x BEAM"
"""
    return draw(outdir, "memory", "\n".join(lines) + "\n", script, term)


def main():
    if len(sys.argv) != 2:
        print("usage: plot.py bench/results/latest.json", file=sys.stderr)
        return 2
    path = sys.argv[1]
    try:
        with open(path) as f:
            doc = json.load(f)
    except (OSError, ValueError) as e:
        print("plot: cannot read %s: %s (run make bench first)" % (path, e), file=sys.stderr)
        return 1
    if not shutil.which("gnuplot"):
        print("plot: gnuplot is not installed (scripts/deps.sh --bench installs gnuplot-nox)",
              file=sys.stderr)
        return 1
    outdir = os.path.dirname(os.path.abspath(path))
    term = terminal()
    made = [f(doc, outdir, term) for f in (migrate_plot, skew_plot, memory_plot)]
    return 0 if any(made) else 1


if __name__ == "__main__":
    sys.exit(main())
