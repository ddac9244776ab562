#!/usr/bin/env python3
"""driver.py: the benchmark driver behind bench/run.sh (see bench/README.md).

Runs each workload on shoal and on its peers (BEAM `erl`, Lua 5.4
`lua5.4`) in this one invocation, repetition by repetition, interleaved,
and prints a table; writes the same rows to bench/results/latest.json.

Every program times its own measured section and prints lines of the form
    RESULT key=value key=value ...
so start-up is not counted. Every run goes through `timeout`. A run that
fails is reported in its row, and the driver goes on; it exits 0 whenever
it ran to the end. It never makes up a figure: a missing peer or a failed
run gives "n/a" or "not available" with the reason.
"""
import json
import math
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
PEERS = os.path.join(HERE, "peers")
RESULTS = os.path.join(HERE, "results")

# Runs go one after another; a run name of their own keeps them apart from
# other shoal runs on the machine (two live runs cannot share a name).
os.environ.setdefault("SHOAL_NAME", "bench-%d" % os.getpid())

QUICK = os.environ.get("BENCH_QUICK", "") not in ("", "0")
REPS = int(os.environ.get("BENCH_REPS", "1" if QUICK else "5"))
# The memory workload spawns 1M processes; one run takes close to a
# minute, and its figure barely moves, so it gets fewer repetitions.
MEM_REPS = 1 if QUICK else min(REPS, 3)
MEM_SHOAL_REPS = 1
TIMEOUT = 60 if QUICK else 180  # seconds, per run

if QUICK:
    SZ = dict(fib_n=25, fib_k=20, spawn_n=20000, ring_p=1000, ring_r=100,
              pp_n=50000, skew_w=64, skew_iters=300000,
              mig_sizes=[4 << 10, 16 << 10, 64 << 10, 256 << 10, 1 << 20, 4 << 20],
              mig_target_ms=10, mig_budget_ms=100, mig_min_b=3, mig_max_b=20,
              beam_min_moves=3, beam_max_moves=1000, mem_n=100000, maps_n=100000,
              tab_int=100000, tab_str=20000, tab_keys=16, tab_updates=100000)
else:
    SZ = dict(fib_n=30, fib_k=10, spawn_n=200000, ring_p=1000, ring_r=1000,
              pp_n=500000, skew_w=64, skew_iters=3000000,
              mig_sizes=[4 << 10, 16 << 10, 64 << 10, 256 << 10, 1 << 20, 4 << 20,
                         16 << 20, 64 << 20],
              mig_target_ms=20, mig_budget_ms=400, mig_min_b=5, mig_max_b=50,
              beam_min_moves=5, beam_max_moves=1000, mem_n=1000000, maps_n=1000000,
              tab_int=1000000, tab_str=200000, tab_keys=16, tab_updates=1000000)


def log(msg):
    print(msg, file=sys.stderr, flush=True)


# ---------------------------------------------------------------- running

def run(cmd, timeout):
    """Runs cmd under `timeout`; returns (rc, stdout, stderr)."""
    full = ["timeout", "-k", "5", str(timeout)] + cmd
    try:
        p = subprocess.run(full, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, timeout=timeout + 30)
        return p.returncode, p.stdout.decode(errors="replace"), p.stderr.decode(errors="replace")
    except subprocess.TimeoutExpired:
        return 124, "", "timeout did not stop the run"
    except OSError as e:
        return 127, "", str(e)


def parse(out):
    """The RESULT lines of a program's output, as dicts."""
    res = []
    for line in out.splitlines():
        parts = line.split()
        if not parts or parts[0] != "RESULT":
            continue
        d = {}
        for kv in parts[1:]:
            if "=" in kv:
                k, v = kv.split("=", 1)
                d[k] = v
        res.append(d)
    return res


def failure(rc, out, err, timeout):
    if rc == 124:
        return "timed out after %ds" % timeout
    lines = [l.strip() for l in (err + "\n" + out).splitlines() if l.strip()]
    # Prefer an error line (a compile error, a crash report).
    pick = None
    for l in lines:
        if "error" in l.lower() or "undefined" in l.lower():
            pick = l
            break
    if pick is None and lines:
        pick = lines[-1]
    msg = "exit status %d" % rc if rc != 0 else "no RESULT line in the output"
    if pick:
        msg += ": " + pick[:200]
    return msg


class Series:
    """One configuration (a program with its flags), run once per repetition."""

    def __init__(self, name, cmd, timeout=TIMEOUT, missing=None):
        self.name = name
        self.cmd = cmd
        self.timeout = timeout
        self.error = missing  # set: no further runs
        self.missing = missing is not None
        self.reps = []  # one list of RESULT dicts per successful run
        self.partial = []  # RESULT dicts of a failed run, if it printed some

    def run_once(self):
        if self.error:
            return
        t0 = time.monotonic()
        rc, out, err = run(self.cmd, self.timeout)
        res = parse(out)
        dt = time.monotonic() - t0
        if rc != 0 or not res:
            self.error = failure(rc, out, err, self.timeout)
            self.partial = res
            log("  %-34s FAILED (%.1fs): %s" % (self.name, dt, self.error))
            return
        self.reps.append(res)
        v = res[0].get("value")
        log("  %-34s %s %s (%.1fs)" % (self.name, v if v is not None else "ok",
                                        res[0].get("unit", ""), dt))

    def values(self, key="value"):
        out = []
        for res in self.reps:
            try:
                out.append(float(res[0][key]))
            except (KeyError, ValueError):
                pass
        return out

    def extra(self, key):
        """The last reported value of an informational key."""
        for res in reversed(self.reps):
            if key in res[0]:
                return res[0][key]
        return None


def repeat(series, reps):
    for i in range(reps):
        log(" rep %d/%d" % (i + 1, reps))
        for s in series:
            s.run_once()


# ---------------------------------------------------------------- peers

class Peers:
    def __init__(self):
        self.erl = shutil.which("erl")
        self.erlc = shutil.which("erlc")
        self.lua = shutil.which("lua5.4")
        self.ebin = None
        self.beam_missing = None
        self.lua_missing = None if self.lua else "lua5.4 is not installed"
        if not self.erl:
            self.beam_missing = "erl is not installed"
        elif not self.erlc:
            self.beam_missing = "erlc is not installed"
        else:
            self.ebin = tempfile.mkdtemp(prefix="shoal-bench-ebin-")
            srcs = sorted(os.path.join(PEERS, f) for f in os.listdir(PEERS) if f.endswith(".erl"))
            rc, out, err = run([self.erlc, "-o", self.ebin] + srcs, 120)
            if rc != 0:
                self.beam_missing = "erlc failed: " + failure(rc, out, err, 120)

    def beam(self, name, schedulers, module, args, extra=(), timeout=TIMEOUT):
        flags = ["+S", str(schedulers)] if schedulers else []
        cmd = [self.erl or "erl", "-noshell"] + flags + list(extra) + \
              ["-pa", self.ebin or ".", "-run", module, "main"] + [str(a) for a in args]
        return Series(name, cmd, timeout, self.beam_missing)

    def lua_fib(self, n, k):
        return Series("lua5.4 fib", [self.lua or "lua5.4", os.path.join(PEERS, "fib.lua"),
                                     str(n), str(k)], TIMEOUT, self.lua_missing)

    def cleanup(self):
        if self.ebin:
            shutil.rmtree(self.ebin, ignore_errors=True)


def shoal_series(shoal, name, vms, prog, args, flags=(), timeout=TIMEOUT):
    progs = prog if isinstance(prog, list) else [prog]
    cmd = [shoal, "run"] + (["--vms", str(vms)] if vms else []) + list(flags) + \
          [os.path.join(HERE, p) for p in progs] + ["--"] + [str(a) for a in args]
    return Series(name, cmd, timeout)


# ---------------------------------------------------------------- rows

ROWS = []


def stats(vals):
    if not vals:
        return None, None, None
    return statistics.median(vals), min(vals), max(vals)


def add_row(workload, variant, size, unit, vals, err, peer, peer_vals, peer_err,
            note="", better="lower", reps_planned=None, peer_samples_note=None):
    med, lo, hi = stats(vals)
    pmed = statistics.median(peer_vals) if peer_vals else None
    status = "ok"
    if med is None:
        status = "not available: " + (err or "no measurement")
    elif err:
        status = "ok, but %s" % err
    if peer == "-":
        ratio, ratio_txt = None, "-"
    elif med is None:
        ratio, ratio_txt = None, "n/a: shoal figure not available"
    elif pmed is None:
        ratio, ratio_txt = None, "n/a: " + (peer_err or "peer has no measurement")
    elif pmed == 0:
        ratio, ratio_txt = None, "n/a: peer median is 0"
    else:
        ratio = med / pmed
        ratio_txt = "%.3g" % ratio
    ROWS.append(dict(workload=workload, variant=variant, size=size, unit=unit,
                     repetitions=len(vals), median=med, min=lo, max=hi,
                     samples=vals, status=status,
                     peer=peer, peer_median=pmed, peer_repetitions=len(peer_vals or []),
                     peer_samples=peer_vals or [],
                     peer_status="none" if peer == "-" else "ok" if pmed is not None
                     else "n/a: " + (peer_err or "peer has no measurement"),
                     ratio=ratio, ratio_text=ratio_txt,
                     ratio_means="shoal/peer, %s is better" % better,
                     note=note))


def row_from(workload, variant, size, unit, s, p, peer_name, note="", better="lower"):
    add_row(workload, variant, size, unit, s.values(), s.error, peer_name,
            p.values() if p else [], (p.error if p else "no peer for this workload"),
            note=note, better=better)


# ---------------------------------------------------------------- workloads

def w_fib(shoal, peers):
    n, k = SZ["fib_n"], SZ["fib_k"]
    log("fib: fib(%d), %d times per run" % (n, k))
    s = shoal_series(shoal, "shoal --vms 1", 1, "fib.shoal", [n, k])
    lua = peers.lua_fib(n, k)
    beam = peers.beam("BEAM +S 1", 1, "bfib", [n, k])
    repeat([s, lua, beam], REPS)
    size = "fib(%d)" % n
    note = ("ms of CPU time per fib(%d), %d computed per run; every side times CPU "
            "(shoal cpu-us, Lua os.clock, BEAM statistics(runtime))" % (n, k))
    row_from("fib", "1 process", size, "ms", s, lua, "Lua 5.4", note)
    row_from("fib", "1 process", size, "ms", s, beam, "BEAM +S 1", note)


def w_spawn(shoal, peers):
    n = SZ["spawn_n"]
    log("spawn: N=%d" % n)
    s1 = shoal_series(shoal, "shoal --vms 1", 1, "spawn.shoal", [n])
    s2 = shoal_series(shoal, "shoal --vms 2", 2, "spawn.shoal", [n])
    b1 = peers.beam("BEAM +S 1", 1, "bspawn", [n])
    b2 = peers.beam("BEAM +S 2", 2, "bspawn", [n])
    repeat([s1, b1, s2, b2], REPS)
    size = "N=%d" % n
    row_from("spawn", "1 VM", size, "ns/process", s1, b1, "BEAM +S 1")
    row_from("spawn", "2 VMs", size, "ns/process", s2, b2, "BEAM +S 2")


def w_ring(shoal, peers):
    p, r = SZ["ring_p"], SZ["ring_r"]
    log("ring: P=%d R=%d" % (p, r))
    s1 = shoal_series(shoal, "shoal --vms 1", 1, "ring.shoal", [p, r])
    s2 = shoal_series(shoal, "shoal --vms 2 round-robin", 2, "ring.shoal", [p, r])
    b1 = peers.beam("BEAM +S 1", 1, "bring", [p, r])
    b2 = peers.beam("BEAM default schedulers", None, "bring", [p, r])
    repeat([s1, b1, s2, b2], REPS)
    size = "P=%d R=%d" % (p, r)
    row_from("ring", "1 VM", size, "ns/hop", s1, b1, "BEAM +S 1")
    mig = s2.extra("migrations")
    sched = b2.extra("schedulers")
    row_from("ring", "2 VMs, round-robin", size, "ns/hop", s2, b2,
             "BEAM default (%s sched.)" % (sched or "?"),
             note="ring processes moved by work stealing during the last run: %s" % mig
             if mig is not None else "")


def w_pingpong(shoal, peers):
    n = SZ["pp_n"]
    log("pingpong: %d round trips" % n)
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
    row_from("pingpong", "two VMs (--vms 2)", size, "ns/roundtrip", s1, b, "BEAM +S 2", note(s1))


def speedups(a, b):
    """Makespans of series a over those of b, repetition by repetition."""
    va, vb = a.values(), b.values()
    if a.error or b.error or len(va) != len(vb):
        return [], a.error or b.error or "repetitions do not pair up"
    return [x / y for x, y in zip(va, vb) if y > 0], None


def w_skew(shoal, peers):
    w, it = SZ["skew_w"], SZ["skew_iters"]
    log("skew: %d workers x %d iterations, all spawned on VM 0" % (w, it))
    s1 = shoal_series(shoal, "shoal --vms 1", 1, "skew.shoal", [w, it])
    s2 = shoal_series(shoal, "shoal --vms 2", 2, "skew.shoal", [w, it])
    b1 = peers.beam("BEAM +S 1", 1, "bskew", [w, it])
    b2 = peers.beam("BEAM +S 2", 2, "bskew", [w, it])
    repeat([s1, s2, b1, b2], REPS)
    size = "%d workers x %d iters" % (w, it)
    row_from("skew", "makespan, 1 VM", size, "ms", s1, b1, "BEAM +S 1")
    off = s2.extra("finished_off_vm0")
    row_from("skew", "makespan, 2 VMs (steal)", size, "ms", s2, b2, "BEAM +S 2",
             note="workers that finished on VM 1 in the last run: %s of %d" % (off, w)
             if off is not None else "")

    ss, serr = speedups(s1, s2)
    bs, berr = speedups(b1, b2)
    add_row("skew", "speed-up 1 -> 2 VMs (steal)", size, "x",
            ss, serr, "BEAM +S 1 -> +S 2", bs, berr if not peers.beam_missing else peers.beam_missing,
            better="higher", note="speed-up = makespan with 1 VM / with 2 VMs, per repetition; "
                 "ratio = shoal speed-up / BEAM speed-up, higher is better")


POLICIES = ["none", "round-robin", "least-loaded", "steal", "affinity"]


def w_policies(shoal, peers):
    """The skew workload under each policy, as the speed-up from 1 VM to
    all VMs (one per CPU, at least 2); and a pingpong between two processes
    spawned on different VMs, under affinity (which should put them on one
    VM) against none (which leaves them apart)."""
    w, it = SZ["skew_w"], SZ["skew_iters"]
    nv = max(2, os.cpu_count() or 2)
    n = SZ["pp_n"]
    log("policies: skew (%d workers x %d iterations on VM 0) on 1 and %d VMs under each policy; "
        "pingpong apart (%d round trips) under affinity and none" % (w, it, nv, n))
    s1 = shoal_series(shoal, "skew --vms 1", 1, "skew.shoal", [w, it])
    sk = {p: shoal_series(shoal, "skew --vms %d --policy %s" % (nv, p), nv, "skew.shoal", [w, it],
                          flags=["--policy", p]) for p in POLICIES}
    pp = {p: shoal_series(shoal, "pingpong apart --policy %s" % p, 2, "pingpong.shoal", [n, 1],
                          flags=["--policy", p]) for p in ("none", "affinity")}
    repeat([s1] + [sk[p] for p in POLICIES] + [pp["none"], pp["affinity"]], REPS)
    size = "%d workers x %d iters" % (w, it)
    for p in POLICIES:
        ss, serr = speedups(s1, sk[p])
        off = sk[p].extra("finished_off_vm0")
        add_row("policies", "skew speed-up 1 -> %d VMs, %s" % (nv, p), size, "x", ss, serr,
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
            row_from("policies", "pingpong spawned apart, none", size, "ns/roundtrip", s, None, "-",
                     note=note)
        else:
            row_from("policies", "pingpong spawned apart, affinity", size, "ns/roundtrip", s,
                     pp["none"], "policy none", note=note)


def human_bytes(b):
    for unit, sh in (("MiB", 20), ("KiB", 10)):
        if b >= (1 << sh) and b % (1 << sh) == 0:
            return "%d %s" % (b >> sh, unit)
    return "%d B" % b


def pct(vals, p):
    """Nearest-rank percentile."""
    v = sorted(vals)
    if not v:
        return None
    i = max(0, min(len(v) - 1, int(math.ceil(p / 100.0 * len(v))) - 1))
    return v[i]


def w_migrate(shoal, peers):
    sizes = SZ["mig_sizes"]
    log("migrate: sizes %s" % ", ".join(human_bytes(s) for s in sizes))
    margs = [SZ["mig_target_ms"], SZ["mig_budget_ms"], SZ["mig_min_b"], SZ["mig_max_b"]] + sizes
    sm = shoal_series(shoal, "shoal --vms 2 migrate", 2,
                      ["migrate_lib.shoal", "migrate.shoal"], margs, timeout=TIMEOUT * 3)
    sc = shoal_series(shoal, "shoal --vms 2 copy baseline", 2,
                      ["migrate_lib.shoal", "migrate_copy.shoal"], margs, timeout=TIMEOUT * 3)
    b = peers.beam("BEAM copy to a fresh process", None, "bmigrate",
                   [SZ["mig_budget_ms"], SZ["beam_min_moves"], SZ["beam_max_moves"]] + sizes,
                   timeout=TIMEOUT * 3)
    repeat([sm, sc, b], REPS)

    # Per repetition and size: p50 and p99 in microseconds.
    def shoal_stats(reslists):
        per = []  # list over reps of {(kind, bytes): (p50, p99, moves, batches)}
        for res in reslists:
            d = {}
            for r in res:
                try:
                    k = int(r["per_batch"])
                    samples = [float(x) * 1000.0 / k for x in r["batch_ms"].split(",")]
                    d[(r["kind"], int(r["bytes"]))] = (pct(samples, 50), pct(samples, 99),
                                                       k * len(samples), len(samples),
                                                       r.get("heap"))
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
            if not info:
                return "none"
            return "%d x %d moves" % (info[-1][3], info[-1][2] // max(info[-1][3], 1))
        parts = []
        if info_m:
            parts.append("shoal batches %s, heap-bytes %s" % (batches(info_m), info_m[-1][4]))
        if binfo:
            parts.append("BEAM %d single moves of %s words" % (binfo[-1][2], binfo[-1][3]))
        if [v for v in mig50 + cp50 if v == 0]:
            parts.append("a p50 of 0 means the batches were below the ms clock's resolution")
        add_row("migrate", "migrate p50", hs, unit, mig50, serr, "BEAM copy p50", b50, berr,
                note="; ".join(parts))
        add_row("migrate", "migrate p99", hs, unit, mig99, serr, "BEAM copy p99", b99, berr)
        cerr = sc.error if len(cp50) < len(creps) or not cp50 else None
        add_row("migrate", "copy baseline p50", hs, unit, cp50, cerr, "BEAM copy p50", b50, berr,
                note="shoal copy batches %s" % batches(info_c) if info_c else "")
        # Migration against shoal's own copy baseline, repetition by repetition.
        pairs = [d[("migrate", size)][0] / d[("copy", size)][0] for d in sp
                 if ("migrate", size) in d and ("copy", size) in d and d[("copy", size)][0] > 0]
        add_row("migrate", "migrate p50 / copy p50", hs, "ratio", pairs,
                None if pairs else (sm.error or sc.error or "no measurement"), "-", [], None,
                note="bar: <= 0.001 at 64 MiB" if size == (64 << 20) else "")
    lo, hi = sizes[0], sizes[-1]
    flat = [d[("migrate", hi)][0] / d[("migrate", lo)][0] for d in sp
            if ("migrate", hi) in d and ("migrate", lo) in d and d[("migrate", lo)][0] > 0]
    add_row("migrate", "p50 %s / p50 %s" % (human_bytes(hi), human_bytes(lo)), "", "ratio",
            flat, None if flat else (sm.error or "no measurement"), "-", [], None,
            note="bar: <= 1.5 (64 MiB / 4 KiB)" if (lo, hi) == (4 << 10, 64 << 20) else "")


def w_memory(shoal, peers):
    n = SZ["mem_n"]
    log("memory: %d idle processes" % n)
    slots = str(n + n // 10 + 1000)
    # The pool must hold every idle process's pages; 8 KiB each was not
    # enough for 1M processes, 12 KiB was. 16 KiB leaves a margin.
    pool = str(max(4096, (n * 16384) >> 20))
    s = shoal_series(shoal, "shoal heap-bytes only", None, "memory.shoal", [n],
                     flags=["--proc-slots", slots, "--pool-mb", pool], timeout=TIMEOUT * 2)
    b = peers.beam("BEAM process_info memory", None, "bmemory", [n],
                   extra=["+P", str(2 * n + 1000)], timeout=TIMEOUT * 2)
    log(" BEAM: %d repetitions; shoal (heap only): %d" % (MEM_REPS, MEM_SHOAL_REPS))
    repeat([b], MEM_REPS)
    repeat([s], MEM_SHOAL_REPS)
    size = "%d idle processes" % n
    add_row("memory", "shared memory per idle process", size, "bytes/process", [],
            "shoal does not expose its shared-memory use per process yet; sampling "
            "/proc/<pid> of the supervisor or the VMs is not sound for a shared segment",
            "BEAM process_info", b.values(), b.error)
    row_from("memory", "heap-bytes only (lower bound)", size, "bytes/process", s, b,
             "BEAM process_info",
             note="mean heap-bytes of (process-info pid): the heap alone, without the "
                  "process-table slot; a lower bound, so the ratio is a lower bound")


def w_maps(shoal, peers):
    n = SZ["maps_n"]
    log("maps: insert, look up, delete %d integer keys in one map" % n)
    s = shoal_series(shoal, "shoal --vms 1", 1, "maps.shoal", [n])
    b = peers.beam("BEAM +S 1", 1, "bmaps", [n])
    repeat([s, b], REPS)
    size = "N=%d" % n
    for phase in ("insert", "lookup", "delete"):
        add_row("maps", phase, size, "ns/op", s.values(phase), s.error, "BEAM maps",
                b.values(phase), b.error,
                note="bar: <= 1.5")


def phase_values(series, phase, key="value"):
    """The `key` of the RESULT line with phase=PHASE, one per repetition."""
    out = []
    for res in series.reps:
        for r in res:
            if r.get("phase") == phase:
                try:
                    out.append(float(r[key]))
                except (KeyError, ValueError):
                    pass
    return out


def w_tables(shoal, peers):
    ni, ns, k, nu = SZ["tab_int"], SZ["tab_str"], SZ["tab_keys"], SZ["tab_updates"]
    log("tables: %d integer keys, %d string keys, %d updates per VM on %d keys" % (ni, ns, nu, k))
    si = shoal_series(shoal, "shoal --vms 1 int", 1, "tables.shoal", ["int", ni])
    ss = shoal_series(shoal, "shoal --vms 1 str", 1, "tables.shoal", ["str", ns])
    sc = shoal_series(shoal, "shoal --vms 2 counter", 2, "tables.shoal", ["counter", k, nu])
    bi = peers.beam("BEAM +S 1 ets int", 1, "btables", ["int", ni])
    bs = peers.beam("BEAM +S 1 ets str", 1, "btables", ["str", ns])
    bc = peers.beam("BEAM +S 2 ets counter", 2, "btables", ["counter", k, nu])
    repeat([si, bi, ss, bs, sc, bc], REPS)
    peer1 = "ETS set r/w conc., +S 1"
    for s, b, what, n in ((si, bi, "integer keys", ni), (ss, bs, "string keys", ns)):
        size = "%d %s" % (n, what)
        for phase in ("insert", "lookup", "delete"):
            add_row("tables", "%s, %s" % (phase, what), size, "ns/op", phase_values(s, phase),
                    s.error, peer1, phase_values(b, phase), b.error,
                    note="bar: <= 1.5" if phase == "insert" and s is si else "")
        add_row("tables", "bytes per entry, %s" % what, size, "bytes/entry",
                phase_values(s, "memory"), s.error, "ETS info(memory)",
                phase_values(b, "memory"), b.error,
                note="shoal: %table-bytes (slots, bucket arrays, table block); BEAM: "
                     "ets:info(T, memory) words; bar: <= 2.0" if s is si else "")
    add_row("tables", "update-counter, %d keys, every VM" % k, "%d updates x VMs" % nu,
            "ns/update", phase_values(sc, "counter"), sc.error, "ETS +S 2, a process per sched.",
            phase_values(bc, "counter"), bc.error,
            note="ns of wall time per update, over all processes; bar: <= 1.0")


# ---------------------------------------------------------------- machine

def machine_context():
    """How much parallel CPU this machine gives: one CPU-bound process alone,
    then two at once. Context for the skew rows, not a workload."""
    loop = ["awk", "BEGIN{s=0; for(i=0;i<%d;i++) s+=i; print s}" % (3000000 if QUICK else 10000000)]
    ctx = {"cpus_online": os.cpu_count(), "platform": platform.platform()}
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
    return "%.4g" % x


LEGEND = """
units: ms = milliseconds; ns/process, ns/hop, ns/roundtrip = nanoseconds per spawned
process, per ring hop, per ping-pong round trip; us/move = microseconds per move of a
process to VM 1 and back (shoal migrate: (migrate 1) (migrate 0); shoal copy baseline:
send the heap to a fresh process on VM 1, which sends it back; BEAM copy: send a list of
the same number of words to a fresh process, which sends it back). shoal has only a ms
clock, so its migrate p50/p99 are over means of batches of moves; BEAM's are over single
moves. x = speed-up factor; ratio = a ratio of two shoal figures. ns/op, ns/update =
nanoseconds per table operation (tables: each phase timed alone; keys made in the loop on
both sides); bytes/entry = what the full table holds, divided by its entries."""


def print_table(rows, out=sys.stdout):
    head = ["workload", "variant", "size", "unit", "reps", "median", "min", "max",
            "peer", "peer median", "ratio"]
    body = []
    notes = []
    for r in rows:
        if r["median"] is None:
            cells = [r["workload"], r["variant"], r["size"], r["unit"], str(r["repetitions"]),
                     "n/a", "-", "-", r["peer"], fmt(r["peer_median"]), "n/a"]
            notes.append((len(body) + 1, r["status"]))
        else:
            cells = [r["workload"], r["variant"], r["size"], r["unit"], str(r["repetitions"]),
                     fmt(r["median"]), fmt(r["min"]), fmt(r["max"]), r["peer"],
                     fmt(r["peer_median"]), r["ratio_text"] if r["ratio"] is not None
                     else "-" if r["ratio_text"] == "-" else "n/a"]
            if r["ratio"] is None and r["ratio_text"] != "-":
                notes.append((len(body) + 1, "ratio " + r["ratio_text"]))
            if r["status"] != "ok":
                notes.append((len(body) + 1, r["status"]))
        if r["note"]:
            notes.append((len(body) + 1, r["note"]))
        body.append(cells)
    body = [[str(i + 1)] + c for i, c in enumerate(body)]
    head = ["#"] + head
    w = [max(len(head[i]), *(len(b[i]) for b in body)) for i in range(len(head))]
    line = "  ".join(h.ljust(w[i]) for i, h in enumerate(head))
    print(line, file=out)
    print("-" * len(line), file=out)
    for b in body:
        print("  ".join(c.ljust(w[i]) for i, c in enumerate(b)).rstrip(), file=out)
    if notes:
        print("\nnotes:", file=out)
        for i, n in notes:
            print("  [%d] %s" % (i, n), file=out)


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
        log("machine: %s CPUs; two concurrent CPU-bound processes get %.2fx the throughput "
            "of one (2.0 on two free cores)" % (ctx["cpus_online"],
                                               ctx["parallel_throughput_of_2_processes"]))
    workloads = [w_fib, w_spawn, w_ring, w_pingpong, w_skew, w_policies, w_migrate, w_memory, w_maps,
                 w_tables]
    only = os.environ.get("BENCH_ONLY", "").split(",") if os.environ.get("BENCH_ONLY") else None
    for w in workloads:
        name = w.__name__[2:]
        if only and name not in only:
            continue
        n0 = len(ROWS)
        try:
            w(shoal, peers)
        except Exception as e:  # a bug in one workload must not stop the others
            del ROWS[n0:]
            add_row(name, "(all)", "", "", [], "driver error: %r" % e, "-", [], "driver error")
    peers.cleanup()
    if shoal_missing:
        for r in ROWS:
            r["status"] = "not available: " + shoal_missing

    print()
    print("shoal benchmarks (%s; %s). Ratio = shoal median / peer median, both measured"
          % ("BENCH_QUICK=1, smoke sizes" if QUICK else "full sizes", time.strftime("%Y-%m-%d %H:%M:%S")))
    print("in this run; for times lower is better, for speed-ups higher. Figures are "
          "measured inside each program (start-up not counted).")
    if "parallel_throughput_of_2_processes" in ctx:
        print("machine: %s CPUs online; two concurrent CPU-bound processes got %.2fx the "
              "throughput of one (2.0 = two free cores)."
              % (ctx["cpus_online"], ctx["parallel_throughput_of_2_processes"]))
    print()
    print_table(ROWS)
    print(LEGEND)
    elapsed = time.monotonic() - t0
    print("\nwall time of the run: %.0f s" % elapsed)

    os.makedirs(RESULTS, exist_ok=True)
    doc = dict(generated=time.strftime("%Y-%m-%dT%H:%M:%S%z", time.localtime(started)),
               quick=QUICK, repetitions=REPS, memory_repetitions=dict(beam=MEM_REPS,
                                                                      shoal=MEM_SHOAL_REPS),
               shoal=shoal, sizes=SZ, machine=ctx,
               peers=dict(beam=peers.beam_missing or "ok", lua=peers.lua_missing or "ok"),
               wall_time_s=round(elapsed, 1), legend=LEGEND.strip(), rows=ROWS)
    path = os.path.join(RESULTS, "latest.json")
    with open(path + ".tmp", "w") as f:
        json.dump(doc, f, indent=1)
    os.replace(path + ".tmp", path)
    print("results: %s" % os.path.relpath(path))
    return 0


if __name__ == "__main__":
    sys.exit(main())
