//! A logger that records pyact's log lines as text, for tests that assert what was logged.
//! A logger is process-wide, so a test binary that uses this one records at one level.

// Not every test binary that includes `common` records logs.
#![allow(dead_code)]

use std::sync::{Mutex, OnceLock};

/// Every line logged at the installed level or more severe.
struct Recorder {
    level: log::LevelFilter,
    lines: Mutex<Vec<String>>,
}

impl log::Log for Recorder {
    fn enabled(&self, m: &log::Metadata) -> bool {
        m.level() <= self.level
    }
    fn log(&self, r: &log::Record) {
        if self.enabled(r.metadata()) {
            self.lines.lock().unwrap().push(r.args().to_string());
        }
    }
    fn flush(&self) {}
}

static RECORDER: OnceLock<&'static Recorder> = OnceLock::new();

/// Install the recorder at `level` (once per process; later calls keep the first level).
pub fn record(level: log::LevelFilter) {
    RECORDER.get_or_init(|| {
        let r: &'static Recorder = Box::leak(Box::new(Recorder {
            level,
            lines: Mutex::default(),
        }));
        log::set_logger(r).unwrap();
        log::set_max_level(level);
        r
    });
}

/// How many recorded lines satisfy `f`.
pub fn count(f: impl Fn(&str) -> bool) -> usize {
    RECORDER
        .get()
        .expect("logs::record was not called")
        .lines
        .lock()
        .unwrap()
        .iter()
        .filter(|l| f(l))
        .count()
}
