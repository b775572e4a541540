//! Actor panics: reported through `log`, not through Rust's panic hook.
//!
//! A panic in an actor ends that actor with [`ExitReason::Panicked`](crate::ExitReason) and
//! is reported once with `log::error!` (address, registered name, message) when the actor
//! ends. Rust's default hook would also print "thread panicked at ..." (with a full backtrace
//! when `RUST_BACKTRACE` is set) for every one: 10,000 crashing actors made 879 KB of stderr
//! noise. So pyact installs a hook, once, that *chains* the hook in force when the runtime
//! starts: for a panic raised in an actor's coroutine it does nothing (unless
//! [`Config::panic_output`](crate::Config::panic_output) keeps it); for every other panic it
//! calls the previous hook, so the user's hook and panics outside actors are untouched.
//!
//! A hook installed by the user *after* the runtime started replaces pyact's (Rust has one
//! hook per process); it then sees actor panics too.

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
            if !crate::actor::in_actor() {
                previous(info);
            }
        }));
    });
}
