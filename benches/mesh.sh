#!/usr/bin/env bash
# A mesh of N OS processes (one pyact node each, workers(1)) on 127.0.0.1, joined through
# one seed: time to full mesh, a global name and a group member on every node seen by every
# node, idle CPU% and RSS per node over 10 s, then three nodes killed with SIGKILL and the
# time until every other node has dropped them, their names and their members.
#
#   benches/mesh.sh N [seed|all] [IDLE_SECS]
#
# `all` wires every pair by hand instead of joining through the seed (the old way).
# The driver (examples/mesh.rs) kills its nodes on every exit path and each node exits when
# the driver's pipe closes; this script also kills the whole process group on exit or
# interrupt, and bounds the run with `timeout`.
set -euo pipefail
N=${1:-30}
MODE=${2:-seed}
IDLE=${3:-10}
cd "$(dirname "$0")/.."
cargo build --release --quiet --example mesh
BIN=${CARGO_TARGET_DIR:-target}/release/examples/mesh
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"
# setsid: the driver and its nodes in their own process group, killed as one.
setsid timeout --kill-after=5 600 "$BIN" "$N" "$MODE" "$IDLE" &
PGID=$!
trap 'kill -KILL -- -"$PGID" 2>/dev/null || true' EXIT INT TERM
wait "$PGID"
