#!/usr/bin/env python3
"""Savina-style probe: classic actor programs that make bench does not run,
each in shoal and Erlang, run one after the other (shoal --vms 1, BEAM +S 1:1,
shoal --vms 2, BEAM +S 2:2) REPS times; prints the medians in ms and the
ratios, and checks that every run gave the same value.

    bench/probe/run.py path/to/shoal [prog,prog,... | all] [REPS]
"""
import os, re, statistics, subprocess, sys, tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
SIZES = {
    "cham": ["500", "1000000"],
    "cdict": ["20", "100000"],
    "sll": ["20", "5000"],
    "bbuf": ["20", "20", "20000", "50"],
    "sieve": ["30000"],
    "bank": ["1000", "1000000", "100"],
    "trap": ["4000000", "8"],
    "logmap": ["10", "200000"],
    "nq": ["12"],
    "qsort": ["1000000", "10000"],
    "matmul": ["200", "8"],
    "strs": ["8", "100000"],
    "kmeans": ["100000", "8", "8", "10"],
}


def once(argv):
    p = subprocess.run(["timeout", "120"] + argv, capture_output=True, text=True)
    m = re.search(r"RESULT value=(\S+) elapsed_ms=(\S+)", p.stdout)
    if p.returncode != 0 or not m:
        sys.exit("failed: %s\n%s%s" % (" ".join(argv), p.stdout[-300:], p.stderr[-500:]))
    return m.group(1), float(m.group(2))


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    shoal = sys.argv[1]
    progs = sys.argv[2].split(",") if len(sys.argv) > 2 and sys.argv[2] != "all" else list(SIZES)
    unknown = [p for p in progs if p not in SIZES]
    if unknown:
        sys.exit("unknown program %s: the programs are %s" % (", ".join(unknown), ", ".join(SIZES)))
    reps = int(sys.argv[3]) if len(sys.argv) > 3 else 5
    beams = tempfile.mkdtemp(prefix="shoal-probe-")
    for prog in progs:
        subprocess.run(["erlc", "-o", beams, os.path.join(HERE, prog + ".erl")], check=True)
    print("%-7s %10s %10s %10s %10s %7s %7s" % ("program", "shoal 1", "BEAM +S1", "shoal 2",
                                               "BEAM +S2", "ratio1", "ratio2"))
    for prog in progs:
        args = SIZES[prog]
        runs = {"s1": [], "b1": [], "s2": [], "b2": []}
        values = set()
        for _ in range(reps):
            for key in ("s1", "b1", "s2", "b2"):
                n = key[1]
                if key[0] == "s":
                    argv = [shoal, "run", "--name", "probe%d" % os.getpid(), "--vms", n,
                            os.path.join(HERE, prog + ".shoal"), "--"] + args
                else:
                    argv = ["erl", "-noshell", "+S", "%s:%s" % (n, n), "-pa", beams, "-run", prog,
                            "main"] + args
                v, ms = once(argv)
                values.add(v)
                runs[key].append(ms)
        med = {k: statistics.median(v) for k, v in runs.items()}
        print("%-7s %10.0f %10.0f %10.0f %10.0f %7.2f %7.2f%s" % (
            prog, med["s1"], med["b1"], med["s2"], med["b2"], med["s1"] / med["b1"],
            med["s2"] / med["b2"], "" if len(values) == 1 else "  VALUES DIFFER: %s" % values),
            flush=True)


if __name__ == "__main__":
    main()
