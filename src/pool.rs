//! Reuse of finished coroutines: a spawn takes a parked stack instead of mapping a new one.
//!
//! Why: a fresh coroutine costs an `mmap` of its stack, an `mprotect` for the guard page and
//! the page faults that zero the pages it touches; a coroutine that ends and is not kept
//! costs a `munmap`, which also flushes the address-translation caches of every core. That
//! was ~10 µs of the ~13 µs per spawn and per ring hop (BENCHMARKS.md). `may` already keeps
//! finished coroutines in a pool (stack mapped, registers prepared) and a spawn that finds one
//! only installs the new closure; but it builds the whole pool when its scheduler starts
//! (each pooled stack holds the pages its last coroutine touched, ~8 KiB resident), so its
//! default is small.
//!
//! pyact owns the policy instead:
//! - **Starts empty.** [`Config::apply`](crate::Config::apply) gives `may` a pool of 1, so
//!   nothing worth mentioning is built at start-up.
//! - **Grows lazily.** Once the scheduler runs (the first coroutine ends), the capacity is
//!   raised to [`Config::pool_capacity`](crate::Config::pool_capacity); `may` reads it each
//!   time a coroutine ends, so from then on every finished coroutine is kept, up to the
//!   bound. Warm spawns reuse them (no `mmap`, no zeroed pages), ends park them (no
//!   `munmap`).
//! - **Shrinks when idle.** A background thread looks once a second and gives back half of the
//!   stacks above [`KEEP`] that sat in the pool that whole second (its low-water mark), so
//!   a burst of actors does not pin its stacks for the rest of the process, while a pool
//!   that is drawn on keeps what is drawn. A stack given back returns its pages to the
//!   kernel and its place to the stack allocator's slab (the vendored `generator`, which
//!   unmaps a slab once all its stacks are back: vendor/README.md).
//!
//! Nothing of an actor survives into the next one that reuses its stack: `may` gives every
//! spawn a fresh coroutine-local storage (pyact's context lives there), and links, monitors,
//! names and timers belong to the actor's cell, which is not reused (tests/pool.rs checks
//! each). The pool does not weaken the live-actor limit either: a stack is only mapped when
//! the pool is empty, so live + pooled coroutines never exceed the live actors at the
//! busiest moment (plus pyact's own network coroutines, covered by the reserve of maps).

use std::sync::Once;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

/// What the pool keeps however long it stays idle: the stacks of a small burst.
pub(crate) const KEEP: usize = 256;

/// How often the reaper looks (and so how long stacks must sit unused to be given back).
const IDLE_TICK: Duration = Duration::from_secs(1);

/// Pyact's mirror of the number of coroutines in `may`'s pool (it mirrors `may`'s own
/// rules: a start takes one if any, an end adds one below the capacity). An estimate only
/// in that coroutines created outside pyact also use `may`'s pool.
static POOLED: AtomicUsize = AtomicUsize::new(0);

/// The capacity in force in `may` (1 until the first coroutine ended).
static CAPACITY: AtomicUsize = AtomicUsize::new(1);

/// The fewest coroutines the pool held since the reaper last looked: that many sat unused
/// for a whole tick.
static LOW: AtomicUsize = AtomicUsize::new(0);

/// Most stacks the reaper gives back per tick, so that giving back a huge burst is spread out.
const DRAIN_PER_TICK: usize = 65_536;

/// Start `f` on a new coroutine (a pooled one when `may` has one), with the pool's
/// bookkeeping around it.
///
/// Where it runs: from inside a coroutine (an actor spawning an actor), the new coroutine
/// is entered right here and immediately yields, which puts it on the ready queue of
/// *this* worker thread, like a woken receiver; it runs when the spawner blocks, and an
/// idle worker steals it (idle workers poll every 10 ms). `may`'s plain spawn instead
/// pushes onto a global queue round-robin and wakes that worker with a `write` to its
/// event fd every time: a system call and a cross-core hand-off per actor, the single
/// largest cost left in a spawn once stacks are reused. From a plain thread there is no
/// worker to stay on, so that path is kept.
///
/// # Safety
/// The contract of `may::coroutine::Builder::spawn` (see [`crate::actor::go`], the one
/// caller, for why pyact meets it).
pub(crate) unsafe fn launch<F: FnOnce() + Send + 'static>(
    builder: may::coroutine::Builder,
    f: F,
) -> std::io::Result<()> {
    if may::coroutine::is_coroutine() {
        let f = tracked(move || {
            // Back to the spawner at once: the body runs when this worker gets to it.
            may::coroutine::yield_now();
            f()
        });
        // SAFETY: the caller upholds `spawn`'s contract, which is `spawn_local`'s too;
        // running the new coroutine nested in this one until its first yield is what
        // `spawn_local` is for, and it yields before running any of `f`.
        unsafe { builder.spawn_local(f) }.map(|_handle| ())
    } else {
        // SAFETY: the caller upholds `spawn`'s contract.
        unsafe { builder.spawn(tracked(f)) }.map(|_handle| ())
    }
}

/// Wrap the body of a coroutine pyact starts so the pool's bookkeeping sees its start and end.
fn tracked<F: FnOnce() + Send + 'static>(f: F) -> impl FnOnce() + Send + 'static {
    move || {
        if let Ok(p) =
            POOLED.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |p| p.checked_sub(1))
        {
            LOW.fetch_min(p - 1, Ordering::Relaxed);
        }
        // Bookkeeping on the way out even if the body unwinds: `may` recycles a coroutine
        // whose closure panicked the same way as one that returned (the panic is caught
        // at its base, the stack below it is dead data).
        let _end = Ended;
        f();
    }
}

/// Runs when a pyact coroutine's body is done (returned or unwound).
struct Ended;

impl Drop for Ended {
    fn drop(&mut self) {
        static GROW: Once = Once::new();
        // The scheduler is running (we are in a coroutine), so `may` built its pool already
        // with the start-up capacity of 1: raising it now only lets it grow from here on.
        GROW.call_once(|| {
            // `may` reads 0 as "its default, 1,000".
            let cap = crate::config::current().pool_limit().max(1);
            CAPACITY.store(cap, Ordering::Relaxed);
            may::config().set_pool_capacity(cap);
            if cap > KEEP {
                let started = std::thread::Builder::new()
                    .name("pyact-pool-reaper".into())
                    .spawn(reaper);
                if let Err(e) = started {
                    log::warn!("coroutine pool will not shrink when idle: {e}");
                }
            }
        });
        let cap = CAPACITY.load(Ordering::Relaxed);
        let _ = POOLED.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |p| {
            (p < cap).then_some(p + 1)
        });
    }
}

/// Coroutines in the pool right now (pyact's estimate).
pub(crate) fn pooled() -> usize {
    POOLED.load(Ordering::Relaxed)
}

/// Each tick, give back half of the stacks above [`KEEP`] that stayed in the pool the whole
/// tick (the pool's low-water mark): a pool that is drawn on keeps what is drawn, one that
/// sits idle halves its excess every tick.
fn reaper() {
    LOW.store(POOLED.load(Ordering::Relaxed), Ordering::Relaxed);
    loop {
        std::thread::sleep(IDLE_TICK);
        let low = LOW.swap(POOLED.load(Ordering::Relaxed), Ordering::Relaxed);
        if low > KEEP {
            let unused = ((low - KEEP).div_ceil(2)).min(DRAIN_PER_TICK);
            shrink(POOLED.load(Ordering::Relaxed).saturating_sub(unused));
            LOW.store(POOLED.load(Ordering::Relaxed), Ordering::Relaxed);
        }
    }
}

/// Give back pooled stacks until about `target` remain: lower the capacity to `target`,
/// start one empty coroutine per excess stack (each takes a pooled stack and, ending above
/// the capacity, frees it), then restore the capacity.
fn shrink(target: usize) {
    let excess = POOLED.load(Ordering::Relaxed).saturating_sub(target);
    if excess == 0 {
        return;
    }
    let cap = CAPACITY.load(Ordering::Relaxed);
    CAPACITY.store(target, Ordering::Relaxed);
    may::config().set_pool_capacity(target.max(1));
    let pending = std::sync::Arc::new(AtomicUsize::new(excess));
    /// Counts a drain coroutine out when it ends, or when a failed spawn drops it.
    struct Done(std::sync::Arc<AtomicUsize>);
    impl Drop for Done {
        fn drop(&mut self) {
            self.0.fetch_sub(1, Ordering::Release);
        }
    }
    for _ in 0..excess {
        let done = Done(pending.clone());
        let _ = crate::actor::go(move || drop(done));
    }
    // They are trivial; wait (bounded) so that restoring the capacity does not re-pool them.
    // `pending` drops just before each one returns to `may`, so allow the last ones a
    // moment to finish; one that still ends after the restore is merely kept pooled.
    for _ in 0..1000 {
        if pending.load(Ordering::Acquire) == 0 {
            break;
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    std::thread::sleep(Duration::from_millis(5));
    CAPACITY.store(cap, Ordering::Relaxed);
    may::config().set_pool_capacity(cap);
    log::debug!(
        "coroutine pool idle: gave back {excess} stacks, {} kept",
        pooled()
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Address, Mesh, Node};
    use std::time::Instant;

    /// Stacks allocated in this process and not given back (live and pooled coroutines).
    fn stacks() -> usize {
        generator::stacks_in_use()
    }

    fn wait_until(what: &str, deadline: Duration, mut ok: impl FnMut() -> bool) {
        let t0 = Instant::now();
        while !ok() {
            assert!(t0.elapsed() < deadline, "timed out waiting for {what}");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    #[test]
    fn an_idle_pool_gives_its_excess_stacks_back() {
        const N: usize = 3000;
        let node = Node::new(&Mesh::new(), "c@127.0.0.1:0").unwrap();
        let before = stacks();
        // N actors alive at once, then all end: N stacks go to the pool.
        let all: Vec<Address> = (0..N)
            .map(|_| {
                node.spawn(|mut mb| {
                    let _ = mb.receive();
                })
            })
            .collect();
        for a in &all {
            a.send("end").unwrap();
        }
        for a in &all {
            node.wait(a).unwrap();
        }
        wait_until("the pool to fill", Duration::from_secs(60), || {
            pooled() >= N - 100
        });
        let full = stacks();
        assert!(
            full >= before + N - 100,
            "pooled stacks stay allocated: {before} -> {full}"
        );
        // Idle now: the reaper halves the excess over KEEP each second.
        wait_until("the pool to shrink", Duration::from_secs(120), || {
            pooled() <= KEEP + 64
        });
        wait_until(
            "the stacks to be given back",
            Duration::from_secs(60),
            || stacks() + (N - KEEP - 200) <= full,
        );
    }
}
