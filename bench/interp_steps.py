#!/usr/bin/env python3
"""interp_steps.py: the interpreter steps table of bench/README.md.

    bench/interp_steps.py [--reps R] [--kernels N] NAME=SHOAL ...

Runs fib(30) (10 per run, bench/fib.shoal) on every shoal binary given,
and the Lua 5.4 and BEAM (+S 1) peers, repetition by repetition,
interleaved, so that every binary and peer sees the same machine noise;
prints one row per binary: the median CPU ms per fib(30), and its ratio to
the Lua and BEAM medians of the same run. With --kernels N it also runs
bench/kernels.shoal N on each binary and bench/peers/bkernels.erl, and
prints ns per iteration per kernel with the ratio to BEAM.

Build a binary of an older commit with, for instance,
    git archive COMMIT | tar -x -C /tmp/old && make -C /tmp/old BUILD=b OPT="-O2 -DNDEBUG" b/shoal
"""
import os
import shutil
import statistics
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
PEERS = os.path.join(HERE, "peers")


def results(cmd):
    out = subprocess.run(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, timeout=600, check=True).stdout.decode()
    rows = []
    for line in out.splitlines():
        parts = line.split()
        if parts and parts[0] == "RESULT":
            rows.append(dict(kv.split("=", 1) for kv in parts[1:] if "=" in kv))
    return rows


def main():
    args = sys.argv[1:]
    reps, kn = 5, 0
    while args and args[0].startswith("--"):
        if args[0] == "--reps":
            reps = int(args[1])
        elif args[0] == "--kernels":
            kn = int(args[1])
        else:
            sys.exit("unknown option " + args[0])
        args = args[2:]
    bins = [a.split("=", 1) for a in args]
    if not bins:
        sys.exit(__doc__)
    ebin = tempfile.mkdtemp()
    try:
        for m in ("bfib", "bkernels"):
            subprocess.run(["erlc", "-o", ebin, os.path.join(PEERS, m + ".erl")], check=True)
        fib = {name: [] for name, _ in bins}
        fib["lua"], fib["beam"] = [], []
        ker = {}

        def add_kernels(name, rows):
            for r in rows:
                ker.setdefault((name, r["kernel"]), []).append(float(r["value"]))

        beam = ["erl", "-noshell", "+S", "1", "-pa", ebin, "-run"]
        for rep in range(reps):
            print("rep %d/%d" % (rep + 1, reps), file=sys.stderr, flush=True)
            for name, shoal in bins:
                r = results([shoal, "run", "--vms", "1", os.path.join(HERE, "fib.shoal"),
                             "--", "30", "10"])
                fib[name].append(float(r[0]["value"]))
            fib["lua"].append(float(results(["lua5.4", os.path.join(PEERS, "fib.lua"),
                                             "30", "10"])[0]["value"]))
            fib["beam"].append(float(results(beam + ["bfib", "main", "30", "10"])[0]["value"]))
            if kn:
                for name, shoal in bins:
                    add_kernels(name, results([shoal, "run", "--vms", "1",
                                               os.path.join(HERE, "kernels.shoal"),
                                               "--", str(kn)]))
                add_kernels("beam", results(beam + ["bkernels", "main", str(kn)]))
        med = {k: statistics.median(v) for k, v in fib.items()}
        print("fib(30), CPU ms, median of %d (min-max): Lua %.1f (%.1f-%.1f), BEAM %.1f (%.1f-%.1f)"
              % (reps, med["lua"], min(fib["lua"]), max(fib["lua"]),
                 med["beam"], min(fib["beam"]), max(fib["beam"])))
        print("| binary | shoal ms (min-max) | / Lua 5.4 | / BEAM JIT |")
        print("|---|---|---|---|")
        for name, _ in bins:
            print("| %s | %.1f (%.1f-%.1f) | %.2f | %.2f |"
                  % (name, med[name], min(fib[name]), max(fib[name]),
                     med[name] / med["lua"], med[name] / med["beam"]))
        if kn:
            kernels = sorted({k for _, k in ker})
            print("\nkernels(%d), ns per iteration, median of %d (/ BEAM)" % (kn, reps))
            print("| binary | " + " | ".join(kernels) + " |")
            print("|---" * (len(kernels) + 1) + "|")
            kmed = {k: statistics.median(v) for k, v in ker.items()}
            for name in [n for n, _ in bins] + ["beam"]:
                cells = []
                for k in kernels:
                    v = kmed[(name, k)]
                    cells.append("%.1f" % v if name == "beam"
                                 else "%.1f (%.2f)" % (v, v / kmed[("beam", k)]))
                print("| %s | %s |" % (name, " | ".join(cells)))
    finally:
        shutil.rmtree(ebin, ignore_errors=True)


if __name__ == "__main__":
    main()
