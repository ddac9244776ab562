"""benchlib.py: what the benchmark driver (driver.py) is built on.

Running programs under `timeout` and parsing their `RESULT key=value ...`
lines; a Series, one configuration run once per repetition; the peers
(BEAM, Lua 5.4); live shoal runs measured from outside while they hold
still (the memory and numa workloads: the memfd's allocated blocks, the
run's statistics over the control socket); and the result rows, each with
its bar from ../shared/BENCH.md and whether it is met.

Nothing here makes up a figure: a run that fails, a peer that is missing,
a bar that cannot be judged each say so, with the reason.
"""
import json
import math
import os
import select
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
PEERS = os.path.join(HERE, "peers")

QUICK = os.environ.get("BENCH_QUICK", "") not in ("", "0")
REPS = int(os.environ.get("BENCH_REPS", "1" if QUICK else "5"))
TIMEOUT = 60 if QUICK else 180  # seconds, per run

# Runs go one after another; a run name of their own keeps them apart from
# other shoal runs on the machine (two live runs cannot share a name).
os.environ.setdefault("SHOAL_NAME", "bench-%d" % os.getpid())


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


def parse_line(line):
    """The key=value pairs of one RESULT line, or None."""
    parts = line.split()
    if not parts or parts[0] != "RESULT":
        return None
    d = {}
    for kv in parts[1:]:
        if "=" in kv:
            k, v = kv.split("=", 1)
            d[k] = v
    return d


def parse(out):
    """The RESULT lines of a program's output, as dicts."""
    return [d for d in (parse_line(l) for l in out.splitlines()) if d is not None]


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

    def execute(self):
        """One run: (list of RESULT dicts, None) or (partial dicts, error)."""
        rc, out, err = run(self.cmd, self.timeout)
        res = parse(out)
        if rc != 0 or not res:
            return res, failure(rc, out, err, self.timeout)
        return res, None

    def run_once(self):
        if self.error:
            return
        t0 = time.monotonic()
        res, error = self.execute()
        dt = time.monotonic() - t0
        if error:
            self.error = error
            self.partial = res
            log("  %-38s FAILED (%.1fs): %s" % (self.name, dt, self.error))
            return
        self.reps.append(res)
        v = res[0].get("value")
        log("  %-38s %s %s (%.1fs)" % (self.name, v if v is not None else "ok",
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


def ratios(a, b, key="value"):
    """Series a's figure over series b's, repetition by repetition:
    (list, error)."""
    va, vb = a.values(key), b.values(key)
    if a.error or b.error or len(va) != len(vb):
        return [], a.error or b.error or "repetitions do not pair up"
    return [x / y for x, y in zip(va, vb) if y > 0], None


def pct(vals, p):
    """Nearest-rank percentile."""
    v = sorted(vals)
    if not v:
        return None
    i = max(0, min(len(v) - 1, int(math.ceil(p / 100.0 * len(v))) - 1))
    return v[i]


def human_bytes(b):
    for unit, sh in (("GiB", 30), ("MiB", 20), ("KiB", 10)):
        if b >= (1 << sh) and b % (1 << sh) == 0:
            return "%d %s" % (b >> sh, unit)
    return "%d B" % b


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
        """`+S N:N`: N schedulers and N online. `+S N` alone sets N
        schedulers but at most one online per core, so `+S 4` on two cores
        runs two: the oversub workload needs all four online."""
        flags = ["+S", "%d:%d" % (schedulers, schedulers)] if schedulers else []
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


# ---------------------------------------------------------------- live runs

class LiveRun:
    """A shoal run that prints `RESULT phase=ready ...` and then holds still
    (its processes waiting) until it is stopped: measured from outside
    while it waits, then stopped with SIGINT (the supervisor stops the VMs
    gracefully). The supervisor is the process started here, so its pid is
    the one whose /proc/PID/fd holds the segment's memfd."""

    def __init__(self, shoal, args, timeout):
        self.shoal = shoal
        self.name = "%s-live" % os.environ["SHOAL_NAME"]
        self.cmd = [shoal, "run", "--name", self.name] + args
        self.timeout = timeout
        self.proc = None
        self.err = None

    def start(self):
        """Starts the run and waits for its ready line: (dict, None) or
        (None, error)."""
        self.err = tempfile.TemporaryFile()
        try:
            self.proc = subprocess.Popen(self.cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                         stderr=self.err, start_new_session=True)
        except OSError as e:
            return None, str(e)
        deadline = time.monotonic() + self.timeout
        buf = b""
        fd = self.proc.stdout.fileno()
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return None, "timed out after %ds before the run was ready" % self.timeout
            r, _, _ = select.select([fd], [], [], min(left, 1.0))
            if not r:
                continue
            chunk = os.read(fd, 65536)
            if not chunk:
                self.proc.wait()
                return None, failure(self.proc.returncode, buf.decode(errors="replace"),
                                     self.stderr(), self.timeout)
            buf += chunk
            while b"\n" in buf:
                line, buf = buf.split(b"\n", 1)
                d = parse_line(line.decode(errors="replace"))
                if d is not None and d.get("phase") == "ready":
                    return d, None

    def stderr(self):
        if not self.err:
            return ""
        self.err.seek(0)
        return self.err.read().decode(errors="replace")

    def stats(self):
        """The run's statistics (`shoal stats --json`), or None."""
        rc, out, _ = run([self.shoal, "stats", "--name", self.name, "--json"], 20)
        if rc != 0:
            return None
        try:
            d = json.loads(out)
        except ValueError:
            return None
        return d if d.get("ok") else None

    def settle(self, processes, bound_s=60):
        """Waits until the run has `processes` processes and every VM's run
        queue is empty (every process waiting), polling its statistics:
        the statistics dict, or None if that did not happen within bound_s."""
        deadline = time.monotonic() + bound_s
        while time.monotonic() < deadline:
            d = self.stats()
            if d and d["run"]["processes"] == processes and \
                    all(v["runq"] == 0 for v in d["vms"]):
                return d
            time.sleep(0.05)
        return None

    def memfd_bytes(self):
        """Bytes the kernel has allocated to the segment's memfd (its
        st_blocks, in 512-byte units): every page any VM has touched, and
        nothing else. None if it cannot be found."""
        fddir = "/proc/%d/fd" % self.proc.pid
        try:
            fds = os.listdir(fddir)
        except OSError:
            return None
        for fd in fds:
            path = os.path.join(fddir, fd)
            try:
                if os.readlink(path).startswith("/memfd:shoal"):
                    return os.stat(path).st_blocks * 512
            except OSError:
                continue
        return None

    def stop(self):
        """SIGINT, and at most 60 s for a graceful stop; then SIGKILL to the
        run's process group (this run's own, started here)."""
        if not self.proc:
            return
        if self.proc.poll() is None:
            try:
                self.proc.send_signal(signal.SIGINT)
                self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        self.proc.stdout.close()
        if self.err:
            self.err.close()


class LiveSeries(Series):
    """A Series whose run is measured by `measure(shoal)`, which returns
    (list of RESULT-like dicts, None) or (partial, error)."""

    def __init__(self, name, measure, timeout=TIMEOUT, missing=None):
        Series.__init__(self, name, None, timeout, missing)
        self.measure = measure

    def execute(self):
        try:
            return self.measure()
        except OSError as e:
            return [], "driver: %s" % e


# ---------------------------------------------------------------- rows and bars

ROWS = []


def bar(op, limit, on="ratio", text=None):
    """A bar from BENCH.md (or issue 14): the row's ratio to its peer
    (on="ratio") or its own median (on="value") must be `op` limit."""
    if text is None:
        text = "%s %sx peer" % (op, limit) if on == "ratio" else "%s %s" % (op, limit)
    return dict(on=on, op=op, limit=limit, text=text)


def judge(row):
    """yes / no / n/a: ... / - (no bar)."""
    b = row.get("bar")
    if not b:
        return "-"
    if row.get("bar_unjudged"):
        return "n/a: " + row["bar_unjudged"]
    x = row["ratio"] if b["on"] == "ratio" else row["median"]
    if x is None:
        return "n/a: no %s" % ("ratio" if b["on"] == "ratio" else "figure")
    ok = x <= b["limit"] if b["op"] == "<=" else x >= b["limit"]
    return "yes" if ok else "no"


def stats(vals):
    if not vals:
        return None, None, None
    return statistics.median(vals), min(vals), max(vals)


def add_row(workload, variant, size, unit, vals, err, peer, peer_vals, peer_err,
            note="", better="lower", bar_=None, unjudged=None):
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
    row = dict(workload=workload, variant=variant, size=size, unit=unit,
               repetitions=len(vals), median=med, min=lo, max=hi,
               samples=vals, status=status,
               peer=peer, peer_median=pmed, peer_repetitions=len(peer_vals or []),
               peer_samples=peer_vals or [],
               peer_status="none" if peer == "-" else "ok" if pmed is not None
               else "n/a: " + (peer_err or "peer has no measurement"),
               ratio=ratio, ratio_text=ratio_txt,
               ratio_means="shoal/peer, %s is better" % better,
               bar=bar_, bar_unjudged=unjudged, note=note)
    row["bar_met"] = judge(row)
    ROWS.append(row)
    return row


def row_from(workload, variant, size, unit, s, p, peer_name, note="", better="lower",
             bar_=None, key="value", unjudged=None):
    add_row(workload, variant, size, unit, s.values(key), s.error, peer_name,
            p.values(key) if p else [], (p.error if p else "no peer for this workload"),
            note=note, better=better, bar_=bar_, unjudged=unjudged)


def not_run_row(workload, variant, size, why, bar_=None):
    """A row for a configuration that was not run, saying why."""
    add_row(workload, variant, size, "", [], why, "-", [], None, bar_=bar_)


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
