//! Shared helpers for the `harness = false` benches: rounds, medians, formatting, the
//! configured stack size and resident memory. Each bench binary uses only part of it.
#![allow(dead_code)]

use std::time::Duration;

/// Number of rounds: `PYACT_BENCH_ROUNDS` or `default`.
pub fn rounds(default: usize) -> usize {
    env_usize("PYACT_BENCH_ROUNDS", default).max(1)
}

/// A `usize` from the environment, or `default`.
pub fn env_usize(name: &str, default: usize) -> usize {
    match std::env::var(name) {
        Ok(s) => s
            .replace('_', "")
            .parse()
            .unwrap_or_else(|_| panic!("{name}={s:?} is not a number")),
        Err(_) => default,
    }
}

/// Run every function once unrecorded (warm-up; `PYACT_BENCH_WARMUP=0` skips it), then
/// `rounds` recorded rounds, rotating which function goes first each round (a,b,c / b,c,a /
/// ...) so that none profits from always following another. Returns the samples of each
/// function, in `fs` order.
pub fn rotate<T>(rounds: usize, fs: &mut [&mut dyn FnMut() -> T]) -> Vec<Vec<T>> {
    for _ in 0..env_usize("PYACT_BENCH_WARMUP", 1) {
        for f in fs.iter_mut() {
            let _ = f();
        }
    }
    let k = fs.len();
    let mut out: Vec<Vec<T>> = (0..k).map(|_| Vec::with_capacity(rounds)).collect();
    for r in 0..rounds {
        for j in 0..k {
            let i = (r + j) % k;
            out[i].push(fs[i]());
        }
    }
    out
}

/// [`rotate`] for two functions: their samples.
pub fn alternate<T>(
    rounds: usize,
    mut a: impl FnMut() -> T,
    mut b: impl FnMut() -> T,
) -> (Vec<T>, Vec<T>) {
    let mut v = rotate(rounds, &mut [&mut a, &mut b]);
    let sb = v.pop().expect("two");
    let sa = v.pop().expect("two");
    (sa, sb)
}

/// Median of some durations (mean of the two middle ones for an even count).
pub fn median(v: &[Duration]) -> Duration {
    let mut s = v.to_vec();
    s.sort();
    let n = s.len();
    assert!(n > 0, "median of nothing");
    if n % 2 == 1 {
        s[n / 2]
    } else {
        (s[n / 2 - 1] + s[n / 2]) / 2
    }
}

/// Median of one field of the samples.
pub fn median_of<T>(samples: &[T], field: impl Fn(&T) -> Duration) -> Duration {
    median(&samples.iter().map(field).collect::<Vec<_>>())
}

/// Microseconds per item.
pub fn us_per(d: Duration, n: usize) -> f64 {
    d.as_secs_f64() * 1e6 / n as f64
}

/// Milliseconds.
pub fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// `pyact / bare`.
pub fn ratio(pyact: Duration, bare: Duration) -> f64 {
    pyact.as_secs_f64() / bare.as_secs_f64()
}

/// "PASS"/"FAIL" against a floor on the ratio.
pub fn verdict(ratio: f64, floor: f64) -> &'static str {
    if ratio <= floor { "PASS" } else { "FAIL" }
}

/// The stack size, in bytes, `may` gives a coroutine spawned with the default config.
pub fn may_default_stack_bytes() -> usize {
    may::config().get_stack_size() * std::mem::size_of::<usize>()
}

/// The stack size, in bytes, of the coroutine this is called in (`None` on a thread).
pub fn current_stack_bytes() -> Option<usize> {
    may::coroutine::is_coroutine()
        .then(|| may::coroutine::current().stack_size() * std::mem::size_of::<usize>())
}

/// Human-readable bytes (KiB / MiB).
pub fn bytes(b: usize) -> String {
    if b >= 1 << 20 && b.is_multiple_of(1 << 20) {
        format!("{} MiB", b >> 20)
    } else {
        format!("{} KiB", b >> 10)
    }
}

/// `VmRSS` of this process, in KiB.
pub fn rss_kib() -> usize {
    let status = std::fs::read_to_string("/proc/self/status").expect("read /proc/self/status");
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS in /proc/self/status")
}

/// The header every bench prints.
pub fn header(name: &str, what: &str) {
    println!("== {name}: {what}");
    println!(
        "   machine: {} cores (may workers: {}), profile: {}",
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(0),
        may::config().get_workers(),
        if cfg!(debug_assertions) {
            "debug"
        } else {
            "release"
        },
    );
}
