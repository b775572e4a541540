//! Who is knocking: failed cookie proofs per source IP address, rate-limited with a token
//! bucket, and failed handshakes logged at most once per second per source (and once per
//! second node-wide, however many sources fail).
//!
//! Each *wrong cookie proof* takes a token from its source's bucket
//! ([`NodeOptions::failed_handshakes`], default 10 tokens, one back per second). A source
//! with no token left that has not proved the cookie recently (`door.rs`: not *known*) is
//! not heard: the listener closes its new connections at once, before any handshake. Other
//! failures (a bad `Hello`, a connection closed or timed out mid-handshake: a peer that
//! crashed) take no token, so a peer restarting after a crash is never locked out; what they
//! cost is a handshake slot for at most the deadline (`door.rs`). A successful handshake
//! costs nothing, and a known source is never closed unheard (a guesser behind the same NAT
//! address as a cluster member cannot lock that member out).
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
    /// The last failed-handshake line of the node, and the reports skipped since.
    node_log: Mutex<(Option<Instant>, u64)>,
}

/// What to log about a source, when a line is due.
pub(crate) struct Report {
    pub(crate) failed: u64,
    pub(crate) unheard: u64,
    /// Reports of other sources not logged since the node's last line.
    pub(crate) skipped: u64,
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
            skipped: 0,
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

    /// Has `ip` no failed-proof token left?
    pub(crate) fn penalised(&self, ip: IpAddr, opts: &NodeOptions) -> bool {
        let now = Instant::now();
        let mut map = self.lock();
        map.get_mut(&ip).is_some_and(|s| {
            s.refill(opts, now);
            s.tokens < 1.0
        })
    }

    /// A handshake from `ip` failed (`wrong_proof`: by a wrong cookie proof, which takes a
    /// token); `Some` when a log line is due (at most one per second per source, and one per
    /// second node-wide: `skipped` says how many reports of other sources were not logged).
    pub(crate) fn failed(
        &self,
        ip: IpAddr,
        opts: &NodeOptions,
        wrong_proof: bool,
    ) -> Option<Report> {
        let now = Instant::now();
        let report = {
            let mut map = self.lock();
            if map.len() >= MAX_SOURCES && !map.contains_key(&ip) {
                prune(&mut map, opts, now);
            }
            let s = map.entry(ip).or_insert_with(|| Source::new(opts, now));
            s.refill(opts, now);
            if wrong_proof {
                s.tokens = (s.tokens - 1.0).max(0.0);
            }
            s.failed += 1;
            s.report(now)
        }?;
        let mut node = self.node_log.lock().unwrap_or_else(|p| p.into_inner());
        if node.0.is_some_and(|t| now.duration_since(t) < LOG_EVERY) {
            node.1 += 1;
            return None;
        }
        node.0 = Some(now);
        Some(Report {
            skipped: std::mem::take(&mut node.1),
            ..report
        })
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
            lines += usize::from(s.failed(ip, &opts, true).is_some());
        }
        assert_eq!(lines, 1, "three failures within a second: one log line");
        assert!(matches!(s.admit(ip, &opts), Err(None)), "no token left");
        assert!(s.admit(other, &opts).is_ok(), "other sources are heard");
    }

    #[test]
    fn only_wrong_proofs_take_tokens_and_the_node_logs_once_a_second() {
        let opts = NodeOptions::default().failed_handshakes(1, Duration::from_secs(3600));
        let s = Sources::default();
        let ip: IpAddr = "127.0.0.1".parse().unwrap();
        for _ in 0..20 {
            s.failed(ip, &opts, false);
        }
        assert!(
            s.admit(ip, &opts).is_ok(),
            "crashes and timeouts take no token"
        );
        assert!(!s.penalised(ip, &opts));
        s.failed(ip, &opts, true);
        assert!(s.penalised(ip, &opts));
        let mut lines = 0;
        for i in 0..100u32 {
            let other = IpAddr::from((0x7f02_0000 + i).to_be_bytes());
            lines += usize::from(s.failed(other, &opts, true).is_some());
        }
        assert!(lines <= 1, "{lines} lines for 100 sources within a second");
    }

    #[test]
    fn tokens_come_back() {
        let opts = NodeOptions::default().failed_handshakes(1, Duration::ZERO);
        let s = Sources::default();
        let ip: IpAddr = "127.0.0.1".parse().unwrap();
        s.failed(ip, &opts, true);
        assert!(s.admit(ip, &opts).is_ok());
    }

    #[test]
    fn the_table_is_bounded() {
        let opts = NodeOptions::default().failed_handshakes(1, Duration::from_secs(3600));
        let s = Sources::default();
        for i in 0..(MAX_SOURCES as u32 + 100) {
            s.failed(IpAddr::from(i.to_be_bytes()), &opts, true);
        }
        assert!(s.lock().len() <= MAX_SOURCES);
    }
}
