//! Reuse of finished coroutines: a warm spawn hands the new actor to a parked coroutine.
//!
//! Why: a fresh coroutine costs an `mmap` of its stack, an `mprotect` for the guard page and
//! the page faults that zero the pages it touches; one that ends and is not kept costs a
//! `munmap`, which also flushes the address-translation caches of every core. And even on a
//! reused stack, a `may` spawn builds a coroutine handle, its park, the join packet and panic
//! slots and a coroutine-local map (six allocations), then switches into the new coroutine
//! and back: `may` spawn + join alone is slower than a whole Erlang spawn (BENCHMARKS.md).
//!
//! So pyact keeps its own coroutines. Every coroutine pyact starts ([`crate::actor::go`]:
//! actors, network loops) is a *runner*: when its closure returns, the runner does not end;
//! it parks in the idle pool and waits for the next closure. A spawn that finds an idle
//! runner ([`hand_off`]) puts the closure in its slot and unparks it: no `mmap`, no `may`
//! spawn, no context switch at the spawn, a handful of atomic operations and one allocation
//! (the boxed closure). Only when no runner is idle is a `may` coroutine started
//! ([`runner`], through [`launch`]), and it becomes a runner itself once its first closure
//! returns.
//!
//! - **Where the spawned closure runs.** Unparking pushes the runner onto the ready queue of
//!   the worker thread that unparks it (`may`'s `schedule`): a spawn from an actor stays on
//!   the spawner's worker and runs when the spawner blocks (idle workers steal it). From a
//!   plain thread, the runner goes to a worker's global queue and that worker is woken, as a
//!   `may` spawn from a thread does.
//! - **Grows lazily, bounded.** The pool starts empty and holds the runners whose closures
//!   ended, at most [`Config::pool_capacity`](crate::Config::pool_capacity); a runner that
//!   ends its closure with the pool full ends its coroutine (its stack goes back to the
//!   stack allocator: its pages to the kernel, its place to its slab, vendor/README.md).
//!   `may`'s own pool stays at the one coroutine [`Config::apply`](crate::Config::apply)
//!   gives it.
//! - **Shrinks when idle.** A background thread looks once a second and ends half of the
//!   runners above [`KEEP`] that sat in the pool that whole second (its low-water mark), so
//!   a burst of actors does not pin its stacks for the rest of the process, while a pool
//!   that is drawn on keeps what is drawn. The coldest runners (parked longest) go first.
//!   An ended runner's stack returns its pages to the kernel, and the vendored
//!   `generator` unmaps a slab of stacks once all of them are back (vendor/README.md).
//! - **Nothing of one closure reaches the next.** Between two closures the runner drops all
//!   of its coroutine-local data, pyact's context (the actor, its node, `curaddr`) and the
//!   user's `may::coroutine_local!` values alike, and if its `may` handle escaped
//!   (`may::coroutine::current()`), holds an unpark token or was cancelled, it gets a fresh
//!   one (`may::coroutine::reset_local_data`, a vendored addition:
//!   `vendor/may/PYACT-PATCH.md`). Links, monitors, names, timers, the kill state and the
//!   watchdog's mark belong to the actor's cell, which is never reused; a panic is caught by
//!   the actor's body. `tests/pool.rs` checks each.
//! - **A changed stack size** (`may`'s configured size, changed at run time) retires the
//!   runners of the old size instead of handing them work.
//! - **The live-actor limit.** An idle runner is not a live actor, but it holds a stack and
//!   a slot in a slab of stacks, like `may`'s pooled coroutines did: a stack is only allocated when no
//!   runner is idle, so live actors + idle runners never exceed the live actors at the
//!   busiest moment (plus the few runners between their closure's end and their park, at
//!   most one per worker thread, inside the limit's reserve of maps).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, Once};
use std::time::Duration;

use may::sync::Blocker;

/// What the pool keeps however long it stays idle: the runners of a small burst.
pub(crate) const KEEP: usize = 256;

/// How often the reaper looks (and so how long runners must sit unused to be ended).
const IDLE_TICK: Duration = Duration::from_secs(1);

/// Most runners the reaper ends per tick, so that giving back a huge burst is spread out.
const DRAIN_PER_TICK: usize = 65_536;

/// What a runner runs: an actor, or any other closure.
pub(crate) enum Job {
    /// An actor: its body is pyact's own ([`crate::actor::run`]), so only the user's
    /// function is boxed, and a function that captures nothing costs no allocation (the
    /// whole body, boxed, cost one a spawn: ~300 instructions with its free).
    Actor(crate::actor::ActorJob),
    /// Any other closure (the network's loops).
    Task(Box<dyn FnOnce() + Send>),
}

impl Job {
    fn run(self) {
        match self {
            Job::Actor(a) => crate::actor::run(a),
            Job::Task(f) => f(),
        }
    }
}

/// What an idle runner is told to do next.
enum Next {
    /// Nothing yet (a wake-up without work is ignored).
    Wait,
    Run(Job),
    /// End the coroutine (the pool shrinks, or the stack size changed).
    Retire,
}

/// A parked runner, as the pool and its spawners see it.
struct Runner {
    next: Mutex<Next>,
    /// Parks and wakes the runner's coroutine; nobody else holds it, so every wake-up is
    /// the hand-off of a [`Next`].
    wake: Blocker,
    /// The stack size (`may` words) the runner's coroutine was made with.
    stack: usize,
}

impl Runner {
    /// Give the runner its next order and wake it.
    fn send(&self, next: Next) {
        *lock(&self.next) = next;
        self.wake.unpark();
    }
}

/// The idle runners, most recently parked last (its stack is the warmest).
struct Idle {
    runners: Vec<Arc<Runner>>,
    /// The fewest runners idle since the reaper last looked: that many sat unused a whole
    /// tick.
    low: usize,
}

static IDLE: Mutex<Idle> = Mutex::new(Idle {
    runners: Vec::new(),
    low: 0,
});

/// A mirror of the idle count, for [`pooled`].
static POOLED: AtomicUsize = AtomicUsize::new(0);

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // Every critical section here is a push, a pop or a store: a panic cannot leave it
    // half done.
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// Run `f` on an idle runner, if one is idle; otherwise give `f` back.
pub(crate) fn hand_off(f: Job) -> Result<(), Job> {
    let words = crate::config::stack_words();
    let runner = loop {
        let popped = {
            let mut idle = lock(&IDLE);
            let r = idle.runners.pop();
            let left = idle.runners.len();
            if r.is_some() {
                idle.low = idle.low.min(left);
                POOLED.store(left, Ordering::Relaxed);
            }
            r
        };
        match popped {
            None => return Err(f),
            Some(r) if r.stack == words => break r,
            Some(stale) => stale.send(Next::Retire),
        }
    };
    runner.send(Next::Run(f));
    Ok(())
}

/// The body of a new coroutine: run `first`, then serve as a runner until retired.
pub(crate) fn runner(stack: usize, first: Job) -> impl FnOnce() + Send + 'static {
    move || {
        // a fresh coroutine's first run: its actor's context is allocated on this thread
        crate::heap::fresh_coroutine();
        first.run();
        let me = Arc::new(Runner {
            next: Mutex::new(Next::Wait),
            // Ignores `may`'s cancellation: a cancelled coroutine's handle is renewed by
            // `reset_local_data` before the runner parks.
            wake: Blocker::new(true),
            stack,
        });
        while let Some(job) = park_idle(&me) {
            job.run();
        }
    }
}

/// Between two closures: forget everything of the last one, park in the pool and return the
/// next closure, or `None` if the runner must end (pool full, stack size changed, retired).
fn park_idle(me: &Arc<Runner>) -> Option<Job> {
    crate::actor::reset_coroutine();
    if me.stack != crate::config::stack_words() {
        return None;
    }
    let cap = crate::config::current().pool_limit().max(1);
    {
        let mut idle = lock(&IDLE);
        if idle.runners.len() >= cap {
            return None;
        }
        idle.runners.push(me.clone());
        POOLED.store(idle.runners.len(), Ordering::Relaxed);
    }
    start_reaper(cap);
    loop {
        // The spawner stores the order before it unparks, and an unpark before the park
        // leaves a token the park consumes: no order is missed.
        let _ = me.wake.park(None);
        match std::mem::replace(&mut *lock(&me.next), Next::Wait) {
            Next::Wait => continue,
            Next::Run(job) => return Some(job),
            Next::Retire => return None,
        }
    }
}

/// Start the reaper thread once, if the pool may grow past [`KEEP`].
fn start_reaper(cap: usize) {
    static START: Once = Once::new();
    if cap <= KEEP {
        return;
    }
    START.call_once(|| {
        let started = std::thread::Builder::new()
            .name("pyact-pool-reaper".into())
            .spawn(reaper);
        if let Err(e) = started {
            log::warn!("coroutine pool will not shrink when idle: {e}");
        }
    });
}

/// Runners idle right now.
pub(crate) fn pooled() -> usize {
    POOLED.load(Ordering::Relaxed)
}

/// Each tick, end half of the runners above [`KEEP`] that stayed idle the whole tick (the
/// pool's low-water mark), the coldest first: a pool that is drawn on keeps what is drawn,
/// one that sits idle halves its excess every tick. An ended runner's coroutine goes back to
/// `may`, whose pool is full (one coroutine), so its stack goes back to the stack allocator
/// (its pages returned with `MADV_DONTNEED`, its slab unmapped once empty).
///
/// Not while the pool grows: actors are ending faster than spawns take their coroutines
/// (a ring passing its message, a burst winding down), the process is busy, and every
/// stack given back would stall both cores (`munmap`, and `madvise(MADV_DONTNEED)` too,
/// flush the address-translation caches of every core): the 1M ring's pass took 26.6 s with reaping during it and 3.4 s without
/// (one run each, load 5-8).
/// The pool is trimmed once it stops growing.
fn reaper() {
    let mut before = {
        let mut idle = lock(&IDLE);
        idle.low = idle.runners.len();
        idle.low
    };
    loop {
        std::thread::sleep(IDLE_TICK);
        let retired: Vec<Arc<Runner>> = {
            let mut idle = lock(&IDLE);
            let now = idle.runners.len();
            let low = std::mem::replace(&mut idle.low, now);
            let n = to_retire(low, before, now);
            before = now;
            if n == 0 {
                continue;
            }
            let retired = idle.runners.drain(..n).collect();
            idle.low = idle.runners.len();
            before = idle.runners.len();
            POOLED.store(idle.runners.len(), Ordering::Relaxed);
            retired
        };
        for r in &retired {
            r.send(Next::Retire);
        }
        log::debug!(
            "coroutine pool idle: ended {} runners, {} kept",
            retired.len(),
            pooled()
        );
    }
}

/// How many idle runners a reaper tick ends: half of those above [`KEEP`] that sat idle the
/// whole tick (`low`), at most [`DRAIN_PER_TICK`], and none while the pool grows (`before`:
/// its size after the last tick, `now`: its size now). See [`reaper`].
fn to_retire(low: usize, before: usize, now: usize) -> usize {
    if low <= KEEP || now > before {
        return 0;
    }
    (low - KEEP).div_ceil(2).min(DRAIN_PER_TICK).min(now)
}

/// Start `f` on a new `may` coroutine.
///
/// Where it runs: from inside a coroutine (an actor spawning an actor), the new coroutine
/// is entered right here and immediately yields, which puts it on the ready queue of
/// *this* worker thread, like a woken receiver; it runs when the spawner blocks, and an
/// idle worker steals it (idle workers poll every 10 ms). `may`'s plain spawn instead
/// pushes onto a global queue round-robin and wakes that worker with a `write` to its
/// event fd every time: a system call and a cross-core hand-off per actor. From a plain
/// thread there is no worker to stay on, so that path is kept.
///
/// # Safety
/// The contract of `may::coroutine::Builder::spawn` (see [`crate::actor::go`], the one
/// caller, for why pyact meets it).
pub(crate) unsafe fn launch<F: FnOnce() + Send + 'static>(
    builder: may::coroutine::Builder,
    f: F,
) -> std::io::Result<()> {
    if may::coroutine::is_coroutine() {
        // A fresh coroutine made on a worker thread: its stack's bookkeeping and `may`'s
        // handles are allocated here. (Not on plain threads: one spawning a few actors
        // should not pay for a reservation it will not use.)
        crate::heap::fresh_coroutine();
        let f = move || {
            // Back to the spawner at once: the body runs when this worker gets to it.
            may::coroutine::yield_now();
            f()
        };
        // SAFETY: the caller upholds `spawn`'s contract, which is `spawn_local`'s too;
        // running the new coroutine nested in this one until its first yield is what
        // `spawn_local` is for, and it yields before running any of `f`.
        unsafe { builder.spawn_local(f) }.map(|_handle| ())
    } else {
        // SAFETY: the caller upholds `spawn`'s contract.
        unsafe { builder.spawn(f) }.map(|_handle| ())
    }
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
    fn the_reaper_ends_half_the_idle_excess_but_nothing_while_the_pool_grows() {
        // Idle and stable: half of what sat idle above KEEP.
        assert_eq!(to_retire(KEEP + 1000, KEEP + 1000, KEEP + 1000), 500);
        // Drawn on (low-water mark below the size): only what sat idle counts.
        assert_eq!(to_retire(KEEP + 10, KEEP + 500, KEEP + 500), 5);
        // Shrinking by spawns is not growth.
        assert_eq!(to_retire(KEEP + 100, KEEP + 300, KEEP + 100), 50);
        // At most DRAIN_PER_TICK a tick.
        assert_eq!(
            to_retire(KEEP + 10_000_000, 20_000_000, 20_000_000),
            DRAIN_PER_TICK
        );
        // Nothing at or below KEEP.
        assert_eq!(to_retire(KEEP, KEEP, KEEP), 0);
        // Growing (actors ending faster than spawns take them): nothing.
        assert_eq!(to_retire(KEEP + 1000, KEEP + 1000, KEEP + 1001), 0);
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
