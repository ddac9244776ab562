#!/usr/bin/env bash
# Installs what shoal needs on a Debian machine, only where it is missing.
# Usage: scripts/deps.sh [--bench | --fuzz]
#   --bench adds the peers, erlang-nox and lua5.4, and gnuplot-nox for make bench-plot
#   --fuzz adds clang and its libFuzzer and sanitizer runtimes (make fuzz)
set -eu
pkgs="build-essential libck-dev libhwloc-dev hwloc libgoogle-perftools-dev libcunit1-dev libinih-dev libxxhash-dev libjansson-dev jq tmux util-linux python3"
if [ "${1:-}" = "--bench" ]; then pkgs="$pkgs erlang-nox lua5.4 gnuplot-nox"; fi
if [ "${1:-}" = "--fuzz" ]; then pkgs="$pkgs clang libclang-rt-dev"; fi
missing=""
for p in $pkgs; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
echo "deps: installing$missing"
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq $missing
