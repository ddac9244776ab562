#!/usr/bin/env bash
# The chaos test: run tests/chaos/chaos.shoal and SIGKILL a random VM at
# random moments, many times, on each VM count; once per run, SIGSTOP a VM
# instead and let the supervisor find it stalled. After each run the
# workload checks itself (chaos.shoal's header says what) and prints
# "chaos ok ..."; this script checks that line and the exit status.
#
# Usage: tests/chaos/chaos.sh SHOAL KILLS [VMS ...]   (default VMS: 2 4)
#   KILLS on each VM count. CHAOS_SEED=N replays a run's choices (the
#   moments still depend on the machine). CHAOS_PAIRS and CHAOS_MSGS size
#   the workload.
# Ends with "chaos: N kills survived, ..." and "N passed, N failed".
set -u
shoal=${1:?usage: chaos.sh SHOAL KILLS [VMS ...]}
kills=${2:?usage: chaos.sh SHOAL KILLS [VMS ...]}
shift 2
vms_list=${*:-"2 4"}
here=$(cd "$(dirname "$0")" && pwd)
seed=${CHAOS_SEED:-$(( $(date +%s) % 100000 ))}
RANDOM=$seed
pairs=${CHAOS_PAIRS:-200}
msgs=${CHAOS_MSGS:-20000}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# Runs of this test go one after another; a name of their own keeps them
# apart from other runs on the machine (two live runs cannot share a name).
export SHOAL_NAME=chaos-$$
cat >"$tmp/chaos.ini" <<INI
[run]
; every kill restarts a VM: no intensity limit to speak of
max_restarts = 1000000
restart_window_s = 1
; a stopped VM is found stalled within a second
stall_ms = 1000
INI
echo "chaos: seed $seed, $kills kills on each of: $vms_list VMs"

passed=0
failed=0
total_kills=0
total_stalls=0
total_crashed=0
total_msgs=0
runs=0

vm_pids() { # supervisor pid -> its VM pids, one per line
    pgrep -P "$1" 2>/dev/null || true
}

# Wait until supervisor $1 has $2 live VMs, or it is gone (10 s at most).
wait_vms() {
    local i n
    for i in $(seq 1 1000); do
        kill -0 "$1" 2>/dev/null || return 1
        n=$(vm_pids "$1" | wc -l)
        [ "$n" -ge "$2" ] && return 0
        sleep 0.01
    done
    return 1
}

one_run() { # vms kills-wanted -> sets run_kills
    local vms=$1 want=$2
    run_kills=0
    local stalled=0
    "$shoal" run --config "$tmp/chaos.ini" --vms "$vms" "$here/chaos.shoal" -- "$pairs" "$msgs" \
        >"$tmp/out" 2>"$tmp/err" </dev/null &
    local sup=$!
    wait_vms "$sup" "$vms"
    while [ "$run_kills" -lt "$want" ] && kill -0 "$sup" 2>/dev/null; do
        # 20-200 ms between kills
        sleep "0.$(printf '%03d' $(( 20 + RANDOM % 180 )))"
        mapfile -t pids < <(vm_pids "$sup")
        [ "${#pids[@]}" -eq 0 ] && break
        local victim=${pids[$(( RANDOM % ${#pids[@]} ))]}
        if [ "$stalled" = 0 ] && [ "$run_kills" -eq $(( want / 2 )) ]; then
            # a stall: stopped, not killed; the supervisor must notice
            kill -STOP "$victim" 2>/dev/null || continue
            stalled=1
            total_stalls=$((total_stalls + 1))
            local i
            for i in $(seq 1 500); do # until it is replaced (10 s at most)
                kill -0 "$victim" 2>/dev/null || break
                vm_pids "$sup" | grep -qx "$victim" || break
                sleep 0.02
            done
        else
            kill -KILL "$victim" 2>/dev/null || continue
        fi
        run_kills=$((run_kills + 1))
        wait_vms "$sup" "$vms" || break
    done
    local status=0
    local waited=0
    while kill -0 "$sup" 2>/dev/null && [ $waited -lt 6000 ]; do
        sleep 0.05
        waited=$((waited + 1))
    done
    if kill -0 "$sup" 2>/dev/null; then
        kill -KILL "$sup" 2>/dev/null
        echo "FAIL chaos run on $vms VMs: did not finish in 300 s after $run_kills kills (seed $seed)"
        tail -n 5 "$tmp/err" | sed 's/^/    /'
        failed=$((failed + 1))
        return
    fi
    wait "$sup"
    status=$?
    runs=$((runs + 1))
    if [ $status -eq 0 ] && grep -q '^chaos ok' "$tmp/out"; then
        passed=$((passed + 1))
        local line
        line=$(grep '^chaos ok' "$tmp/out")
        total_crashed=$((total_crashed + $(echo "$line" | sed -n 's/.*crashed \([0-9]*\).*/\1/p')))
        total_msgs=$((total_msgs + $(echo "$line" | sed -n 's/.*messages checked \([0-9]*\).*/\1/p')))
    elif [ $status -eq 1 ] && grep -q 'main process <[0-9]*> exited: vm_crash' "$tmp/err"; then
        # main itself was running on a VM at the instant it died: the
        # run ends, as a program whose main crashed does; nothing to check
        passed=$((passed + 1))
        echo "chaos: run $runs on $vms VMs: main was running on the VM killed; run ended (1)"
    else
        failed=$((failed + 1))
        echo "FAIL chaos run on $vms VMs after $run_kills kills: exit status $status (seed $seed)"
        grep -v '^chaos ok' "$tmp/out" | head -n 10 | sed 's/^/    /'
        grep -v 'restarting it$\|stalled: no heartbeat' "$tmp/err" | head -n 10 | sed 's/^/    /'
    fi
    total_kills=$((total_kills + run_kills))
}

for vms in $vms_list; do
    done_kills=0
    while [ "$done_kills" -lt "$kills" ]; do
        one_run "$vms" $(( kills - done_kills ))
        done_kills=$((done_kills + run_kills))
        [ "$failed" -gt 0 ] && break
    done
done

echo "chaos: $total_kills kills survived ($total_stalls stalls among them) in $runs runs;" \
     "$total_crashed processes lost to crashes; $total_msgs messages checked; seed $seed"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
