//! Actor panics: reported through `log` (or stderr without a logger), not through Rust's
//! panic hook.
//!
//! A panic in an actor ends that actor with [`ExitReason::Panicked`](crate::ExitReason) and
//! is reported once (address, registered name, message) when the actor ends: with
//! `log::error!`, or on stderr without a logger (below). Rust's default hook would also print "thread panicked at ..." (with a full backtrace
//! when `RUST_BACKTRACE` is set) for every one: 10,000 crashing actors made 879 KB of stderr
//! noise. So pyact installs a hook, once, that *chains* the hook in force when the runtime
//! starts: for a panic raised in an actor's coroutine it does nothing (unless
//! [`Config::panic_output`](crate::config::Config::panic_output) keeps it); for every other panic it
//! calls the previous hook, so the user's hook and panics outside actors are untouched.
//!
//! A hook installed by the user *after* the runtime started replaces pyact's (Rust has one
//! hook per process); it then sees actor panics too.
//!
//! ## Visible without a logger
//!
//! The report goes through `log::error!` when that reaches a logger, and to stderr (one line,
//! `pyact: actor <address> [(registered as "<name>")] panicked: <message>`) when it would
//! not: no logger is installed (the first program anyone writes), or the installed one drops
//! errors from pyact. Never both, so with a logger the crash appears once, in its output.
//! The test is `log::log_enabled!(Error)` rather than `log::max_level() == Off`: it also
//! asks the logger's own filter, so a logger that silences pyact does not silence its
//! crashes. A program that wants no output for actor panics at all installs a logger that
//! accepts pyact's errors and discards them.

use std::sync::Once;

/// Install the chaining hook (once per process).
pub(crate) fn install(keep_output: bool) {
    static ONCE: Once = Once::new();
    if keep_output {
        return;
    }
    ONCE.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if !crate::context::in_actor() {
                previous(info);
            }
        }));
    });
}

/// Report an actor's panic (`line`: address, name, message): through `log::error!` if a
/// logger would show it, else on stderr (see the module docs). Exactly one of the two.
pub(crate) fn report(line: &str) {
    // The target the report always had (filters may name it).
    if log::log_enabled!(target: "pyact::actor", log::Level::Error) {
        log::error!(target: "pyact::actor", "{line}");
    } else {
        // A crash must be visible: with no logger, the log record would go nowhere.
        eprintln!("pyact: {line}");
    }
}
