#!/usr/bin/env bash
# pyact vs Erlang/OTP on the same box: the table of issue 9 (and BENCHMARKS.md).
#
#   benches/compare.sh [ROUNDS]          # default 5 rounds; prints medians and ratios
#   PYACT_EXAMPLES=DIR benches/compare.sh   # pyact binaries from DIR (see below)
#   LOAD=2 benches/compare.sh            # every row beside 2 busy processes (issue 19: how
#                                        # each side holds up on a loaded box); LOAD=N, N>=1
#   RING_1M=1 benches/compare.sh         # also the 1M rings, whole process (1 run per side;
#                                        # before Linux 6.13 pyact needs vm.max_map_count
#                                        # >= 2,200,000: the ring says so and is skipped)
#
# Every workload runs in its own process, timed inside the program (pyact:
# examples/workload.rs, examples/ring.rs; Erlang: benches/erlang/bench.erl). Each round runs
# pyact and Erlang back to back, alternating which goes first, so both see the same load.
# Remote rows use two processes over 127.0.0.1 only (pyact nodes on port 0; Erlang
# distribution with epmd and the node listener bound to 127.0.0.1).
# Ratios are pyact time / Erlang time (below 1 = pyact faster); for msgs/s, Erlang's rate
# over pyact's, so the same reading holds.
# TLS=1 benches/compare.sh also runs the remote rows over encrypted links (feature tls;
# `workload certs DIR` makes the certificates): pyact with TLS against Erlang's plain
# distribution, as issue 19 states its goal (TLS one-way >= 2x Erlang's plain rate), then
# TLS against plain TCP alternated round by round in one process (`cargo bench --features
# tls --bench remote_tls -- ROUNDS`).
set -u
cd "$(dirname "$0")/.."
ROUNDS=${1:-5}
TMP=$(mktemp -d)
trap 'cleanup' EXIT

HAVE_ERL=1
if ! command -v erl >/dev/null || ! command -v erlc >/dev/null; then
    echo "!! erl/erlc not found: the Erlang column is skipped."
    echo "!! Install Erlang/OTP, e.g. on Debian/Ubuntu: apt-get install erlang-base"
    HAVE_ERL=0
fi

# PYACT_EXAMPLES=DIR uses the workload and ring binaries in DIR (another build, e.g. of an
# older commit, to compare before/after against Erlang in alternating runs) instead of
# building this tree's.
# With TLS=1 the workload built with --features tls is DIR/workload-tls.
if [ -n "${PYACT_EXAMPLES:-}" ]; then
    W=$PYACT_EXAMPLES/workload
    RING=$PYACT_EXAMPLES/ring
    WT=$PYACT_EXAMPLES/workload-tls
else
    echo "building pyact examples (release)..." >&2
    WT=$TMP/workload-tls
    if [ "${TLS:-0}" = 1 ]; then
        # first, so that target/release/examples/workload is the plain build below
        cargo build -q --release --features tls --example workload &&
            cp target/release/examples/workload "$WT" || exit 1
    fi
    cargo build -q --release --example workload --example ring || exit 1
    W=target/release/examples/workload
    RING=target/release/examples/ring
fi
if [ $HAVE_ERL = 1 ]; then
    erlc -o "$TMP" benches/erlang/bench.erl || exit 1
    export ERL_EPMD_ADDRESS=127.0.0.1
    EPMD_WAS_UP=0
    epmd -names >/dev/null 2>&1 && EPMD_WAS_UP=1
    ERL="erl -noshell -pa $TMP +P 2000000"
    ERLD="$ERL -setcookie pyactbench -kernel inet_dist_use_interface {127,0,0,1}"
fi

cleanup() {
    exec 3>&- 4>&- 5>&- 2>/dev/null
    for p in ${LOAD_PIDS:-}; do kill "$p" 2>/dev/null; done
    sleep 0.5
    [ -n "${PSERVE_PID:-}" ] && kill "$PSERVE_PID" 2>/dev/null
    [ -n "${ESERVE_PID:-}" ] && kill "$ESERVE_PID" 2>/dev/null
    [ -n "${TSERVE_PID:-}" ] && kill "$TSERVE_PID" 2>/dev/null
    if [ $HAVE_ERL = 1 ] && [ "${EPMD_WAS_UP:-1}" = 0 ]; then epmd -kill >/dev/null 2>&1; fi
    rm -rf "$TMP"
}

# key value output -> value of key
val() { awk -v k="$1" '$1 == k { print $2 }' "$2"; }
# append a sample: rec ROW SIDE VALUE
rec() { [ -n "$3" ] && echo "$3" >>"$TMP/$1.$2"; }
median() {
    [ -s "$1" ] || { echo ""; return; }
    sort -g "$1" | awk '{ a[NR] = $1 } END { if (NR % 2) print a[(NR + 1) / 2]; else print (a[NR / 2] + a[NR / 2 + 1]) / 2 }'
}

# LOAD=N: N busy processes (one spinning shell each, at normal priority) for the whole run,
# so both sides are measured on a box with N more runnable tasks; killed on every exit path.
LOAD_PIDS=""
if [ "${LOAD:-0}" -gt 0 ] 2>/dev/null; then
    for _ in $(seq "$LOAD"); do
        sh -c 'while :; do :; done' &
        LOAD_PIDS="$LOAD_PIDS $!"
    done
    echo "running beside $LOAD busy processes (LOAD=$LOAD)" >&2
fi

# servers for the remote rows, alive for the whole run; they end when their stdin closes
exec 3> >(exec $W serve >"$TMP/pserve.out" 2>&1)
PSERVE_PID=$!
if [ $HAVE_ERL = 1 ]; then
    exec 4> >(exec $ERLD -name serve@127.0.0.1 -run bench main serve >"$TMP/eserve.out" 2>&1)
    ESERVE_PID=$!
fi
if [ "${TLS:-0}" = 1 ]; then
    if "$WT" certs "$TMP/certs"; then
        exec 5> >(PYACT_TLS=$TMP/certs exec "$WT" serve >"$TMP/tserve.out" 2>&1)
        TSERVE_PID=$!
    else
        echo "!! $WT certs failed: no TLS rows"
    fi
fi
for _ in $(seq 100); do
    grep -q ready "$TMP/pserve.out" 2>/dev/null && { [ $HAVE_ERL = 0 ] || grep -q ready "$TMP/eserve.out" 2>/dev/null; } &&
        { [ -z "${TSERVE_PID:-}" ] || grep -q ready "$TMP/tserve.out" 2>/dev/null; } && break
    sleep 0.1
done
PNODE=$(val ready "$TMP/pserve.out")
ENODE=$( [ $HAVE_ERL = 1 ] && val ready "$TMP/eserve.out")
TNODE=$( [ -n "${TSERVE_PID:-}" ] && val ready "$TMP/tserve.out")

pyact_round() {
    local o="$TMP/out"
    $W spawn 10000 >"$o" && rec spawn p "$(val us_per_actor "$o")"
    $RING 10000 >"$o" && {
        rec ring_build p "$(val build_s "$o")"
        rec ring_pass p "$(val pass_s "$o")"
        rec ring_total p "$(awk '$1=="build_s"{b=$2} $1=="pass_s"{p=$2} END{print b+p}' "$o")"
    }
    $RING 10000 --start-on-message >"$o" && {
        rec ringd_pass p "$(val pass_s "$o")"
        rec ringd_total p "$(awk '$1=="build_s"{b=$2} $1=="pass_s"{p=$2} END{print b+p}' "$o")"
    }
    $W idle 100000 >"$o" && rec idle p "$(val kib_per_actor "$o")"
    $W idle-dormant 100000 >"$o" && rec idled p "$(val kib_per_actor "$o")"
    $W idle-hibernated 100000 >"$o" && rec idleh p "$(val kib_per_actor "$o")"
    $W pingpong 200000 >"$o" && rec pingpong p "$(val us_per_round_trip "$o")"
    [ -n "$PNODE" ] && timeout 120 $W roundtrip "$PNODE" 10000 >"$o" && rec rtt p "$(val us_per_round_trip "$o")"
    [ -n "$PNODE" ] && timeout 120 $W oneway "$PNODE" 200000 >"$o" && rec oneway p "$(val msgs_per_s "$o")"
    [ -n "$TNODE" ] && PYACT_TLS=$TMP/certs timeout 120 "$WT" roundtrip "$TNODE" 10000 >"$o" && rec rtt_tls p "$(val us_per_round_trip "$o")"
    [ -n "$TNODE" ] && PYACT_TLS=$TMP/certs timeout 120 "$WT" oneway "$TNODE" 200000 >"$o" && rec oneway_tls p "$(val msgs_per_s "$o")"
    return 0
}

erlang_round() {
    local o="$TMP/out" r=$1
    $ERL -run bench main spawn 10000 >"$o" && rec spawn e "$(val us_per_actor "$o")"
    $ERL -run bench main ring 10000 >"$o" && {
        rec ring_build e "$(val build_s "$o")"
        rec ring_pass e "$(val pass_s "$o")"
        rec ring_total e "$(awk '$1=="build_s"{b=$2} $1=="pass_s"{p=$2} END{print b+p}' "$o")"
    }
    $ERL -run bench main idle 100000 >"$o" && rec idle e "$(val kib_per_actor "$o")"
    $ERL -run bench main idle_hibernated 100000 >"$o" && rec idleh e "$(val kib_per_actor "$o")"
    $ERL -run bench main pingpong 200000 >"$o" && rec pingpong e "$(val us_per_round_trip "$o")"
    [ -n "$ENODE" ] && timeout 120 $ERLD -name "rtt$r@127.0.0.1" -run bench main roundtrip "$ENODE" 10000 >"$o" && rec rtt e "$(val us_per_round_trip "$o")"
    [ -n "$ENODE" ] && timeout 120 $ERLD -name "ow$r@127.0.0.1" -run bench main oneway "$ENODE" 200000 >"$o" && rec oneway e "$(val msgs_per_s "$o")"
}

for r in $(seq "$ROUNDS"); do
    echo "round $r/$ROUNDS" >&2
    if [ $HAVE_ERL = 0 ]; then pyact_round
    elif [ $((r % 2)) = 1 ]; then pyact_round; erlang_round "$r"
    else erlang_round "$r"; pyact_round; fi
done

if [ "${RING_1M:-0}" = 1 ]; then
    echo "ring 1M (one run per side)..." >&2
    # The ring itself checks pyact's live-actor limit (from vm.max_map_count) and prints
    # the sysctl to run if 1M actors do not fit.
    /usr/bin/time -f "wall %e\nmaxrss_kib %M" -o "$TMP/t" $RING 1000000 >"$TMP/out" &&
        { rec ring1m_wall p "$(val wall "$TMP/t")"; rec ring1m_rss p "$(val maxrss_kib "$TMP/t")"; }
    /usr/bin/time -f "wall %e\nmaxrss_kib %M" -o "$TMP/t" $RING 1000000 --start-on-message >"$TMP/out" &&
        { rec ringd1m_wall p "$(val wall "$TMP/t")"; rec ringd1m_rss p "$(val maxrss_kib "$TMP/t")"; }
    if [ $HAVE_ERL = 1 ]; then
        /usr/bin/time -f "wall %e\nmaxrss_kib %M" -o "$TMP/t" $ERL -run bench main ring 1000000 >"$TMP/out" &&
            { rec ring1m_wall e "$(val wall "$TMP/t")"; rec ring1m_rss e "$(val maxrss_kib "$TMP/t")"; }
    fi
fi

# row: label, sample name, unit, scale (value*scale is shown), "time" or "rate", and
# optionally Erlang's sample name when it differs (Erlang has no actor that starts on its
# first message: its plain ring and idle process are the reference for those rows)
row() {
    local p e ratio
    p=$(median "$TMP/$2.p"); e=$(median "$TMP/${6:-$2}.e")
    ratio=$(awk -v p="$p" -v e="$e" -v k="$5" 'BEGIN { if (p == "" || e == "" || p == 0 || e == 0) print "-"; else if (k == "rate") printf "%.2fx", e / p; else printf "%.2fx", p / e }')
    printf "| %-40s | %14s | %14s | %8s |\n" "$1" \
        "$(awk -v v="$p" -v s="$4" -v u="$3" 'BEGIN { if (v == "") print "-"; else printf "%.3g %s", v * s, u }')" \
        "$(awk -v v="$e" -v s="$4" -v u="$3" 'BEGIN { if (v == "") print "-"; else printf "%.3g %s", v * s, u }')" \
        "$ratio"
}

echo
echo "medians of $ROUNDS rounds; $(nproc) cores; load average now: $(cut -d' ' -f1-3 /proc/loadavg)"
[ $HAVE_ERL = 1 ] && echo "Erlang/OTP $(erl -noshell -eval 'io:put_chars(erlang:system_info(otp_release)), halt().')"
echo
printf "| %-40s | %14s | %14s | %8s |\n" "workload" "pyact" "Erlang" "pyact/Erlang"
echo "|---|---|---|---|"
row "spawn + exit + wait, per actor (10k)" spawn "us" 1 time
row "ring 10k: build" ring_build "ms" 1000 time
row "ring 10k: pass" ring_pass "ms" 1000 time
row "ring 10k: build + pass" ring_total "ms" 1000 time
[ "${RING_1M:-0}" = 1 ] && row "ring 1M: whole process, wall" ring1m_wall "s" 1 time
[ "${RING_1M:-0}" = 1 ] && row "ring 1M: whole process, peak RSS" ring1m_rss "GiB" "$(awk 'BEGIN{print 1/1048576}')" time
row "ring 10k, start on message: pass" ringd_pass "ms" 1000 time ring_pass
row "ring 10k, start on message: build + pass" ringd_total "ms" 1000 time ring_total
[ "${RING_1M:-0}" = 1 ] && row "ring 1M, start on message: wall" ringd1m_wall "s" 1 time ring1m_wall
[ "${RING_1M:-0}" = 1 ] && row "ring 1M, start on message: peak RSS" ringd1m_rss "GiB" "$(awk 'BEGIN{print 1/1048576}')" time ring1m_rss
row "idle actor, resident (100k)" idle "KiB" 1 time
row "idle actor, start on message (100k)" idled "KiB" 1 time idle
row "idle actor, hibernated (100k)" idleh "KiB" 1 time
row "ping-pong, round trip" pingpong "us" 1 time
row "remote round trip, two processes" rtt "us" 1 time
row "remote one-way, two processes" oneway "M msg/s" 0.000001 rate
if [ -n "$TNODE" ]; then
    # Erlang's column: its plain distribution (its TLS distribution needs a certificate setup
    # of its own; the goal compares against plain)
    row "remote round trip, TLS, two processes" rtt_tls "us" 1 time rtt
    row "remote one-way, TLS, two processes" oneway_tls "M msg/s" 0.000001 rate oneway
fi

# TLS=1, second part: encrypted links against plain TCP in one process (issue 17's goal:
# round trip within 1.3x, one-way at least 0.7x), the same number of rounds, alternated
# inside the bench.
if [ "${TLS:-0}" = 1 ]; then
    echo
    cargo bench -q --features tls --bench remote_tls -- "$ROUNDS" 2>/dev/null ||
        echo "!! the TLS rows failed to build or run (cargo bench --features tls --bench remote_tls)"
fi
