#!/usr/bin/env bash
# End-to-end tests of the control socket against live runs of
# tests/ctl/live.shoal (4 VMs): shoal stats, ps, inspect, top, policy, the
# socket's place and modes, who may connect, and bad clients of every
# kind. Every wait is on a condition, with a generous bound.
#
# Needs: jq, python3 (raw socket clients), tmux (shoal top), setpriv
# (a client as nobody); a test whose tool is missing fails and says so.
#
# Usage: tests/ctl.sh SHOAL     Ends with the line "N passed, N failed".
set -u
shoal=${1:?usage: tests/ctl.sh SHOAL}
case $shoal in /*) ;; *) shoal=$PWD/$shoal ;; esac
here=$(cd "$(dirname "$0")" && pwd)
prog=$here/ctl/live.shoal
passed=0
failed=0
tmp=$(mktemp -d)
chmod 755 "$tmp"
# A runtime directory of our own: the runs and clients below meet there,
# apart from every other run on the machine.
export XDG_RUNTIME_DIR=$tmp/xdg
mkdir -m 755 "$XDG_RUNTIME_DIR"
runs=()
cleanup() {
    for p in "${runs[@]}"; do kill -9 "$p" 2>/dev/null; done
    tmux kill-session -t "shoaltop$$" 2>/dev/null
    rm -rf "$tmp"
}
trap cleanup EXIT

ok() { passed=$((passed + 1)); echo "ok   $1"; }
bad() {
    failed=$((failed + 1))
    echo "FAIL $1"
    shift
    for line in "$@"; do echo "    $line"; done
}
check() { # name command...: passes when the command succeeds
    local name=$1
    shift
    if "$@" >"$tmp/check.out" 2>&1; then ok "$name"; else bad "$name" "$(head -c 2000 "$tmp/check.out")"; fi
}

# wait_for SECONDS COMMAND...: until COMMAND succeeds (polled every 50 ms)
wait_for() {
    local limit=$1
    shift
    local end=$((SECONDS + limit))
    while ! "$@" >/dev/null 2>&1; do
        [ $SECONDS -ge $end ] && return 1
        sleep 0.05
    done
}

# start NAME MODE: a run of live.shoal in the background; its output in
# $tmp/NAME.out, its pid in $run_pid
start() { # NAME MODE [FLAGS...]
    local name=$1 mode=$2
    shift 2
    "$shoal" run --vms 4 --name "$name" "$@" "$prog" -- "$mode" >"$tmp/$name.out" 2>"$tmp/$name.err" &
    run_pid=$!
    runs+=("$run_pid")
    if ! wait_for 60 grep -q '^ready$' "$tmp/$name.out"; then
        bad "start $name" "$(cat "$tmp/$name.err")"
        return 1
    fi
}

pid_of() { sed -n "s/^$2 <\([0-9]*\)>$/\1/p" "$tmp/$1.out" | head -n1; }
alive() { kill -0 "$1" 2>/dev/null; }

for tool in jq python3 tmux setpriv; do
    command -v $tool >/dev/null || bad "tool $tool is installed" "scripts/deps.sh installs it"
done

# ---------------------------------------------------------------- quiet
start q quiet || exit 1
main=$(pid_of q main)
idle=$(pid_of q idle)
stepper=$(pid_of q stepper)

# The socket's place and modes.
dir=$XDG_RUNTIME_DIR/shoal
check "runtime directory is mode 700" test "$(stat -c %a "$dir")" = 700
check "socket is mode 600 and a socket" test "$(stat -c %a:%F "$dir/q.sock")" = "600:socket"
check "lock file is held beside it" test -f "$dir/q.lock"

# A second run of the same name is refused; another name is fine.
"$shoal" run --vms 1 --name q "$prog" -- quiet >"$tmp/dup.out" 2>"$tmp/dup.err"
st=$?
if [ $st = 2 ] && grep -q "a run named 'q' is already running" "$tmp/dup.err"; then
    ok "a second run named q is refused"
else
    bad "a second run named q is refused" "status $st" "$(cat "$tmp/dup.err")"
fi

# Hibernation: idle waits with no timeout, its two messages not taken
# (buffers beside its heap), so it hibernates once it has waited a
# second (the default hibernate_ms), and only it (main and the stepper
# wait with timeouts); after that nothing changes but the stepper.
hibernated() { "$shoal" stats --name q --json | jq -e '.run.hibernated == 1 and ([.vms[].hibernated] | add) == 1 and .vms[1].hibernated == 1'; }
if wait_for 60 hibernated; then ok "idle hibernates, once (stats' hibernated)"; else bad "idle hibernates, once" "$("$shoal" stats --name q --json 2>&1 | jq -c '.run.hibernated, [.vms[].hibernated]' 2>&1)"; fi
check "stats --prometheus counts hibernations" sh -c "'$shoal' stats --name q --prometheus | grep -q '^shoal_vm_hibernated_total{run=\"q\",vm=\"1\",node=\"0\"} 1\$'"
check "idle still has its two messages" sh -c "'$shoal' inspect --name q $idle --messages 2 --json | jq -e '.process.state == \"waiting\" and .process.mailbox == 2'"

# A quiet moment: between two steps of the stepper (it says "moving"
# before it moves), take stats, ps and inspect of everything, and check
# that no step happened meanwhile.
quiet_snapshot() { # prefix
    local before after
    before=$(grep -c '^moving' "$tmp/q.out")
    "$shoal" stats --name q --json >"$tmp/$1.stats" || return 1
    "$shoal" ps --name q --json >"$tmp/$1.ps" || return 1
    for p in $main $idle $stepper; do
        "$shoal" inspect --name q "$p" --messages 5 --json >"$tmp/$1.inspect.$p" || return 1
    done
    after=$(grep -c '^moving' "$tmp/q.out")
    # also no step half done: as many "moved" as "moving"
    [ "$before" = "$after" ] && [ "$(grep -c '^moved' "$tmp/q.out")" = "$after" ]
}
snap() { # prefix: a quiet snapshot, trying again over the next steps
    for try in 1 2 3 4 5 6; do quiet_snapshot "$1" && return 0; done
    return 1
}
if snap s1; then ok "a quiet snapshot of stats, ps and inspect"; else bad "a quiet snapshot"; fi
# idle waits in its receive on line 14 of live.shoal: inspect's stack says so
check "inspect's stack has the source line" sh -c "'$shoal' inspect --name q $idle --json | jq -e '.process.stack[0] | .function == \"idle/0\" and .line == 14 and (.file | endswith(\"live.shoal\"))' && '$shoal' inspect --name q $idle | grep -q '^    at idle/0 (.*live.shoal:14)\$'"

# ps lists exactly the processes the program started.
want=$(printf '%s\n' "$main" "$idle" "$stepper" | sort -n)
got=$(jq -r '.processes[].pid' "$tmp/s1.ps" | sort -n)
check "ps lists exactly the processes the program spawned" test "$want" = "$got"
check "ps total matches" test "$(jq .total "$tmp/s1.ps")" = 3
check "stats counts the same live processes" test "$(jq .run.processes "$tmp/s1.stats")" = 3

# stats, ps and inspect agree: per VM, the processes and heap pages ps
# lists are what stats counts; each inspect is its ps row.
consistent() {
    python3 - "$tmp/s1" "$main" "$idle" "$stepper" <<'EOF'
import json, sys
pre = sys.argv[1]
st = json.load(open(pre + ".stats"))
ps = json.load(open(pre + ".ps"))
rows = {p["pid"]: p for p in ps["processes"]}
for vm in st["vms"]:
    mine = [p for p in rows.values() if p["vm"] == vm["vm"]]
    assert vm["processes"] == len(mine), (vm["vm"], vm["processes"], len(mine))
    heap = sum(p["heap_bytes"] for p in mine)
    assert vm["heap_local_bytes"] + vm["heap_remote_bytes"] == heap, (vm, heap)
for pid in sys.argv[2:]:
    ins = json.load(open(pre + ".inspect." + pid))["process"]
    row = rows[int(pid)]
    for k in ("vm", "node", "state", "heap_bytes", "mailbox", "migrations", "function"):
        assert ins[k] == row[k], (pid, k, ins[k], row[k])
idle = json.load(open(pre + ".inspect." + sys.argv[3]))["process"]
assert idle["mailbox"] == 2, idle
assert idle["mailbox_detail"]["messages"] == ["hello", '#(data 42 "text")'], idle
assert idle["links"] == [int(sys.argv[2])], idle
assert idle["state"] == "waiting" and idle["vm"] == 1, idle
assert idle["function"] == "idle/0", idle
main = json.load(open(pre + ".inspect." + sys.argv[2]))["process"]
assert main["links"] == [int(sys.argv[3])], main
assert main["state"] == "waiting" and main["wait_ms"] is not None, main
EOF
}
check "stats, ps and inspect report consistent figures" consistent

# (migrate vm): inspect shows the new VM; its count and the VMs' explicit
# counters move by exactly one.
mig_check() {
    local a=$1 b=$2
    python3 - "$tmp/$a" "$tmp/$b" "$stepper" <<'EOF'
import json, sys
a, b, pid = sys.argv[1], sys.argv[2], sys.argv[3]
ia = json.load(open(a + ".inspect." + pid))["process"]
ib = json.load(open(b + ".inspect." + pid))["process"]
sa = json.load(open(a + ".stats"))
sb = json.load(open(b + ".stats"))
n = len(sa["vms"])
assert ib["migrations"] == ia["migrations"] + 1, (ia["migrations"], ib["migrations"])
assert ib["migrations_by_cause"]["explicit"] == ia["migrations_by_cause"]["explicit"] + 1
assert ib["vm"] == (ia["vm"] + 1) % n, (ia["vm"], ib["vm"])
out = lambda s, v: sum(s["vms"][v]["migrations_out"].values())
inn = lambda s, v: sum(s["vms"][v]["migrations_in"].values())
for v in range(n):
    d_out = out(sb, v) - out(sa, v)
    d_in = inn(sb, v) - inn(sa, v)
    assert d_out == (1 if v == ia["vm"] else 0), (v, d_out)
    assert d_in == (1 if v == ib["vm"] else 0), (v, d_in)
    assert (sb["vms"][v]["migrations_out"]["explicit"] - sa["vms"][v]["migrations_out"]["explicit"]) == d_out
EOF
}
moved() { grep -c '^moved' "$tmp/q.out"; }
more_moved() { test "$(moved)" -gt "$1"; }
# s1 was taken after `steps` steps; s2 after the next one, if exactly one
# step lies between them (else take the pair again).
mig_done=0
for try in 1 2 3; do
    snap s1 || break
    steps=$(moved)
    wait_for 30 more_moved "$steps" || break
    snap s2 || break
    if [ "$(moved)" = $((steps + 1)) ]; then
        check "after (migrate vm): the new VM, and counters moved by exactly one" mig_check s1 s2
        mig_done=1
        break
    fi
done
[ $mig_done = 1 ] || bad "after (migrate vm)" "no quiet pair of snapshots around one step"

# policy: show answers; a change the run cannot make is refused clearly,
# and the run goes on.
check "policy show names the policy" sh -c "'$shoal' policy show --name q --json | jq -e '.policy.name | length > 0'"
"$shoal" policy set --name q no_such_key=1 >"$tmp/pol.out" 2>"$tmp/pol.err"
st=$?
if [ $st = 1 ] && grep -q "no_such_key" "$tmp/pol.err"; then ok "policy set of an unknown key is refused"; else bad "policy set of an unknown key is refused" "status $st" "$(cat "$tmp/pol.err")"; fi

# Another uid: nobody cannot reach the socket at all (the directory is
# 0700), and with the right to pass through directories (DAC override)
# it reaches it and the run refuses it by its uid (SO_PEERCRED).
setpriv --reuid=65534 --regid=65534 --clear-groups "$shoal" stats --name q >"$tmp/nb.out" 2>"$tmp/nb.err"
st=$?
if [ $st = 4 ] && grep -q "permission denied" "$tmp/nb.err"; then ok "nobody cannot reach the socket"; else bad "nobody cannot reach the socket" "status $st" "$(cat "$tmp/nb.err")"; fi
setpriv --reuid=65534 --regid=65534 --clear-groups --inh-caps=+dac_override,+dac_read_search \
    --ambient-caps=+dac_override,+dac_read_search "$shoal" stats --name q >"$tmp/nb2.out" 2>"$tmp/nb2.err"
st=$?
if [ $st = 1 ] && grep -q "refused: uid 65534 is not the run's uid $(id -u)" "$tmp/nb2.err"; then
    ok "a client of another uid is refused (SO_PEERCRED)"
else
    bad "a client of another uid is refused (SO_PEERCRED)" "status $st" "$(cat "$tmp/nb2.err")"
fi

# Bad clients: garbage, truncated, huge, NUL, byte-at-a-time, too many at
# once. Each gets an error reply or is dropped, and the run goes on
# answering others meanwhile.
python3 - "$dir/q.sock" >"$tmp/bad.out" 2>&1 <<'EOF'
import json, os, socket, sys, threading, time
path = sys.argv[1]
def conn():
    for attempt in range(400):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(20)
        try:
            s.connect(path)
            return s
        except BlockingIOError:  # the listen queue is full for a moment
            s.close()
            time.sleep(0.01)
    raise RuntimeError("cannot connect")
def line(s):
    buf = b""
    while not buf.endswith(b"\n"):
        c = s.recv(65536)
        if not c:
            break
        buf += c
    return buf
def ask(s, req):
    s.sendall(req)
    return json.loads(line(s))
def stats_ok():
    s = conn()
    r = ask(s, b"shoal/1 stats\n")
    s.close()
    assert r["ok"] and len(r["vms"]) == 4, r
# garbage, then a good request on the same connection
s = conn()
r = ask(s, bytes(range(1, 9)) + b"\xff\xfe garbage\n")
assert not r["ok"] and "control byte" in r["error"], r
r = ask(s, b"not even close\n")
assert not r["ok"] and "not a shoal request" in r["error"], r
r = ask(s, b"shoal/1 ps limit=1\n")
assert r["ok"] and r["shown"] == 1, r
s.close()
print("garbage: error replies, and the connection goes on")
# two requests in one write: two replies, in order
s = conn()
s.sendall(b"shoal/1 ps limit=1\nshoal/1 stats\n")
buf = b""
while buf.count(b"\n") < 2:
    c = s.recv(65536)
    assert c, buf
    buf += c
a, b = [json.loads(x) for x in buf.split(b"\n")[:2]]
assert a["ok"] and "processes" in a and b["ok"] and "vms" in b, (a, b)
s.close()
print("pipelined: both answered, in order")
# a client that asks for a listing and goes before the answer: the one
# behind it is answered all the same
for _ in range(5):
    a = conn()
    a.sendall(b"shoal/1 ps\n")
    b = conn()
    b.sendall(b"shoal/1 ps limit=1\n")
    a.close()
    r = json.loads(line(b))
    assert r["ok"] and r["shown"] == 1, r
    b.close()
print("gone before its answer: the next client is answered")
# truncated: half a request, then gone
s = conn(); s.sendall(b"shoal/1 sta"); s.close()
s = conn(); s.sendall(b"shoal/1 inspect pid="); s.shutdown(socket.SHUT_WR); s.close()
stats_ok()
print("truncated: dropped, the run answers others")
# huge: more than a request may be, without a newline
s = conn()
try:
    s.sendall(b"x" * 100000)
except OSError:
    pass
r = json.loads(line(s))
assert not r["ok"] and "longer than" in r["error"], r
try:
    assert s.recv(10) == b"", "closed after it"
except ConnectionResetError:
    pass  # closed with the rest of the request unread: a reset is a close
s.close()
print("huge: an error reply, then closed")
# a NUL
s = conn()
r = ask(s, b"shoal/1 st\x00ats\n")
assert not r["ok"] and "NUL" in r["error"], r
s.close()
# slow: one byte at a time while others are answered
done = []
def slow():
    s = conn()
    for b in b"shoal/1 stats\n":
        s.sendall(bytes([b]))
        time.sleep(0.03)
    r = json.loads(line(s))
    s.close()
    done.append(r["ok"])
t = threading.Thread(target=slow)
t.start()
while t.is_alive():
    stats_ok()
t.join()
assert done == [True], done
print("slow: answered, and others were answered meanwhile")
# many at once: past the limit, refused with a reason; the rest served
socks = [conn() for _ in range(24)]
time.sleep(0.2)
refused = 0
for s in socks:
    s.setblocking(False)
    try:
        d = s.recv(4096)
        if d and b"too many clients" in d:
            refused += 1
    except BlockingIOError:
        pass
    s.setblocking(True)
for s in socks:
    s.close()
assert refused >= 24 - 16, refused
stats_ok()
print("many: %d refused past the limit, the run answers others" % refused)
EOF
st=$?
if [ $st = 0 ]; then ok "garbage, truncated, huge, NUL, slow and too many clients"; else bad "bad clients" "$(cat "$tmp/bad.out")"; fi
check "the run is alive after the bad clients" alive "$run_pid"

# shoal top, in tmux: it draws, refreshes, sorts, and quits on q with the
# terminal restored.
sess=shoaltop$$
tmux new-session -d -s "$sess" -x 160 -y 40 "bash"
tmux set-option -t "$sess" remain-on-exit on >/dev/null
tmux send-keys -t "$sess" "XDG_RUNTIME_DIR='$XDG_RUNTIME_DIR' '$shoal' top --name q --interval 0.2; echo top-exit=\$?" Enter
pane() { tmux capture-pane -p -t "$sess"; }
up() { pane | sed -n "s/.* - up \([0-9.]*\) s - .*/\1/p" | head -n1; }
if wait_for 30 sh -c "tmux capture-pane -p -t '$sess' | grep -q 'shoal top - run .q.'"; then
    ok "top draws"
    first=$(up)
    if wait_for 30 sh -c "test \"\$(tmux capture-pane -p -t '$sess' | sed -n 's/.* - up \([0-9.]*\) s - .*/\1/p' | head -n1)\" != '$first'"; then
        ok "top refreshes"
    else
        bad "top refreshes" "$(pane)"
    fi
    check "top shows the VMs by node" sh -c "tmux capture-pane -p -t '$sess' | grep -q 'VM 3 .*runq'"
    tmux send-keys -t "$sess" m
    if wait_for 30 sh -c "tmux capture-pane -p -t '$sess' | grep -q 'sort: mailbox'"; then
        # the idle process, with 2 messages, comes first
        if wait_for 30 sh -c "tmux capture-pane -p -t '$sess' | grep -A1 '^PID' | tail -n1 | grep -q '<$idle>'"; then
            ok "top sorts"
        else
            bad "top sorts" "$(pane)"
        fi
    else
        bad "top sorts" "$(pane)"
    fi
    tmux send-keys -t "$sess" q
    if wait_for 30 sh -c "tmux capture-pane -p -t '$sess' | grep -q 'top-exit=0'"; then
        if pane | grep -q 'shoal top - run'; then
            bad "top quits on q and restores the terminal" "$(pane)"
        else
            ok "top quits on q and restores the terminal"
        fi
    else
        bad "top quits on q" "$(pane)"
    fi
else
    bad "top draws" "$(pane)"
fi
tmux kill-session -t "$sess" 2>/dev/null

# The end of the run: the socket goes with it.
kill -TERM "$run_pid"
wait "$run_pid" 2>/dev/null
check "the socket is removed when the run ends" test ! -e "$dir/q.sock"

# A run killed outright leaves its socket; the next run of that name
# replaces it, and clients of the dead one are told it is gone.
start k quiet || exit 1
{ kill -9 "$run_pid" && wait "$run_pid"; } 2>/dev/null
"$shoal" stats --name k >"$tmp/stale.out" 2>"$tmp/stale.err"
st=$?
if [ $st = 4 ] && grep -q "is gone" "$tmp/stale.err"; then ok "a dead run's socket is reported stale"; else bad "a dead run's socket is reported stale" "status $st" "$(cat "$tmp/stale.err")"; fi
start k quiet && check "a new run replaces a stale socket" sh -c "'$shoal' stats --name k --json | jq -e '.ok'"
kill -TERM "$run_pid"
wait "$run_pid" 2>/dev/null

# ---------------------------------------------------------------- busy
start b busy || exit 1
hopper=$(pid_of b hopper)
idle=$(pid_of b idle)
# inspect of a process that moves at every call, and of a waiting one,
# over and over, while ps lists everything: every answer is right, and no
# VM dies.
hop() {
    local good=0 moving=0
    for i in $(seq 1 60); do
        if "$shoal" inspect --name b "$hopper" --json >"$tmp/hop.json" 2>"$tmp/hop.err"; then
            jq -e --argjson p "$hopper" '.ok and .process.pid == $p and .process.vm >= 0 and .process.vm < 4 and .process.function == "hopper/1"' "$tmp/hop.json" >/dev/null || { cat "$tmp/hop.json"; return 1; }
            good=$((good + 1))
        elif grep -q "kept moving; try again" "$tmp/hop.err"; then
            moving=$((moving + 1))
        else
            cat "$tmp/hop.err"
            return 1
        fi
        "$shoal" inspect --name b "$idle" --messages 2 --json | jq -e '.process.state == "waiting" and .process.mailbox == 2' >/dev/null || return 1
    done
    echo "answered $good, kept moving $moving"
    [ $good -gt 0 ]
}
check "inspect of a process that migrates in a loop, and of a waiting one" hop
check "ps lists all 45 processes of the busy run" sh -c "'$shoal' ps --name b --json | jq -e '.total == 45 and (.errors | length) == 0'"
# (after a whole stats window: reductions are counted per window)
spin_first() { "$shoal" ps --name b --sort reductions --limit 1 --json | jq -e --argjson p "$(pid_of b spin)" '.processes[0].pid == $p'; }
if wait_for 30 spin_first; then ok "ps by reductions puts the spinner first"; else bad "ps by reductions puts the spinner first" "$(spin_first 2>&1)"; fi
check "ps --state waiting --vm 1" sh -c "'$shoal' ps --name b --state waiting --vm 1 --json | jq -e '[.processes[] | select(.state != \"waiting\" or .vm != 1)] | length == 0'"
check "stats --prometheus" sh -c "'$shoal' stats --name b --prometheus | grep -q '^shoal_vm_busy_ratio{run=\"b\",vm=\"2\",node=\"0\"} '"
check "the busy run is alive, no VM died" sh -c "kill -0 $run_pid && ! grep -q 'VM [0-9]* (pid' '$tmp/b.err'"
kill -TERM "$run_pid"
wait "$run_pid" 2>/dev/null

# ---------------------------------------------------------------- policy
# A run that starts with no balancing: 8 spinners stay on VM 0 and nothing
# moves for a policy. `policy use least-loaded` takes effect without a
# stop: the rebalancer moves them, and the counters say so (cause
# rebalance). A change the config file would refuse is refused, and
# changes nothing.
start p skew --policy none || exit 1
policy_moves() { # cause: moves in, summed over the VMs
    "$shoal" stats --name p --json | jq -e --arg c "$1" '[.vms[].migrations_in[$c]] | add'
}
moved_by() { test "$(policy_moves "$1")" -gt 0; }
check "under none, no policy moves" sh -c "test \"\$('$shoal' stats --name p --json | jq '[.vms[].migrations_in.steal, .vms[].migrations_in.rebalance] | add')\" = 0"
check "policy show says none" sh -c "'$shoal' policy show --name p --json | jq -e '.policy.name == \"none\"'"
"$shoal" policy set --name p least-loaded.min_diff=0 >"$tmp/pset.out" 2>"$tmp/pset.err"
st=$?
if [ $st = 1 ] && grep -q "min_diff: 0 is out of range" "$tmp/pset.err"; then ok "policy set validates as the config file does"; else bad "policy set validates as the config file does" "status $st" "$(cat "$tmp/pset.err")"; fi
check "a refused change changes nothing" sh -c "'$shoal' policy show --name p --json | jq -e '.policy.name == \"none\" and .policy.interval_ms == 10'"
check "policy use least-loaded" "$shoal" policy use --name p least-loaded
check "policy set interval_ms and a parameter" "$shoal" policy set --name p interval_ms=20 least-loaded.min_diff=3
check "policy show has the new policy and values" sh -c "'$shoal' policy show --name p --json | jq -e '.policy.name == \"least-loaded\" and .policy.interval_ms == 20 and .policy.params.min_diff == 3'"
if wait_for 60 moved_by rebalance; then ok "the new policy's moves show in the counters (cause rebalance)"; else bad "the new policy's moves show in the counters" "$("$shoal" stats --name p --json | jq -c '[.vms[].migrations_in]')"; fi
kill -TERM "$run_pid"
wait "$run_pid" 2>/dev/null

# ---------------------------------------------------------------- recovery
# VM 1 of a quiet run is killed: the supervisor restarts it, and stats
# shows the restart and the processes its new incarnation adopted (idle
# waits there, so it is adopted, not lost); the run goes on.
# (no hibernation: a process hibernating at the kill would be lost)
start k quiet --set memory.hibernate_ms=0 || exit 1
idle=$(pid_of k idle)
vm1=$("$shoal" stats --name k --json | jq -r '.vms[1].os_pid')
kill -KILL "$vm1"
recovered() { "$shoal" stats --name k --json | jq -e '.run.restarts == 1 and .vms[1].restarts == 1 and .vms[1].adopted >= 1 and (.run.lost | type) == "number" and .vms[1].state == "running"'; }
if wait_for 60 recovered; then ok "stats shows the restart and the adopted processes"; else bad "stats shows the restart and the adopted processes" "$("$shoal" stats --name k --json 2>&1 | jq -c '.run, [.vms[] | {restarts, adopted, lost, state}]' 2>&1)"; fi
check "the text form has the recovery line" sh -c "'$shoal' stats --name k | grep -q '^recovery: 1 VM restarts, [1-9][0-9]* processes adopted, [0-9]* lost to VM crashes'"
check "the adopted process is still there, on VM 1" sh -c "'$shoal' ps --name k --json | jq -e --argjson p $idle '[.processes[] | select(.pid == \$p and .vm == 1)] | length == 1'"
check "the run goes on after the restart" sh -c "kill -0 $run_pid && grep -q 'VM 1 (pid $vm1) killed by signal 9 .*; restarting it' '$tmp/k.err'"
kill -TERM "$run_pid"
wait "$run_pid" 2>/dev/null

# --stats-json and --summary at the end of a run.
"$shoal" run --vms 2 --name fin --stats-json "$tmp/final.json" --summary "$here/../examples/hello.shoal" >"$tmp/fin.out" 2>"$tmp/fin.err"
check "--stats-json writes the final statistics" jq -e '.final and .exit_status == 0 and (.vms | length) == 2 and .run.name == "fin"' "$tmp/final.json"
check "--summary prints a table per VM" grep -q "summary" "$tmp/fin.err"

echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
