//! Who is knocking: failed handshakes per source IP address, rate-limited with a token
//! bucket, and logged at most once per second per source.
//!
//! Each failed handshake (wrong cookie, false identity, bad protocol, deadline passed) takes
//! a token from its source's bucket ([`NodeOptions::failed_handshakes`], default 10 tokens,
//! one back per second). A source with no token left is not heard: the listener closes its
//! new connections at once, before any handshake. A successful handshake costs nothing.
//!
//! The table is bounded: past [`MAX_SOURCES`] entries, sources whose bucket has refilled are
//! forgotten first; if every entry is still penalised, the oldest-reported ones go.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::NodeOptions;

/// Most sources remembered at once (about 100 B each).
pub(crate) const MAX_SOURCES: usize = 4096;

/// How often one source's failures may be logged.
const LOG_EVERY: Duration = Duration::from_secs(1);

struct Source {
    tokens: f64,
    refilled: Instant,
    last_log: Option<Instant>,
    /// Failures and unheard connections since the last log line.
    failed: u64,
    unheard: u64,
}

/// The failed-handshake table of one node.
#[derive(Default)]
pub(crate) struct Sources {
    map: Mutex<HashMap<IpAddr, Source>>,
    busy_log: Mutex<Option<Instant>>,
}

/// What to log about a source, when a line is due.
pub(crate) struct Report {
    pub(crate) failed: u64,
    pub(crate) unheard: u64,
}

impl Source {
    fn new(opts: &NodeOptions, now: Instant) -> Self {
        Source {
            tokens: f64::from(opts.failed_handshake_burst),
            refilled: now,
            last_log: None,
            failed: 0,
            unheard: 0,
        }
    }

    fn refill(&mut self, opts: &NodeOptions, now: Instant) {
        let burst = f64::from(opts.failed_handshake_burst);
        let per = opts.failed_handshake_refill.as_secs_f64();
        let gained = if per > 0.0 {
            now.duration_since(self.refilled).as_secs_f64() / per
        } else {
            burst
        };
        self.tokens = (self.tokens + gained).min(burst);
        self.refilled = now;
    }

    fn report(&mut self, now: Instant) -> Option<Report> {
        if self
            .last_log
            .is_some_and(|t| now.duration_since(t) < LOG_EVERY)
        {
            return None;
        }
        self.last_log = Some(now);
        Some(Report {
            failed: std::mem::take(&mut self.failed),
            unheard: std::mem::take(&mut self.unheard),
        })
    }
}

impl Sources {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<IpAddr, Source>> {
        self.map.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// May a new connection from `ip` be heard? If not, it is counted (for the next log
    /// line), and the caller closes it; `Some` when a log line is due.
    pub(crate) fn admit(&self, ip: IpAddr, opts: &NodeOptions) -> Result<(), Option<Report>> {
        let now = Instant::now();
        let mut map = self.lock();
        let Some(s) = map.get_mut(&ip) else {
            return Ok(());
        };
        s.refill(opts, now);
        if s.tokens >= 1.0 {
            return Ok(());
        }
        s.unheard += 1;
        Err(s.report(now))
    }

    /// A handshake from `ip` failed: take a token; `Some` when a log line is due.
    pub(crate) fn failed(&self, ip: IpAddr, opts: &NodeOptions) -> Option<Report> {
        let now = Instant::now();
        let mut map = self.lock();
        if map.len() >= MAX_SOURCES && !map.contains_key(&ip) {
            prune(&mut map, opts, now);
        }
        let s = map.entry(ip).or_insert_with(|| Source::new(opts, now));
        s.refill(opts, now);
        s.tokens = (s.tokens - 1.0).max(0.0);
        s.failed += 1;
        s.report(now)
    }

    /// Is a "too many handshakes in progress" line due (at most one per second per node)?
    pub(crate) fn busy_log_due(&self) -> bool {
        let now = Instant::now();
        let mut last = self.busy_log.lock().unwrap_or_else(|p| p.into_inner());
        if last.is_some_and(|t| now.duration_since(t) < LOG_EVERY) {
            return false;
        }
        *last = Some(now);
        true
    }
}

fn prune(map: &mut HashMap<IpAddr, Source>, opts: &NodeOptions, now: Instant) {
    let burst = f64::from(opts.failed_handshake_burst);
    map.retain(|_, s| {
        s.refill(opts, now);
        s.tokens < burst
    });
    if map.len() >= MAX_SOURCES {
        let mut by_age: Vec<(IpAddr, Option<Instant>)> =
            map.iter().map(|(ip, s)| (*ip, s.last_log)).collect();
        by_age.sort_by_key(|(_, t)| *t);
        for (ip, _) in by_age.into_iter().take(MAX_SOURCES / 4) {
            map.remove(&ip);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_source_is_unheard_after_its_burst_and_logged_once_per_second() {
        let opts = NodeOptions::default().failed_handshakes(3, Duration::from_secs(3600));
        let s = Sources::default();
        let ip: IpAddr = "127.0.0.1".parse().unwrap();
        let other: IpAddr = "127.0.0.2".parse().unwrap();
        assert!(s.admit(ip, &opts).is_ok());
        let mut lines = 0;
        for _ in 0..3 {
            lines += usize::from(s.failed(ip, &opts).is_some());
        }
        assert_eq!(lines, 1, "three failures within a second: one log line");
        assert!(matches!(s.admit(ip, &opts), Err(None)), "no token left");
        assert!(s.admit(other, &opts).is_ok(), "other sources are heard");
    }

    #[test]
    fn tokens_come_back() {
        let opts = NodeOptions::default().failed_handshakes(1, Duration::ZERO);
        let s = Sources::default();
        let ip: IpAddr = "127.0.0.1".parse().unwrap();
        s.failed(ip, &opts);
        assert!(s.admit(ip, &opts).is_ok());
    }

    #[test]
    fn the_table_is_bounded() {
        let opts = NodeOptions::default().failed_handshakes(1, Duration::from_secs(3600));
        let s = Sources::default();
        for i in 0..(MAX_SOURCES as u32 + 100) {
            s.failed(IpAddr::from(i.to_be_bytes()), &opts);
        }
        assert!(s.lock().len() <= MAX_SOURCES);
    }
}
