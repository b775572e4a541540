//! Warnings a peer can cause, rate limited node-wide.
//!
//! Anything a peer sends may make the node warn (a forged frame, a refused connection, a
//! dropped message). Counted per source address, an attacker rotating addresses writes one
//! line per address; counted per frame, a flood writes one line per frame. So each kind of
//! peer-caused warning has one [`Quiet`] limiter for the whole process: at most one line per
//! [`PERIOD`], and the next line that is let through says how many were held back since the
//! last one. A held-back warning is still counted in the node's stats where one exists; the
//! log only stays readable.

use std::sync::Mutex;
use std::time::{Duration, Instant};

/// At most one line per kind of warning in this period.
pub(crate) const PERIOD: Duration = Duration::from_secs(1);

/// One kind of peer-caused warning's limiter (a `static` at the warning's site).
pub(crate) struct Quiet {
    /// When the last line was written, and how many were held back since.
    state: Mutex<(Option<Instant>, u64)>,
}

impl Quiet {
    pub(crate) const fn new() -> Quiet {
        Quiet {
            state: Mutex::new((None, 0)),
        }
    }

    /// `Some(held back since the last line)` if a line may be written now; `None` (and the
    /// warning counted as held back) if one was written less than [`PERIOD`] ago.
    pub(crate) fn due(&self) -> Option<u64> {
        self.due_at(Instant::now())
    }

    fn due_at(&self, now: Instant) -> Option<u64> {
        let mut s = self.state.lock().unwrap_or_else(|p| p.into_inner());
        match s.0 {
            Some(last) if now.duration_since(last) < PERIOD => {
                s.1 += 1;
                None
            }
            _ => {
                let held = s.1;
                *s = (Some(now), 0);
                Some(held)
            }
        }
    }
}

/// `log::warn!` through a [`Quiet`] limiter: `warn_quietly!(LIMIT, "fmt", args...)` writes
/// the line with ` (N more like this held back)` appended when some were.
macro_rules! warn_quietly {
    ($quiet:expr, $($arg:tt)+) => {
        if let Some(held) = $quiet.due() {
            if held == 0 {
                log::warn!($($arg)+);
            } else {
                log::warn!("{} ({held} more like this in the last second(s) held back)", format_args!($($arg)+));
            }
        }
    };
}
pub(crate) use warn_quietly;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_line_per_period_then_the_count_of_what_was_held_back() {
        let q = Quiet::new();
        let t0 = Instant::now();
        assert_eq!(q.due_at(t0), Some(0));
        for i in 1..100 {
            assert_eq!(q.due_at(t0 + Duration::from_millis(i)), None);
        }
        assert_eq!(q.due_at(t0 + PERIOD + Duration::from_millis(1)), Some(99));
        assert_eq!(q.due_at(t0 + PERIOD + Duration::from_millis(2)), None);
    }
}
