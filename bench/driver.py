#!/usr/bin/env python3
"""driver.py: the benchmark driver behind bench/run.sh (see bench/README.md).

Runs each workload on shoal and on its peers (BEAM `erl`, Lua 5.4
`lua5.4`) in this one invocation, repetition by repetition, interleaved;
prints a progress line per workload, then a table whose every row carries
its bar from ../shared/BENCH.md and whether it is met; writes the same rows
to bench/results/latest.json (`make bench-plot` draws from it).

Every program times its own measured section and prints lines of the form
    RESULT key=value key=value ...
so start-up is not counted; the memory and numa workloads are measured
from outside while their run holds still (benchlib.LiveRun). Every run has
a time limit. A run that fails is reported in its row, and the driver goes
on; it exits 0 whenever it ran to the end. It never makes up a figure: a
missing peer or a failed run gives "n/a" or "not available" with the
reason. The running, the peers, the rows and the bars are in benchlib.py.
"""
import json
import os
import platform
import statistics
import subprocess
import sys
import time

from benchlib import (HERE, QUICK, REPS, ROWS, TIMEOUT, LiveRun, LiveSeries, Peers, add_row,
                      bar, human_bytes, log, pct, phase_values, ratios, repeat,
                      row_from, run, shoal_series)

RESULTS = os.path.join(HERE, "results")

CPUS = os.cpu_count() or 2
NV = max(2, CPUS)  # "all VMs": one per core, at least 2

# The memory runs spawn 100k processes and their figure barely moves: fewer
# repetitions. The scale runs (full only at their real sizes) run once.
MEM_REPS = 1 if QUICK else min(REPS, 3)
SCALE_REPS = 1

if QUICK:
    SZ = dict(fib_n=25, fib_k=20, spawn_n=20000, ring_p=1000, ring_r=100,
              pp_n=50000, skew_w=64, skew_iters=300000,
              mig_sizes=[4 << 10, 64 << 10, 1 << 20, 16 << 20, 64 << 20],
              mig_target_ms=10, mig_budget_ms=100, mig_min_b=3, mig_max_b=20,
              beam_min_moves=3, beam_max_moves=1000, mem_n=100000, maps_n=100000,
              tab_int=100000, tab_str=20000, tab_keys=16, tab_updates=100000,
              flood_n=200000, flood_t=4, over_p=100, over_r=100,
              numa_w=64, numa_iters=10000, numa_cells=2000,
              sel_backlog=10000, sel_k=20000,
              big_n=200, big_m=100, pfib_n=30, pfib_cut=18, count_n=100000,
              pipe_n=20000, pipe_s=8, calls_c=50, calls_k=400,
              scale_idle_n=20000, scale_mig_bytes=16 << 20, scale_mig_moves=1000,
              scale_mig_rounds=10, scale_flood_n=200000, scale_flood_per_vm=10)
else:
    SZ = dict(fib_n=30, fib_k=10, spawn_n=200000, ring_p=1000, ring_r=1000,
              pp_n=500000, skew_w=64, skew_iters=3000000,
              mig_sizes=[4 << 10, 16 << 10, 64 << 10, 256 << 10, 1 << 20, 4 << 20,
                         16 << 20, 64 << 20],
              mig_target_ms=20, mig_budget_ms=400, mig_min_b=5, mig_max_b=50,
              beam_min_moves=5, beam_max_moves=1000, mem_n=100000, maps_n=1000000,
              tab_int=1000000, tab_str=200000, tab_keys=16, tab_updates=1000000,
              flood_n=1000000, flood_t=4, over_p=100, over_r=1000,
              numa_w=64, numa_iters=30000, numa_cells=2000,
              sel_backlog=10000, sel_k=200000,
              big_n=1000, big_m=300, pfib_n=35, pfib_cut=18, count_n=1000000,
              pipe_n=300000, pipe_s=8, calls_c=100, calls_k=3000,
              scale_idle_n=1000000, scale_mig_bytes=64 << 20, scale_mig_moves=1000,
              scale_mig_rounds=100, scale_flood_n=10000000, scale_flood_per_vm=100)

# The bars of ../shared/BENCH.md (and issue 14 where BENCH.md has none).
BAR_SPAWN = bar("<=", 0.5, text="<= 0.5x the faster BEAM")
BAR_RING1 = bar("<=", 0.8)
BAR_PP2 = bar("<=", 1.0)
BAR_SKEW = bar(">=", 1.85, on="value", text="speed-up >= 1.85")
BAR_FIB_LUA = bar("<=", 1.0, text="<= 1.0x Lua, same clock")
BAR_FIB_BEAM = bar("<=", 2.0, text="<= 2.0x BEAM, same clock")
BAR_MEM = bar("<=", 0.4)
BAR_FLOOD = bar("<=", 2.0, on="value", text="all VMs <= 2x 1 VM")
BAR_OVERSUB = bar("<=", 2.0, on="value", text="<= 2x as many VMs as cores")
BAR_MIG_COPY = bar("<=", 0.001, on="value", text="<= 0.001 at 64 MiB")
BAR_MIG_FLAT = bar("<=", 1.5, on="value", text="64 MiB / 4 KiB <= 1.5")
BAR_TAB = bar("<=", 1.5)
BAR_TAB_COUNTER = bar("<=", 1.0)
BAR_TAB_BYTES = bar("<=", 2.0)
BAR_MAPS = bar("<=", 1.5)
BAR_SPAWN_SCALE = bar("<=", 1.0, on="value", text="2 VMs <= 1 VM (issue 14)")


def prog(name):
    return os.path.join(HERE, name)


def vm_pair(shoal, peers, program, module, args, lo, hi, names=("", "")):
    """The same workload on shoal with `lo` and `hi` VMs and on BEAM with as
    many schedulers, interleaved repetition by repetition: (s_lo, s_hi,
    b_lo, b_hi)."""
    s1 = shoal_series(shoal, "shoal --vms %d%s" % (lo, names[0]), lo, program, args)
    s2 = shoal_series(shoal, "shoal --vms %d%s" % (hi, names[1]), hi, program, args)
    b1 = peers.beam("BEAM +S %d:%d" % (lo, lo), lo, module, args)
    b2 = peers.beam("BEAM +S %d:%d" % (hi, hi), hi, module, args)
    repeat([s1, b1, s2, b2], REPS)
    return s1, s2, b1, b2


def ratio_row(workload, variant, size, num, den, bnum, bden, peer, bar_=None, note="",
              better="lower"):
    """A row of shoal's num/den per repetition, beside BEAM's bnum/bden."""
    sr, serr = ratios(num, den)
    br, berr = ratios(bnum, bden)
    add_row(workload, variant, size, "x" if better == "higher" else "ratio", sr, serr, peer, br,
            berr, bar_=bar_, note=note, better=better)


# ---------------------------------------------------------------- fib

def per_count(series, key):
    """series' `key` divided by its `count`, one per repetition."""
    out = []
    for res in series.reps:
        try:
            out.append(float(res[0][key]) / float(res[0]["count"]))
        except (KeyError, ValueError, ZeroDivisionError):
            pass
    return out


def w_fib(shoal, peers):
    """The same clock on every side. fib.shoal reports CPU time (cpu_ms)
    where the interpreter has (cpu-us), else wall time from (now-ms); Lua
    has only os.clock (CPU); bfib reports both (statistics(runtime) and a
    monotonic wall clock). Each ratio uses the clock shoal used; a pair
    with no common clock is shown but its bar is not judged."""
    n, k = SZ["fib_n"], SZ["fib_k"]
    log("fib(%d), %d times per run" % (n, k))
    s = shoal_series(shoal, "shoal --vms 1", 1, "fib.shoal", [n, k])
    lua = peers.lua_fib(n, k)
    beam = peers.beam("BEAM +S 1", 1, "bfib", [n, k])
    repeat([s, lua, beam], REPS)
    size = "fib(%d)" % n
    cpu = s.extra("cpu_ms") is not None
    clock = "CPU time ((cpu-us))" if cpu else "wall time ((now-ms))"
    if cpu or beam.extra("wall_ms") is None:
        bvals, bclock = beam.values(), "CPU time (statistics(runtime))"
    else:
        bvals, bclock = per_count(beam, "wall_ms"), "wall time (monotonic_time)"
    add_row("fib", "1 process", size, "ms", s.values(), s.error, "Lua 5.4", lua.values(),
            lua.error, bar_=BAR_FIB_LUA,
            unjudged=None if cpu else "clocks differ: shoal's is wall time, Lua's os.clock CPU time",
            note="ms per fib(%d), %d per run; shoal: %s; Lua: CPU time (os.clock)" % (n, k, clock))
    add_row("fib", "1 process", size, "ms", s.values(), s.error, "BEAM +S 1", bvals, beam.error,
            bar_=BAR_FIB_BEAM,
            note="shoal: %s; BEAM: %s" % (clock, bclock))


# ---------------------------------------------------------------- spawn

def faster(a, b):
    """Of two BEAM series, the one with the lower median (the other if one
    has no figure)."""
    va, vb = a.values(), b.values()
    if not vb:
        return a
    if not va:
        return b
    return a if statistics.median(va) <= statistics.median(vb) else b


def w_spawn(shoal, peers):
    n = SZ["spawn_n"]
    log("spawn N=%d on 1 and %d VMs; BEAM as written and with off_heap message queues" % (n, NV))
    s1 = shoal_series(shoal, "shoal --vms 1", 1, "spawn.shoal", [n])
    s2 = shoal_series(shoal, "shoal --vms %d" % NV, NV, "spawn.shoal", [n])
    b = {}
    for sch in (1, NV):
        b[sch] = (peers.beam("BEAM +S %d as written" % sch, sch, "bspawn", [n]),
                  peers.beam("BEAM +S %d off_heap" % sch, sch, "bspawn", [n, "off_heap"]))
    repeat([s1, b[1][0], b[1][1], s2, b[NV][0], b[NV][1]], REPS)
    size = "N=%d" % n
    for s, sch, what in ((s1, 1, "1 VM"), (s2, NV, "%d VMs" % NV)):
        w, o = b[sch]
        f = faster(w, o)
        med = lambda x: "%.0f" % statistics.median(x.values()) if x.values() else "n/a"
        row_from("spawn", what, size, "ns/process", s, f,
                 "BEAM +S %d %s" % (sch, "off_heap" if f is o else "as written"),
                 bar_=BAR_SPAWN,
                 note="BEAM ns/process: as written %s, off_heap %s; the bar is against the "
                      "faster" % (med(w), med(o)))
    ratio_row("spawn", "%d VMs / 1 VM" % NV, size, s2, s1, faster(*b[NV]), faster(*b[1]),
              "BEAM +S %d / +S 1" % NV, bar_=BAR_SPAWN_SCALE,
              note="per repetition; BEAM: the faster variants")


# ---------------------------------------------------------------- ring, pingpong

def w_ring(shoal, peers):
    p, r = SZ["ring_p"], SZ["ring_r"]
    log("ring P=%d R=%d on 1 VM and %d VMs (spread round-robin, and placed by the policy)"
        % (p, r, NV))
    s1 = shoal_series(shoal, "shoal --vms 1", 1, "ring.shoal", [p, r])
    s2 = shoal_series(shoal, "shoal --vms %d round-robin" % NV, NV, "ring.shoal", [p, r])
    s3 = shoal_series(shoal, "shoal --vms %d by the policy" % NV, NV, "ring.shoal",
                      [p, r, "policy"])
    b1 = peers.beam("BEAM +S 1:1", 1, "bring", [p, r])
    b2 = peers.beam("BEAM +S %d:%d" % (NV, NV), NV, "bring", [p, r])
    repeat([s1, b1, s2, b2, s3], REPS)
    size = "P=%d R=%d" % (p, r)
    row_from("ring", "1 VM", size, "ns/hop", s1, b1, b1.name, bar_=BAR_RING1)
    for s, what in ((s2, "round-robin"), (s3, "placed by the policy (steal)")):
        mig = s.extra("migrations")
        row_from("ring", "%d VMs, %s" % (NV, what), size, "ns/hop", s, b2, b2.name,
                 note="ring processes moved by work stealing during the last run: %s" % mig
                 if mig is not None else "")


def w_pingpong(shoal, peers):
    n = SZ["pp_n"]
    log("pingpong: %d round trips, same VM and two VMs" % n)
    s0 = shoal_series(shoal, "shoal same VM (spawn-on 0, 0)", 2, "pingpong.shoal", [n, 0])
    s1 = shoal_series(shoal, "shoal two VMs (spawn-on 0, 1)", 2, "pingpong.shoal", [n, 1])
    b = peers.beam("BEAM +S 2", 2, "bpingpong", [n])
    repeat([s0, s1, b], REPS)
    size = "%d round trips" % n

    def note(s):
        if not s.reps:
            return ""
        return "last run: ping on VM %s, pong on VM %s, migrations %s" % (
            s.extra("ping_vm"), s.extra("pong_vm"), s.extra("migrations"))
    row_from("pingpong", "same VM (--vms 2)", size, "ns/roundtrip", s0, b, "BEAM +S 2", note(s0))
    row_from("pingpong", "two VMs (--vms 2)", size, "ns/roundtrip", s1, b, "BEAM +S 2", note(s1),
             bar_=BAR_PP2)


def w_select(shoal, peers):
    """Selective receive: calls with a fresh ref, with and without a
    backlog of unrelated messages in the caller's mailbox (the receive
    mark skips the backlog, as BEAM's receive markers do)."""
    b, k = SZ["sel_backlog"], SZ["sel_k"]
    log("select: %d calls, backlog 0 and %d" % (k, b))
    s0 = shoal_series(shoal, "shoal --vms 1 backlog 0", 1, "select.shoal", [0, k])
    s1 = shoal_series(shoal, "shoal --vms 1 backlog %d" % b, 1, "select.shoal", [b, k])
    b0 = peers.beam("BEAM +S 1 backlog 0", 1, "bselect", [0, k])
    b1 = peers.beam("BEAM +S 1 backlog %d" % b, 1, "bselect", [b, k])
    repeat([s0, s1, b0, b1], REPS)
    row_from("select", "1 VM, no backlog", "%d calls" % k, "ns/call", s0, b0, "BEAM +S 1")
    row_from("select", "1 VM, backlog", "%d calls, %d waiting" % (k, b), "ns/call", s1, b1,
             "BEAM +S 1")


def w_actors(shoal, peers):
    """Classic actor workloads (Savina's Big and Counting Actor, a fork-join
    fib, a pipeline, synchronous calls to one server), the same program on
    both sides, processes placed by each runtime's own policy (`spawn`):
    the general paths, with no bar."""
    work = [("big", "big.shoal", "bbig", [SZ["big_n"], SZ["big_m"]],
             "%d actors x %d pings" % (SZ["big_n"], SZ["big_m"])),
            ("pfib", "pfib.shoal", "bpfib", [SZ["pfib_n"], SZ["pfib_cut"]],
             "fib(%d), a process per call above %d" % (SZ["pfib_n"], SZ["pfib_cut"])),
            ("count", "count.shoal", "bcount", [SZ["count_n"]],
             "%d messages to one counter" % SZ["count_n"]),
            ("pipe", "pipe.shoal", "bpipe", [SZ["pipe_n"], SZ["pipe_s"]],
             "%d integers through %d stages" % (SZ["pipe_n"], SZ["pipe_s"])),
            ("calls", "calls.shoal", "bcalls", [SZ["calls_c"], SZ["calls_k"]],
             "%d clients x %d calls to one server" % (SZ["calls_c"], SZ["calls_k"]))]
    log("actors: %s on 1 VM and %d VMs" % (", ".join(w[0] for w in work), NV))
    for name, prog_, module, args, size in work:
        s1, s2, b1, b2 = vm_pair(shoal, peers, prog_, module, args, 1, NV)
        row_from("actors", "%s, 1 VM" % name, size, "ms", s1, b1, b1.name)
        row_from("actors", "%s, %d VMs" % (name, NV), size, "ms", s2, b2, b2.name)


# ---------------------------------------------------------------- skew, policies

def w_skew(shoal, peers):
    w, it = SZ["skew_w"], SZ["skew_iters"]
    log("skew: %d workers x %d iterations, all spawned on VM 0; 1 and 2 VMs" % (w, it))
    s1, s2, b1, b2 = vm_pair(shoal, peers, "skew.shoal", "bskew", [w, it], 1, 2)
    size = "%d workers x %d iters" % (w, it)
    row_from("skew", "makespan, 1 VM", size, "ms", s1, b1, b1.name)
    off = s2.extra("finished_off_vm0")
    row_from("skew", "makespan, 2 VMs (steal)", size, "ms", s2, b2, b2.name,
             note="workers that finished on VM 1 in the last run: %s of %d" % (off, w)
             if off is not None else "")
    ratio_row("skew", "speed-up 1 -> 2 VMs (steal)", size, s1, s2, b1, b2, "BEAM +S 1 -> +S 2",
              better="higher", bar_=BAR_SKEW,
              note="speed-up = makespan with 1 VM / with 2 VMs, per repetition; ratio = shoal "
                   "speed-up / BEAM speed-up, higher is better")


POLICIES = ["none", "round-robin", "least-loaded", "steal", "affinity"]


def w_policies(shoal, peers):
    """The skew workload under each policy, as the speed-up from 1 VM to
    all VMs; and a pingpong between two processes spawned on different
    VMs, under affinity (which should put them on one VM) against none."""
    w, it = SZ["skew_w"], SZ["skew_iters"]
    n = SZ["pp_n"]
    log("policies: skew on 1 and %d VMs under each policy; pingpong apart (%d round trips) "
        "under affinity and none" % (NV, n))
    s1 = shoal_series(shoal, "skew --vms 1", 1, "skew.shoal", [w, it])
    sk = {p: shoal_series(shoal, "skew --vms %d --policy %s" % (NV, p), NV, "skew.shoal", [w, it],
                          flags=["--policy", p]) for p in POLICIES}
    pp = {p: shoal_series(shoal, "pingpong apart --policy %s" % p, 2, "pingpong.shoal", [n, 1],
                          flags=["--policy", p]) for p in ("none", "affinity")}
    repeat([s1] + [sk[p] for p in POLICIES] + [pp["none"], pp["affinity"]], REPS)
    size = "%d workers x %d iters" % (w, it)
    for p in POLICIES:
        ss, serr = ratios(s1, sk[p])
        off = sk[p].extra("finished_off_vm0")
        add_row("policies", "skew speed-up 1 -> %d VMs, %s" % (NV, p), size, "x", ss, serr,
                "-", [], None, better="higher",
                note="workers that finished off VM 0 in the last run: %s of %d" % (off, w)
                if off is not None else "")
    size = "%d round trips" % n
    for p in ("none", "affinity"):
        s = pp[p]
        note = ("last run: ping on VM %s, pong on VM %s, migrations %s"
                % (s.extra("ping_vm"), s.extra("pong_vm"), s.extra("migrations"))
                if s.reps else "")
        if p == "none":
            row_from("policies", "pingpong spawned apart, none", size, "ns/roundtrip", s, None,
                     "-", note=note)
        else:
            row_from("policies", "pingpong spawned apart, affinity", size, "ns/roundtrip", s,
                     pp["none"], "policy none", note=note)


# ---------------------------------------------------------------- migrate

def w_migrate(shoal, peers):
    sizes = SZ["mig_sizes"]
    log("migrate: heaps of %s" % ", ".join(human_bytes(s) for s in sizes))
    margs = [SZ["mig_target_ms"], SZ["mig_budget_ms"], SZ["mig_min_b"], SZ["mig_max_b"]] + sizes
    sm = shoal_series(shoal, "shoal --vms 2 migrate", 2,
                      ["migrate_lib.shoal", "migrate.shoal"], margs, timeout=TIMEOUT * 3)
    sc = shoal_series(shoal, "shoal --vms 2 copy baseline", 2,
                      ["migrate_lib.shoal", "migrate_copy.shoal"], margs, timeout=TIMEOUT * 3)
    b = peers.beam("BEAM copy to a fresh process", None, "bmigrate",
                   [SZ["mig_budget_ms"], SZ["beam_min_moves"], SZ["beam_max_moves"]] + sizes,
                   timeout=TIMEOUT * 3)
    repeat([sm, sc, b], REPS)

    # Per repetition and size: p50 and p99 of one one-way move, in µs.
    def shoal_stats(reslists):
        per = []  # over reps: {(kind, bytes): (p50, p99, moves, batches, heap)}
        for res in reslists:
            d = {}
            for r in res:
                try:
                    samples = [float(x) for x in r["move_us"].split(",")]
                    d[(r["kind"], int(r["bytes"]))] = (pct(samples, 50), pct(samples, 99),
                                                       r.get("batch_ms_per_k", ""),
                                                       len(samples), r.get("heap"))
                except (KeyError, ValueError):
                    pass
            per.append(d)
        return per

    def beam_stats(reslists):
        per = []
        for res in reslists:
            d = {}
            for r in res:
                try:
                    samples = [float(x) / 1000.0 for x in r["move_ns"].split(",")]
                    d[int(r["bytes"])] = (pct(samples, 50), pct(samples, 99), len(samples),
                                          r.get("words"))
                except (KeyError, ValueError):
                    pass
            per.append(d)
        return per

    # One dict per repetition, keyed (kind, bytes); a failed run's partial
    # output counts for the sizes it reached.
    mreps = sm.reps + ([sm.partial] if sm.partial else [])
    creps = sc.reps + ([sc.partial] if sc.partial else [])
    mp, cp = shoal_stats(mreps), shoal_stats(creps)
    sp = [dict(list(mp[i].items() if i < len(mp) else []) +
               list(cp[i].items() if i < len(cp) else []))
          for i in range(max(len(mp), len(cp)))]
    bp = beam_stats(b.reps + ([b.partial] if b.partial else []))
    unit = "us/move"
    for size in sizes:
        hs = human_bytes(size)

        def col(kind, i):
            return [d[(kind, size)][i] for d in sp if (kind, size) in d]

        def bcol(i):
            return [d[size][i] for d in bp if size in d]
        mig50, mig99, cp50 = col("migrate", 0), col("migrate", 1), col("copy", 0)
        info_m = [d[("migrate", size)] for d in sp if ("migrate", size) in d]
        info_c = [d[("copy", size)] for d in sp if ("copy", size) in d]
        b50, b99 = bcol(0), bcol(1)
        binfo = [d[size] for d in bp if size in d]
        serr = sm.error if len(mig50) < len(mreps) or not mig50 else None
        berr = b.error if not b50 else None

        def batches(info):
            return "%d (ms/size: %s)" % (info[-1][3], info[-1][2])
        parts = []
        if info_m:
            parts.append("shoal batches of round trips %s, heap-bytes %s"
                         % (batches(info_m), info_m[-1][4]))
        if binfo:
            parts.append("BEAM %d single copies of %s words" % (binfo[-1][2], binfo[-1][3]))
        if [v for v in mig50 + cp50 if v == 0]:
            parts.append("a p50 of 0 means the batches were below the ms clock's resolution")
        add_row("migrate", "migrate p50, one move", hs, unit, mig50, serr, "BEAM copy p50", b50,
                berr, note="; ".join(parts))
        add_row("migrate", "migrate p99, one move", hs, unit, mig99, serr, "BEAM copy p99", b99,
                berr)
        cerr = sc.error if len(cp50) < len(creps) or not cp50 else None
        add_row("migrate", "copy baseline p50, one deep copy", hs, unit, cp50, cerr,
                "BEAM copy p50", b50, berr,
                note="shoal copy batches %s" % batches(info_c) if info_c else "")
        # Migration against shoal's own copy baseline, repetition by repetition.
        pairs = [d[("migrate", size)][0] / d[("copy", size)][0] for d in sp
                 if ("migrate", size) in d and ("copy", size) in d and d[("copy", size)][0] > 0]
        add_row("migrate", "migrate p50 / copy p50", hs, "ratio", pairs,
                None if pairs else (sm.error or sc.error or "no measurement"), "-", [], None,
                bar_=BAR_MIG_COPY if size == (64 << 20) else None)
    lo, hi = sizes[0], sizes[-1]
    flat = [d[("migrate", hi)][0] / d[("migrate", lo)][0] for d in sp
            if ("migrate", hi) in d and ("migrate", lo) in d and d[("migrate", lo)][0] > 0]
    add_row("migrate", "migrate p50 %s / p50 %s" % (human_bytes(hi), human_bytes(lo)), "",
            "ratio", flat, None if flat else (sm.error or "no measurement"), "-", [], None,
            bar_=BAR_MIG_FLAT if (lo, hi) == (4 << 10, 64 << 20) else None)


# ---------------------------------------------------------------- memory

def idle_run(shoal, n, vms, timeout):
    """One measurement of the shared memory per idle process: a run with
    no idle process and one with n, each measured once every process
    waits; (memfd bytes with n - without) / n. Returns ([dict], None) or
    ([], error)."""
    slots = n + n // 10 + 1000
    # The pool is sized generously (16 KiB a process); only touched pages
    # cost memory, so its size does not change the figure.
    pool = max(4096, (n * 16384) >> 20)
    wait_ms = timeout * 1000
    got = {}
    for k in (0, n):
        r = LiveRun(shoal, ["--vms", str(vms), "--proc-slots", str(slots), "--pool-mb", str(pool),
                            prog("memory.shoal"), "--", str(k), str(wait_ms)], timeout)
        try:
            ready, err = r.start()
            if err:
                return [], "%s (N=%d)" % (err, k)
            st = r.settle(k + 1, bound_s=timeout)
            if st is None:
                return [], "the run did not settle (all %d processes waiting) in %d s" % (k + 1,
                                                                                       timeout)
            mem = r.memfd_bytes()
            if mem is None:
                return [], "the segment's memfd was not found in /proc/%d/fd" % r.proc.pid
            heap = sum(v["heap_local_bytes"] + v["heap_remote_bytes"] for v in st["vms"])
            got[k] = (mem, heap)
        finally:
            r.stop()
    (m0, h0), (m1, h1) = got[0], got[n]
    return [dict(value=(m1 - m0) / float(n), unit="bytes/process", memfd_base=m0,
                 memfd_full=m1, heap_pages_per_process=(h1 - h0) / float(n), count=n,
                 vms=vms)], None


def memory_row(workload, variant, n, vms, s, b):
    hp = s.values("heap_pages_per_process")
    note = "shoal: growth of the memfd's allocated blocks (st_blocks) from a run with no idle " \
           "process to one with %d, over %d; BEAM: growth of erlang:memory(processes)" % (n, n)
    if hp:
        note += "; of shoal's figure, heap and stack pages (stats heap bytes): %.0f" % \
                statistics.median(hp)
    pi, rss = b.extra("process_info_mean"), b.extra("rss_delta_per_process")
    if pi:
        note += "; BEAM process_info(P, memory) mean: %s, VmRSS growth per process: %s" % (pi, rss)
    row_from(workload, variant, "%d idle processes, %d VMs" % (n, vms), "bytes/process", s, b,
             "BEAM memory(processes)", bar_=BAR_MEM, note=note)


def w_memory(shoal, peers):
    n = SZ["mem_n"]
    log("memory: %d idle processes, shared memory from the memfd's blocks" % n)
    to = TIMEOUT * 2
    s = LiveSeries("shoal --vms 2 memfd blocks", lambda: idle_run(shoal, n, 2, to), to)
    b = peers.beam("BEAM memory(processes)", None, "bmemory", [n], extra=["+P", str(2 * n + 1000)],
                   timeout=to)
    repeat([s, b], MEM_REPS)
    memory_row("memory", "shared memory per idle process", n, 2, s, b)


# ---------------------------------------------------------------- flood, oversub

def w_flood(shoal, peers):
    n, t = SZ["flood_n"], SZ["flood_t"]
    log("flood: %d messages from %d senders to one counter process, 1 VM and %d VMs" % (n, t, NV))
    s1, s2, b1, b2 = vm_pair(shoal, peers, "flood.shoal", "bflood", [n, t], 1, NV)
    size = "%d messages, %d senders" % (n, t)
    row_from("flood", "1 VM", size, "ns/message", s1, b1, b1.name)
    off = s2.extra("senders_off_vm0")
    row_from("flood", "%d VMs" % NV, size, "ns/message", s2, b2, b2.name,
             note="senders that finished off VM 0 in the last run: %s of %d" % (off, t)
             if off is not None else "")
    ratio_row("flood", "%d VMs / 1 VM" % NV, size, s2, s1, b2, b1, "BEAM +S %d / +S 1" % NV,
              bar_=BAR_FLOOD, note="time on all VMs over time on 1 VM, per repetition")


def w_oversub(shoal, peers):
    p, r = SZ["over_p"], SZ["over_r"]
    hi = 2 * CPUS
    log("oversub: ring P=%d R=%d on %d VMs (as many as cores) and %d VMs (twice)" % (p, r, CPUS, hi))
    s1, s2, b1, b2 = vm_pair(shoal, peers, "ring.shoal", "bring", [p, r], CPUS, hi)
    size = "P=%d R=%d" % (p, r)
    row_from("oversub", "ring, %d VMs (= cores)" % CPUS, size, "ns/hop", s1, b1, b1.name)
    row_from("oversub", "ring, %d VMs (2x cores)" % hi, size, "ns/hop", s2, b2, b2.name)
    ratio_row("oversub", "%d VMs / %d VMs" % (hi, CPUS), size, s2, s1, b2, b1,
              "BEAM %d / %d schedulers" % (hi, CPUS), bar_=BAR_OVERSUB,
              note="per repetition; %d cores online" % CPUS)


# ---------------------------------------------------------------- numa

NUMA_TOPOLOGY = "numa:2 core:2 pu:1"
HEAP_FOLLOW = ["on_gc", "eager", "never"]


def numa_run(shoal, hf, timeout):
    w, it, cells = SZ["numa_w"], SZ["numa_iters"], SZ["numa_cells"]
    r = LiveRun(shoal, ["--vms", "4", "--topology", NUMA_TOPOLOGY, "--heap-follow", hf,
                        prog("numa.shoal"), "--", str(w), str(it), str(cells),
                        str(timeout * 1000)], timeout)
    try:
        ready, err = r.start()
        if err:
            return [], err
        st = r.settle(w + 1, bound_s=timeout)
        if st is None:
            return [], "the run did not settle (all %d processes waiting) in %d s" % (w + 1,
                                                                                   timeout)
        loc = sum(v["heap_local_bytes"] for v in st["vms"])
        rem = sum(v["heap_remote_bytes"] for v in st["vms"])
        if loc + rem == 0:
            return [], "the statistics show no heap bytes"
        per_vm = ",".join("%d:%d/%d" % (v["vm"], v["heap_local_bytes"] >> 10,
                                         v["heap_remote_bytes"] >> 10) for v in st["vms"])
        return [dict(value=loc / float(loc + rem), unit="fraction", local=loc, remote=rem,
                     finished_off_vm0=ready.get("finished_off_vm0"), per_vm_kib=per_vm)], None
    finally:
        r.stop()


def w_numa(shoal, peers):
    log("numa: %d workers spawned on VM 0 of 4 VMs on the synthetic topology \"%s\" "
        "(2 nodes); heap locality under each --heap-follow" % (SZ["numa_w"], NUMA_TOPOLOGY))
    ss = {hf: LiveSeries("shoal --vms 4 --heap-follow %s" % hf,
                         (lambda h: lambda: numa_run(shoal, h, TIMEOUT))(hf)) for hf in HEAP_FOLLOW}
    repeat([ss[hf] for hf in HEAP_FOLLOW], REPS)
    size = "%d workers x %d iters, %d cells" % (SZ["numa_w"], SZ["numa_iters"], SZ["numa_cells"])
    for hf in HEAP_FOLLOW:
        s = ss[hf]
        note = ""
        if s.reps:
            note = ("last run: workers that finished off VM 0: %s of %d; heap KiB local/remote "
                    "per VM: %s" % (s.extra("finished_off_vm0"), SZ["numa_w"], s.extra("per_vm_kib")))
        row_from("numa", "heap bytes on the owner's node, heap-follow %s" % hf, size, "fraction",
                 s, None, "-", better="higher", note=note)


# ---------------------------------------------------------------- maps, tables

def w_maps(shoal, peers):
    n = SZ["maps_n"]
    log("maps: insert, look up, delete %d integer keys in one map" % n)
    s = shoal_series(shoal, "shoal --vms 1", 1, "maps.shoal", [n])
    b = peers.beam("BEAM +S 1", 1, "bmaps", [n])
    repeat([s, b], REPS)
    size = "N=%d" % n
    for phase in ("insert", "lookup", "delete"):
        add_row("maps", phase, size, "ns/op", s.values(phase), s.error, "BEAM maps",
                b.values(phase), b.error, bar_=BAR_MAPS)


def w_tables(shoal, peers):
    ni, ns, k, nu = SZ["tab_int"], SZ["tab_str"], SZ["tab_keys"], SZ["tab_updates"]
    log("tables: %d integer keys, %d string keys, %d updates per VM on %d keys" % (ni, ns, nu, k))
    si = shoal_series(shoal, "shoal --vms 1 int", 1, "tables.shoal", ["int", ni])
    ss = shoal_series(shoal, "shoal --vms 1 str", 1, "tables.shoal", ["str", ns])
    sc = shoal_series(shoal, "shoal --vms 2 counter", 2, "tables.shoal", ["counter", k, nu])
    bi = peers.beam("BEAM +S 1 ets int", 1, "btables", ["int", ni])
    bs = peers.beam("BEAM +S 1 ets str", 1, "btables", ["str", ns])
    bc = peers.beam("BEAM +S 2 ets counter", 2, "btables", ["counter", k, nu])
    # one hot key from every VM (issue 12: scales no worse than ETS's
    # update_counter with write concurrency)
    sh = shoal_series(shoal, "shoal --vms 2 counter 1 key", 2, "tables.shoal", ["counter", 1, nu])
    bh = peers.beam("BEAM +S 2 ets counter 1 key", 2, "btables", ["counter", 1, nu])
    repeat([si, bi, ss, bs, sc, bc, sh, bh], REPS)
    peer1 = "ETS set r/w conc., +S 1"
    for s, b, what, n in ((si, bi, "integer keys", ni), (ss, bs, "string keys", ns)):
        size = "%d %s" % (n, what)
        for phase in ("insert", "lookup", "delete"):
            add_row("tables", "%s, %s" % (phase, what), size, "ns/op", phase_values(s, phase),
                    s.error, peer1, phase_values(b, phase), b.error, bar_=BAR_TAB)
        add_row("tables", "bytes per entry, %s" % what, size, "bytes/entry",
                phase_values(s, "memory"), s.error, "ETS info(memory)",
                phase_values(b, "memory"), b.error, bar_=BAR_TAB_BYTES,
                note="shoal: %table-bytes (slots, bucket arrays, table block); BEAM: "
                     "ets:info(T, memory) words" if s is si else "")
    add_row("tables", "update-counter, %d keys, every VM" % k, "%d updates x VMs" % nu,
            "ns/update", phase_values(sc, "counter"), sc.error, "ETS +S 2, a process per sched.",
            phase_values(bc, "counter"), bc.error, bar_=BAR_TAB_COUNTER,
            note="ns of wall time per update, over all processes")
    add_row("tables", "update-counter, 1 hot key, every VM", "%d updates x VMs" % nu,
            "ns/update", phase_values(sh, "counter"), sh.error, "ETS +S 2, a process per sched.",
            phase_values(bh, "counter"), bh.error, bar_=BAR_TAB_COUNTER,
            note="one key that every VM updates: a single CAS each in shoal")


# ---------------------------------------------------------------- scale

def w_scale(shoal, peers):
    """Issue 14's scale runs: 1M idle processes on 2 VMs; a 64 MiB heap
    migrating 1,000 times (in rounds, for the ms clock); 10M messages to one
    process from 100 senders on every VM. At their real sizes in the full
    run only; BENCH_QUICK runs them small, to check that they work."""
    n = SZ["scale_idle_n"]
    mb, mm, mr = SZ["scale_mig_bytes"], SZ["scale_mig_moves"], SZ["scale_mig_rounds"]
    fn, fper = SZ["scale_flood_n"], SZ["scale_flood_per_vm"]
    ft = fper * NV
    log("scale%s: %d idle processes on 2 VMs; a %s heap migrating %d times x %d rounds; "
        "%d messages from %d senders on each of %d VMs"
        % (" (BENCH_QUICK: small sizes)" if QUICK else "", n, human_bytes(mb), mm, mr, fn, fper, NV))
    to = TIMEOUT * 3
    si = LiveSeries("shoal --vms 2 idle", lambda: idle_run(shoal, n, 2, to), to)
    bi = peers.beam("BEAM memory(processes)", None, "bmemory", [n],
                    extra=["+P", str(2 * n + 1000)], timeout=to)
    sm = shoal_series(shoal, "shoal --vms 2 migrate %s" % human_bytes(mb), 2,
                      "migrate_scale.shoal", [mb, mm, mr], timeout=to)
    # The mailbox may hold most of the messages at once (no flow control).
    sf = shoal_series(shoal, "shoal --vms %d flood" % NV, NV, "flood.shoal", [fn, ft],
                      flags=["--pool-mb", "8192"], timeout=to)
    bf = peers.beam("BEAM +S %d flood" % NV, NV, "bflood", [fn, ft], timeout=to)
    # The idle run last: stopping a run of 1M processes leaves the kernel
    # freeing gigabytes of pages for a while, which slowed the next run.
    repeat([sm, sf, bf, si, bi], SCALE_REPS)
    memory_row("scale", "shared memory per idle process", n, 2, si, bi)
    note = ""
    if sm.reps:
        note = ("heap-bytes before %s, after %s; migrations %s; slowest round of %d moves: %s ms"
                % (sm.extra("heap_before"), sm.extra("heap_after"), sm.extra("migrations"), mm,
                   sm.extra("slowest_round_ms")))
    row_from("scale", "migrate a %s heap" % human_bytes(mb), "%d moves x %d rounds" % (mm, mr),
             "us/move", sm, None, "-", note=note)
    row_from("scale", "flood one process, every VM", "%d messages, %d senders/VM" % (fn, fper),
             "ns/message", sf, bf, "BEAM +S %d" % NV,
             note="%d senders in all, spread over %d VMs; BEAM the same senders" % (ft, NV))


# ---------------------------------------------------------------- machine

def machine_context():
    """How much parallel CPU this machine gives: one CPU-bound process alone,
    then two at once. Context for every 2-VM row, not a workload."""
    loop = ["awk", "BEGIN{s=0; for(i=0;i<%d;i++) s+=i; print s}" % (3000000 if QUICK else 10000000)]
    ctx = {"cpus_online": CPUS, "platform": platform.platform()}
    try:
        with open("/proc/loadavg") as f:
            ctx["loadavg_at_start"] = f.read().split()[:3]
    except OSError:
        pass
    try:
        t0 = time.monotonic()
        rc1, _, _ = run(loop, 60)
        t1 = time.monotonic() - t0
        t0 = time.monotonic()
        procs = [subprocess.Popen(["timeout", "60"] + loop, stdout=subprocess.DEVNULL,
                                  stdin=subprocess.DEVNULL) for _ in range(2)]
        rcs = [p.wait() for p in procs]
        t2 = time.monotonic() - t0
        if rc1 == 0 and all(r == 0 for r in rcs) and t2 > 0:
            ctx["one_cpu_bound_process_s"] = round(t1, 3)
            ctx["two_concurrent_processes_s"] = round(t2, 3)
            ctx["parallel_throughput_of_2_processes"] = round(2 * t1 / t2, 2)
    except OSError as e:
        ctx["parallel_check_error"] = str(e)
    return ctx


# ---------------------------------------------------------------- output

def fmt(x):
    if x is None:
        return "-"
    a = abs(x)
    if a >= 1000:
        return "%.0f" % x
    if a >= 100:
        return "%.1f" % x
    if a >= 1:
        return "%.2f" % x
    return "%.3g" % x


LEGEND = """
units: ms = milliseconds; ns/process, ns/hop, ns/roundtrip, ns/message = nanoseconds per
spawned process, ring hop, ping-pong round trip, message; us/move = microseconds per one-way
move of a process's heap to the other VM (migrate: half a round trip (migrate 1) (migrate 0);
copy baseline: one deep copy of the heap as a message to a fresh process on VM 1, spawned
before the clock; BEAM: the same copy to a fresh process). shoal has only a ms clock, so its
migrate p50/p99 are over means of batches of moves; BEAM's are over single moves. x = speed-up
factor; ratio = shoal over shoal (or BEAM over BEAM in the peer column); fraction = share of
heap bytes on the owning VM's NUMA node. bar: the goal from ../shared/BENCH.md (issue 14 where
it has none); met: yes / no / n/a (cannot be judged, with the reason in the notes)."""


def print_table(rows, out=sys.stdout):
    head = ["#", "workload", "variant", "size", "unit", "reps", "shoal median (min-max)",
            "peer", "peer median", "ratio", "bar", "met"]
    body = []
    notes = []
    for r in rows:
        i = len(body) + 1
        if r["median"] is None:
            shoal = "n/a"
            notes.append((i, r["status"]))
        else:
            shoal = fmt(r["median"])
            if r["repetitions"] > 1:
                shoal += " (%s-%s)" % (fmt(r["min"]), fmt(r["max"]))
            if r["status"] != "ok":
                notes.append((i, r["status"]))
        if r["ratio"] is None and r["ratio_text"] not in ("-", "n/a: shoal figure not available"):
            notes.append((i, "ratio " + r["ratio_text"]))
        met = r["bar_met"]
        if met.startswith("n/a: "):
            notes.append((i, "bar not judged: " + met[5:]))
            met = "n/a"
        if r["note"]:
            notes.append((i, r["note"]))
        ratio = r["ratio_text"] if r["ratio"] is not None else "-" if r["ratio_text"] == "-" \
            else "n/a"
        body.append([str(i), r["workload"], r["variant"], r["size"], r["unit"],
                     str(r["repetitions"]), shoal, r["peer"], fmt(r["peer_median"]), ratio,
                     r["bar"]["text"] if r.get("bar") else "-", met])
    w = [max(len(head[i]), *(len(b[i]) for b in body)) if body else len(head[i])
         for i in range(len(head))]
    line = "  ".join(h.ljust(w[i]) for i, h in enumerate(head))
    print(line, file=out)
    print("-" * len(line), file=out)
    for b in body:
        print("  ".join(c.ljust(w[i]) for i, c in enumerate(b)).rstrip(), file=out)
    if notes:
        print("\nnotes:", file=out)
        for i, n in notes:
            print("  [%d] %s" % (i, n), file=out)


def bar_summary(rows):
    judged = [r for r in rows if r.get("bar")]
    return dict(bars=len(judged), met=sum(1 for r in judged if r["bar_met"] == "yes"),
                not_met=sum(1 for r in judged if r["bar_met"] == "no"),
                not_judged=sum(1 for r in judged if r["bar_met"].startswith("n/a")))


WORKLOADS = [w_fib, w_spawn, w_ring, w_pingpong, w_select, w_actors, w_skew, w_policies,
             w_migrate, w_memory, w_flood, w_oversub, w_numa, w_maps, w_tables, w_scale]


def main():
    if len(sys.argv) != 2:
        print("usage: bench/run.sh path/to/shoal", file=sys.stderr)
        return 2
    shoal = os.path.abspath(sys.argv[1])
    started = time.time()
    t0 = time.monotonic()
    log("shoal benchmarks: %s, %d repetitions%s" % (shoal, REPS, " (BENCH_QUICK)" if QUICK else ""))
    shoal_missing = None
    if not (os.path.isfile(shoal) and os.access(shoal, os.X_OK)):
        shoal_missing = "%s is not an executable file" % shoal
        log("error: " + shoal_missing)
    peers = Peers()
    for name, why in (("BEAM", peers.beam_missing), ("Lua 5.4", peers.lua_missing)):
        if why:
            log("peer %s missing: %s; its comparisons are skipped" % (name, why))
    ctx = machine_context()
    if "parallel_throughput_of_2_processes" in ctx:
        log("machine: %s CPUs, load %s; two concurrent CPU-bound processes get %.2fx the "
            "throughput of one (2.0 on two free cores)"
            % (CPUS, " ".join(ctx.get("loadavg_at_start", [])),
               ctx["parallel_throughput_of_2_processes"]))
    only = os.environ.get("BENCH_ONLY", "").split(",") if os.environ.get("BENCH_ONLY") else None
    todo = [w for w in WORKLOADS if not only or w.__name__[2:] in only]
    timings = {}
    for i, w in enumerate(todo):
        name = w.__name__[2:]
        n0 = len(ROWS)
        w0 = time.monotonic()
        log("[%d/%d] %s (at %.0f s)" % (i + 1, len(todo), name, w0 - t0))
        try:
            w(shoal, peers)
        except Exception as e:  # a bug in one workload must not stop the others
            del ROWS[n0:]
            add_row(name, "(all)", "", "", [], "driver error: %r" % e, "-", [], "driver error")
        timings[name] = round(time.monotonic() - w0, 1)
        log("[%d/%d] %s done in %.1f s, %d rows" % (i + 1, len(todo), name, timings[name],
                                                   len(ROWS) - n0))
    peers.cleanup()
    if shoal_missing:
        for r in ROWS:
            r["status"] = "not available: " + shoal_missing

    summary = bar_summary(ROWS)
    print()
    print("shoal benchmarks (%s; %s). Ratio = shoal median / peer median, both measured"
          % ("BENCH_QUICK=1, smoke sizes" if QUICK else "full sizes",
             time.strftime("%Y-%m-%d %H:%M:%S")))
    print("in this run; for times lower is better, for speed-ups and fractions higher. Figures")
    print("are measured inside each program (start-up not counted), memory and numa from outside.")
    if "parallel_throughput_of_2_processes" in ctx:
        print("machine: %s CPUs online, load average %s at the start; two concurrent CPU-bound "
              "processes got %.2fx the throughput of one (2.0 = two free cores). Below 2.0 the "
              "machine is shared, and every figure is noisy."
              % (CPUS, " ".join(ctx.get("loadavg_at_start", ["?"])),
                 ctx["parallel_throughput_of_2_processes"]))
    print()
    print_table(ROWS)
    print(LEGEND)
    elapsed = time.monotonic() - t0
    print("\nbars: %(bars)d rows with a bar: %(met)d met, %(not_met)d not met, "
          "%(not_judged)d not judged" % summary)
    print("wall time of the run: %.0f s (%s)" % (elapsed, ", ".join(
        "%s %.0f s" % (k, v) for k, v in timings.items())))

    os.makedirs(RESULTS, exist_ok=True)
    doc = dict(generated=time.strftime("%Y-%m-%dT%H:%M:%S%z", time.localtime(started)),
               quick=QUICK, repetitions=REPS,
               other_repetitions=dict(memory=MEM_REPS, scale=SCALE_REPS),
               shoal=shoal, sizes=SZ, machine=ctx,
               peers=dict(beam=peers.beam_missing or "ok", lua=peers.lua_missing or "ok"),
               wall_time_s=round(elapsed, 1), workload_time_s=timings, bars=summary,
               legend=LEGEND.strip(), rows=ROWS)
    path = os.path.join(RESULTS, "latest.json")
    with open(path + ".tmp", "w") as f:
        json.dump(doc, f, indent=1)
    os.replace(path + ".tmp", path)
    print("results: %s" % os.path.relpath(path))
    return 0


if __name__ == "__main__":
    sys.exit(main())
