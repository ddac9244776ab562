#!/usr/bin/env bash
# End-to-end tests: run `shoal` on the programs in tests/programs/ and on the
# command-line cases in tests/cli.txt, and compare with what they expect.
#
# A program states what it expects in comment lines (Wren-style):
#   ; expect: TEXT          one line of stdout, in order (all of stdout must match)
#   ; expect-unordered      compare stdout lines as a multiset (several VMs print)
#   ; expect-stderr: TEXT   a line of stderr must contain TEXT (none: stderr empty)
#   ; expect-exit: N        exit status (default 0)
#   ; flags: ...            flags for `shoal run` (default: each of $SHOAL_E2E_VMS)
#   ; with: ...             flags added to each of those default runs (e.g. a policy)
#   ; args: ...             program arguments, after --
#   ; placement             the program checks where processes run (vm-id), so
#                           SHOAL_MIGRATE_TORTURE, which moves every process at
#                           every safe point, is turned off for it
#   ; exhausts-pool         the program fills the page pool on purpose, so
#                           SHOAL_GC_TORTURE, which needs pages for a fresh
#                           to-space at every allocation, is turned off for it
# tests/cli.txt has one case a line: STATUS|ARGS|STDERR-SUBSTRING[|SETUP],
# where SETUP, if given, is shell run in the case's subshell just before
# shoal (to set a resource limit, point stdout elsewhere, or make a file in
# "$tmp" after a cd there).
#
# Usage: tests/e2e.sh SHOAL [PROGRAM ...]
# Ends with the line "N passed, N failed".
set -u
shoal=${1:?usage: tests/e2e.sh SHOAL [PROGRAM ...]}
shift
case $shoal in /*) ;; *) shoal=$PWD/$shoal ;; esac # a cli.txt SETUP may cd
here=$(cd "$(dirname "$0")" && pwd)
vms_list=${SHOAL_E2E_VMS:-"2 4"}
limit=${SHOAL_E2E_TIMEOUT:-120}
passed=0
failed=0
tmp=$(mktemp -d)
# Runs of this suite go one after another; a name of their own keeps them
# apart from other runs on the machine (two live runs cannot share a name).
export SHOAL_NAME=e2e-$$
trap 'rm -rf "$tmp"' EXIT

fail() {
    failed=$((failed + 1))
    echo "FAIL $1"
    shift
    for line in "$@"; do echo "    $line"; done
}

run_program() { # file flags...
    local f=$1
    shift
    local name="$f $*"
    local want_exit unordered args
    want_exit=$(sed -n 's/^; expect-exit: *//p' "$f" | head -n1)
    want_exit=${want_exit:-0}
    unordered=$(grep -c '^; expect-unordered' "$f")
    args=$(sed -n 's/^; args: *//p' "$f" | head -n1)
    local torture=${SHOAL_MIGRATE_TORTURE:-}
    if grep -q '^; placement' "$f"; then torture=; fi
    local gc_torture=${SHOAL_GC_TORTURE:-}
    if grep -q '^; exhausts-pool' "$f"; then gc_torture=; fi
    sed -n 's/^; expect: \{0,1\}//p' "$f" >"$tmp/want"
    sed -n 's/^; expect-stderr: *//p' "$f" >"$tmp/want_err"
    # shellcheck disable=SC2086
    if [ -n "$args" ]; then
        SHOAL_GC_TORTURE=$gc_torture SHOAL_MIGRATE_TORTURE=$torture timeout "$limit" "$shoal" run "$@" "$f" -- $args \
            >"$tmp/out" 2>"$tmp/err" </dev/null
    else
        SHOAL_GC_TORTURE=$gc_torture SHOAL_MIGRATE_TORTURE=$torture timeout "$limit" "$shoal" run "$@" "$f" \
            >"$tmp/out" 2>"$tmp/err" </dev/null
    fi
    local status=$?
    # Running more VMs than this machine has PUs is expected here (the
    # suite runs 4 VMs on 2 cores); its warning is not the program's stderr.
    grep -v '^shoal: warning: [0-9]* VMs on [0-9]* PUs; VMs share PUs$' "$tmp/err" >"$tmp/err2"
    mv "$tmp/err2" "$tmp/err"
    if [ "$unordered" -gt 0 ]; then
        sort "$tmp/want" -o "$tmp/want"
        sort "$tmp/out" -o "$tmp/out"
    fi
    local ok=1 why=()
    if [ "$status" != "$want_exit" ]; then
        ok=0
        why+=("exit status $status, expected $want_exit")
    fi
    if ! cmp -s "$tmp/want" "$tmp/out"; then
        ok=0
        why+=("stdout differs:" "$(diff "$tmp/want" "$tmp/out" | head -n 20)")
    fi
    if [ -s "$tmp/want_err" ]; then
        while IFS= read -r line; do
            if ! grep -qF -- "$line" "$tmp/err"; then
                ok=0
                why+=("stderr lacks: $line")
            fi
        done <"$tmp/want_err"
    elif [ -s "$tmp/err" ]; then
        ok=0
        why+=("unexpected stderr:" "$(head -n 10 "$tmp/err")")
    fi
    if [ $ok = 1 ]; then
        passed=$((passed + 1))
        [ -n "${SHOAL_E2E_VERBOSE:-}" ] && echo "ok   $name"
    else
        fail "$name" "${why[@]}"
    fi
}

programs=("$@")
if [ ${#programs[@]} -eq 0 ]; then
    programs=("$here"/programs/*.shoal)
fi
for f in "${programs[@]}"; do
    [ -e "$f" ] || continue
    f=${f#"$PWD/"}
    flags=$(sed -n 's/^; flags: *//p' "$f" | head -n1)
    with=$(sed -n 's/^; with: *//p' "$f" | head -n1)
    if [ -n "$flags" ]; then
        # shellcheck disable=SC2086
        run_program "$f" $flags
    else
        # shellcheck disable=SC2086
        for n in $vms_list; do run_program "$f" --vms "$n" $with; done
    fi
done

if [ $# -eq 0 ] && [ -f "$here/cli.txt" ]; then
    while IFS='|' read -r want args want_err setup; do
        case "$want" in ''|'#'*) continue ;; esac
        # shellcheck disable=SC2086
        (
            eval "$setup"
            exec timeout "$limit" "$shoal" $args
        ) >"$tmp/out" 2>"$tmp/err" </dev/null
        status=$?
        if [ "$status" != "$want" ]; then
            fail "shoal $args" "exit status $status, expected $want" "$(head -n 5 "$tmp/err")"
        elif [ -n "$want_err" ] && ! grep -qF -- "$want_err" "$tmp/err"; then
            fail "shoal $args" "stderr lacks: $want_err" "$(head -n 5 "$tmp/err")"
        else
            passed=$((passed + 1))
        fi
    done <"$here/cli.txt"
fi

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
