#!/usr/bin/env bash
# Before/after: the pyact rows of benches/compare.sh for two builds, alternated round by round
# (A first on odd rounds), so both see the same load. DIR_A and DIR_B hold release binaries
# `workload` and `ring` (e.g. target/release/examples of two commits). Prints medians and B/A.
#
#   benches/ab.sh DIR_A DIR_B [ROUNDS]
A=$1; B=$2; N=${3:-8}; T=$(mktemp -d)
# The two servers end when their stdin (fds 3 and 4) closes; on every exit path.
trap 'exec 3>&- 4>&- 2>/dev/null; rm -rf "$T"' EXIT
val() { awk -v k="$1" '$1 == k { print $2 }' "$2"; }
median() { sort -g "$1" | awk '{a[NR]=$1} END {if (NR%2) print a[(NR+1)/2]; else print (a[NR/2]+a[NR/2+1])/2}'; }
# B's server must not inherit fd 3 (A's pipe): with one more descriptor its sockets land on
# the other worker (may assigns a socket to worker fd % workers), and whether client and
# server workers share a CPU moves the round trip (may/PYACT-PATCH.md, tenth patch).
exec 3> >(exec $A/workload serve >"$T/sa" 2>&1); exec 4> >(exec $B/workload serve >"$T/sb" 2>&1 3>&-)
for _ in $(seq 100); do grep -q ready $T/sa 2>/dev/null && grep -q ready $T/sb 2>/dev/null && break; sleep 0.1; done
NA=$(val ready $T/sa); NB=$(val ready $T/sb)
run() { # side dir node
  local s=$1 d=$2 n=$3 o=$T/o
  $d/workload spawn 10000 >$o && val us_per_actor $o >>$T/spawn.$s
  $d/ring 10000 >$o && awk '$1=="build_s"{b=$2} $1=="pass_s"{p=$2} END{print b+p}' $o >>$T/ring.$s
  $d/workload idle 100000 >$o && val kib_per_actor $o >>$T/idle.$s
  $d/workload pingpong 200000 >$o && val us_per_round_trip $o >>$T/pingpong.$s
  timeout 120 $d/workload roundtrip $n 10000 >$o && val us_per_round_trip $o >>$T/rtt.$s
  timeout 120 $d/workload oneway $n 200000 >$o && val msgs_per_s $o >>$T/oneway.$s
}
for r in $(seq $N); do
  if [ $((r%2)) = 1 ]; then run a $A $NA; run b $B $NB; else run b $B $NB; run a $A $NA; fi
done
exec 3>&- 4>&-
for row in spawn ring idle pingpong rtt oneway; do
  ma=$(median $T/$row.a); mb=$(median $T/$row.b)
  echo "$row A=$ma B=$mb B/A=$(awk -v a=$ma -v b=$mb 'BEGIN{printf "%.3f", b/a}')"
done
rm -rf $T
