//! Reuse of finished coroutines: a warm spawn hands the new actor to a parked coroutine.
//!
//! Why: a fresh coroutine costs an `mmap` of its stack, an `mprotect` for the guard page and
//! the page faults that zero the pages it touches; one that ends and is not kept costs a
//! `munmap`, which also flushes the address-translation caches of every core. And even on a
//! reused stack, a `may` spawn builds a coroutine handle, its park, the join packet and panic
//! slots and a coroutine-local map (six allocations), then switches into the new coroutine
//! and back: `may` spawn + join alone is slower than a whole Erlang spawn (BENCHMARKS-HISTORY.md).
//!
//! So pyact keeps its own coroutines. Every coroutine pyact starts ([`crate::actor::go`]:
//! actors, network loops) is a *runner*: when its closure returns, the runner does not end;
//! it parks in the idle pool and waits for the next closure. A spawn that finds an idle
//! runner ([`hand_off`]) puts the closure in its slot and unparks it: no `mmap`, no `may`
//! spawn, no context switch at the spawn, a handful of atomic operations and one allocation
//! (the boxed closure). When no runner is idle, an actor spawned by an actor waits in the
//! pool's queue (below); anything else gets a new `may` coroutine ([`runner`], through
//! [`launch`]), which becomes a runner itself once its first closure returns.
//!
//! ## Spawned before it has a coroutine
//!
//! An actor that has not started needs no stack: its address, mailbox, links and monitors
//! live in its cell. So when an *actor* spawns an actor and no runner is idle, the new
//! actor waits in the pool's queue (first in, first out, but see "Mail first") instead of
//! getting a fresh coroutine, and the next runner whose closure ends takes it before it
//! would park; and unless a fresh runner is on its way to the queue already, the spawn
//! starts one, which an idle worker steals, as it stole a fresh coroutine before the queue
//! existed (so a queued actor does not wait for its spawner to block when another worker
//! is free). A burst of short actors then runs on the few runners that are free, one
//! after the other on the same stack, with no `mmap`, page fault or context switch per
//! actor; without the queue, a burst spawned faster than its actors ended made a fresh coroutine for each
//! actor beyond the pool (`workload spawn`: 1.0 us an actor with enough runners parked,
//! 2-2.8 us without). Sends, links, monitors, kills, `wait` and names all work on a
//! queued actor; one killed (or ended by an exit signal) before it starts never runs its
//! function (Erlang's rule). Spawns from plain threads and from the network's coroutines
//! never queue: they take an idle runner or make a coroutine, as before. A dormant actor
//! (`SpawnOptions::start_on_message`, `mailbox/dormant.rs`) woken by its first envelope
//! queues from any context ([`start_woken`]): whoever pushed that envelope must not fail.
//!
//! **Why no queued actor waits forever.** One lock guards the idle runners and the queue,
//! so a runner is never idle while an actor is queued (a spawn takes an idle runner before
//! it queues; an ending runner takes the queue's head before it parks). Call a runner
//! *moving* while it runs its closure and is not parked in a pyact call. Claim: while the
//! queue is not empty, some runner is moving or a fresh runner is on its way to the queue
//! (started by [`start_runner`], counted in `starting` until it looks). It holds when an actor
//! is queued: its spawner is an actor, moving (and a runner is on its way, or the spawn
//! starts one). A moving runner stops being one only by
//! (a) ending its closure, and then it takes the queue's head and moves on with it, or
//! (b) blocking or yielding in a pyact call (every one goes through
//! [`crate::park::mark_parked`], which calls [`before_block`] first), and then, if the
//! queue is not empty, it starts a fresh runner unless one is on its way already (see
//! [`start_runner`]). A runner on its way runs (it sits on a worker's ready queue) and
//! takes the head or, finding the queue empty, parks. So each queued actor is taken after
//! finitely many such steps, and nothing waits for actors that are blocked: spawn N actors
//! that all block in `receive`, and they all start, one after the other (see "One runner on
//! its way" for why not all at once).
//!
//! What the claim assumes: moving runners reach a pyact call, their end, or a block in a
//! pyact call. An actor that computes forever without one, or blocks in a `may` primitive
//! or the network's sockets (which pyact cannot see), breaks the chain; so the watchdog
//! thread ([`crate::watchdog`], also running when its reports are turned off) looks every
//! 25 ms and, if actors are queued and none was taken since its last look, starts a fresh
//! runner for them ([`unstick`]). A failed coroutine start (no memory for a stack) leaves
//! the actors queued for the next attempt, logged with `warn!`.
//!
//! ## Mail first
//!
//! Which queued actor a runner takes: the oldest (first in, first out), except that the
//! newest goes first when it has mail (a message or a signal arrived for it) and the
//! oldest has none, at most [`PASS_OVER`] times in a row. Why: an actor with mail can
//! make progress at once, and one without will most likely start by waiting for some.
//! The seed's ring is the case: its builder spawns every forwarder (all queued, none
//! started: it does not block while it builds) and sends its message to the newest; taken
//! oldest first, every forwarder would start, block in `receive` and need a stack of its
//! own before the message moved (a fresh coroutine each: 2.5-3.3 us of page faults, the
//! ring 10k 1.6x Erlang's); taken mail first, each forwarder starts with its message
//! waiting, forwards it to the next newest and ends, and the next one runs on the same,
//! warm runner. Code before `receive` still runs before the actor receives (the plain
//! spawn's semantics are untouched; only the order in which queued actors start changes,
//! which Erlang does not promise either). When every queued actor has mail (a worker per
//! request, spawned and sent its request), the oldest goes first as before.
//!
//! The bound keeps the oldest from waiting forever behind a chain of actors that each spawn
//! and mail the next: after [`PASS_OVER`] newest-first takes in a row, the oldest is taken.
//!
//! ## One runner on its way
//!
//! However many actors are queued, at most one fresh runner is started for them at a time
//! (plus the watchdog's, below): a queued actor that blocks starts the next one's runner,
//! not one for every queued actor. An actor that has not started holds no stack; one that
//! starts only to block in `receive` holds one (a fresh coroutine: 2.5-3.3 us of page faults)
//! and most often could have been started by its first message instead, on a warm runner
//! ("Mail first"). Until issue 19's ninth pass the first queued actor seen to block flushed
//! the queue, starting a runner for every queued actor at once (it once made a ring 9-13%
//! faster, before mail first). Measured against that (BENCHMARKS-HISTORY.md): the 1M ring
//! 7-10 s and 4.9-5.1 GiB with the flush, 2.3 s and 0.82 GiB without; the 10k ring beside
//! two busy processes 44 ms with, 19.5 ms without (quiet: the same); 100k actors spawned by
//! an actor that all block, then get one message each, 326-361 ms with, 146-166 ms without.
//! Whenever the other worker took a queued actor that blocked during a build, the flush
//! made thousands of coroutines at once, on that worker, whose runners then competed with
//! the message's chain.
//!
//! - **Where the spawned closure runs.** Unparking pushes the runner onto the ready queue of
//!   the worker thread that unparks it (`may`'s `schedule`): a spawn from an actor stays on
//!   the spawner's worker and runs when the spawner blocks (idle workers steal it). From a
//!   plain thread, the runner goes to a worker's global queue and that worker is woken, as a
//!   `may` spawn from a thread does.
//! - **Grows lazily, bounded.** The pool starts empty and holds the runners whose closures
//!   ended, at most [`Config::pool_capacity`](crate::config::Config::pool_capacity); a runner that
//!   ends its closure with the pool full ends its coroutine (its stack goes back to the
//!   stack allocator: its pages to the kernel, its place to its slab, vendor/README.md).
//!   `may`'s own pool stays at the one coroutine [`Config::apply`](crate::config::Config::apply)
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

use std::collections::VecDeque;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, Once};
use std::time::Duration;

use may::sync::Blocker;

use crate::actor::ActorJob;

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
    Actor(ActorJob),
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

/// The idle runners, most recently parked last (its stack is the warmest), and the actors
/// waiting for a runner. One lock guards both, so that never is a runner idle while an
/// actor waits (see "Spawned before it has a coroutine" in the module docs).
struct Idle {
    runners: Vec<Arc<Runner>>,
    /// The fewest runners idle since the reaper last looked: that many sat unused a whole
    /// tick.
    low: usize,
    /// Actors spawned by actors while no runner was idle, oldest first.
    queued: VecDeque<ActorJob>,
    /// Fresh runners started for `queued` that have not looked at it yet: they will.
    starting: usize,
    /// Actors taken off `queued` so far (the watchdog's "is anyone taking them?").
    taken: u64,
    /// Times in a row the oldest queued actor was passed over for the newest (see
    /// [`Idle::pop_queued`]).
    passed_over: u32,
}

static IDLE: Mutex<Idle> = Mutex::new(Idle {
    runners: Vec::new(),
    low: 0,
    queued: VecDeque::new(),
    starting: 0,
    taken: 0,
    passed_over: 0,
});

/// A mirror of the idle count, for [`pooled`].
static POOLED: AtomicUsize = AtomicUsize::new(0);

/// A mirror of the queued count: the check every blocking pyact call makes
/// ([`before_block`]) is one load of it.
static QUEUED: AtomicUsize = AtomicUsize::new(0);

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // Every critical section here is a push, a pop or a store: a panic cannot leave it
    // half done.
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// Run `f` on an idle runner, if one is idle; otherwise, if `may_queue` (an actor spawned by
/// an actor), queue it for the next runner that is free; otherwise give `f` back.
pub(crate) fn hand_off(f: Job, may_queue: bool) -> Result<(), Job> {
    match idle_runner() {
        Ok(r) => {
            r.send(Next::Run(f));
            Ok(())
        }
        Err(idle) => match f {
            Job::Actor(a) if may_queue => {
                queue(idle, a);
                Ok(())
            }
            f => Err(f),
        },
    }
}

/// Start a dormant actor that its first envelope woke (see `mailbox/dormant.rs`), from
/// whatever pushed it (an actor, a thread, a connection's reader): on an idle runner, or
/// through the queue, from any context, so that a failed coroutine start leaves it queued
/// for the next attempt instead of losing it. The queue's promise holds: queueing starts a
/// runner unless one is on its way.
pub(crate) fn start_woken(job: ActorJob) {
    match idle_runner() {
        Ok(r) => r.send(Next::Run(Job::Actor(job))),
        Err(idle) => queue(idle, job),
    }
}

/// Take an idle runner of the current stack size (retiring those of an old one), or, if
/// none is idle, the pool's lock, still held: an actor queued under it cannot miss a
/// runner parking meanwhile (module docs).
fn idle_runner() -> Result<Arc<Runner>, MutexGuard<'static, Idle>> {
    let words = crate::config::stack_words();
    loop {
        let mut idle = lock(&IDLE);
        let Some(r) = idle.runners.pop() else {
            return Err(idle);
        };
        let left = idle.runners.len();
        idle.low = idle.low.min(left);
        POOLED.store(left, Ordering::Relaxed);
        drop(idle);
        if r.stack == words {
            return Ok(r);
        }
        r.send(Next::Retire);
    }
}

/// Queue `a` for the next runner that is free (no runner is idle: `idle` says so, and
/// its lock is held).
fn queue(mut idle: MutexGuard<'_, Idle>, a: ActorJob) {
    a.mark_queued();
    idle.queued.push_back(a);
    QUEUED.store(idle.queued.len(), Ordering::Relaxed);
    // One runner on its way at all times while actors are queued, for a free worker to
    // steal (module docs).
    let start = idle.claim_start(false);
    drop(idle);
    if start {
        launch_runner();
    }
}

/// The body of a new coroutine: run `first` (a fresh runner started for the queue takes the
/// queue's head instead), then serve as a runner until retired.
pub(crate) fn runner(stack: usize, first: Option<Job>) -> impl FnOnce() + Send + 'static {
    move || {
        // a fresh coroutine's first run: its actor's context is allocated on this thread
        crate::heap::fresh_coroutine();
        if let Some(job) = first.or_else(take_queued) {
            job.run();
        }
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

/// A fresh runner [`start_runner`] made, looking at the queue for the first time: take its
/// head (if other runners have not taken it meanwhile). Nothing to forget yet: the
/// coroutine is new.
fn take_queued() -> Option<Job> {
    let mut idle = lock(&IDLE);
    idle.starting = idle.starting.saturating_sub(1);
    idle.pop_queued()
}

impl Idle {
    /// Take the next queued actor: the oldest, or the newest if [`Idle::newest_first`]
    /// says so ("Mail first" in the module docs). The queue's buffer is let go once it is
    /// empty, if a burst made it large (1M queued actors left 40 MB behind; the kept 16k slots are 640 KB).
    fn pop_queued(&mut self) -> Option<Job> {
        let job = if self.newest_first() {
            self.passed_over += 1;
            self.queued.pop_back()?
        } else {
            self.passed_over = 0;
            self.queued.pop_front()?
        };
        self.taken += 1;
        QUEUED.store(self.queued.len(), Ordering::Relaxed);
        let_go_if_drained(&mut self.queued);
        Some(Job::Actor(job))
    }

    /// Take the newest queued actor before the oldest? Yes when the newest has mail, the
    /// oldest has none, and the oldest was passed over fewer than [`PASS_OVER`] times in a
    /// row (see "Mail first" in the module docs).
    fn newest_first(&self) -> bool {
        self.passed_over < PASS_OVER
            && self.queued.len() > 1
            && self.newest_has_mail()
            && !self.queued.front().is_some_and(ActorJob::has_mail)
    }

    /// Has the newest queued actor mail? (then the queue is being worked by its messages)
    fn newest_has_mail(&self) -> bool {
        self.queued.back().is_some_and(ActorJob::has_mail)
    }

    /// Should a fresh runner be started for the queue? Yes if it is not empty and none is
    /// on its way to it (`force`: one more anyway); then it is counted as on its way. One
    /// at a time: see "One runner on its way" in the module docs.
    fn claim_start(&mut self, force: bool) -> bool {
        if self.queued.is_empty() || (self.starting > 0 && !force) {
            return false;
        }
        self.starting += 1;
        true
    }
}

/// Most times in a row the oldest queued actor may be passed over (see
/// [`Idle::newest_first`]): it waits for at most that many actors' runs.
const PASS_OVER: u32 = 1024;

/// The most queue slots kept once the queue is empty.
const KEEP_QUEUE: usize = 16_384;

/// A drained queue keeps at most [`KEEP_QUEUE`] slots: a burst of a million queued actors
/// would otherwise pin its 40 MB buffer for the rest of the process.
fn let_go_if_drained<T>(queue: &mut VecDeque<T>) {
    if queue.is_empty() && queue.capacity() > KEEP_QUEUE {
        *queue = VecDeque::new();
    }
}

/// Between two closures: forget everything of the last one, then take the oldest queued
/// actor, or park in the pool and return the next closure, or `None` if the runner must end
/// (pool full, stack size changed, retired).
fn park_idle(me: &Arc<Runner>) -> Option<Job> {
    crate::context::reset_coroutine();
    if me.stack != crate::config::stack_words() {
        // Whoever queued actors may count on this runner: hand that duty on.
        before_block();
        return None;
    }
    let cap = crate::config::current().pool_limit().max(1);
    {
        let mut idle = lock(&IDLE);
        if let Some(job) = idle.pop_queued() {
            return Some(job);
        }
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

/// The running actor (or thread) is about to block, or to yield: if actors are queued and
/// no fresh runner is on its way to them, start one (see [`start_runner`] and the module
/// docs for why this keeps every queued actor moving). One load when nothing is queued.
#[inline]
pub(crate) fn before_block() {
    if QUEUED.load(Ordering::Relaxed) != 0 {
        start_runner(false);
    }
}

/// The watchdog's backstop, every sample: if actors are queued and none was taken off the
/// queue since its last look (`taken_before`), every runner that could take them is stuck
/// (in a `may` primitive pyact cannot see, or computing without a pyact call): start a
/// fresh runner for them anyway. Returns the count of taken actors for the next look.
pub(crate) fn unstick(taken_before: u64) -> u64 {
    if QUEUED.load(Ordering::Relaxed) == 0 {
        return taken_before;
    }
    let taken = lock(&IDLE).taken;
    if taken == taken_before {
        start_runner(true);
    }
    taken
}

/// Start a fresh runner for the queue if [`Idle::claim_start`] says so.
#[cold]
fn start_runner(force: bool) {
    let start = lock(&IDLE).claim_start(force);
    if start {
        launch_runner();
    }
}

/// Start the fresh runner [`Idle::claim_start`] counted.
#[cold]
fn launch_runner() {
    if let Err(e) = crate::actor::fresh_runner(None) {
        // The actors stay queued: the next runner that ends an actor, the next block,
        // or the watchdog's next look tries again.
        let mut idle = lock(&IDLE);
        idle.starting = idle.starting.saturating_sub(1);
        log::warn!("cannot start a coroutine for the queued actors (will retry): {e}");
    }
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

    /// A queued actor never waits for its spawner's next pyact call when a worker may be
    /// free: a fresh runner is on its way to the queue the moment the actor is queued (or
    /// has taken it already), as a fresh coroutine was before the queue existed, for an
    /// idle worker to steal.
    #[test]
    fn a_runner_is_on_its_way_as_soon_as_an_actor_is_queued() {
        let node = Node::new(&Mesh::new(), "c@127.0.0.1:0").unwrap();
        let parent = node.spawn(move |_| {
            let node = crate::actor::current_node().unwrap();
            let mut all = Vec::new();
            // No pyact block from here on (`info` is a table lookup): only the eager
            // start can have put a runner on its way.
            let on_its_way = loop {
                let a = crate::spawn(|mut mb: crate::Mailbox| {
                    let _ = mb.receive();
                });
                let queued = node.info(&a).unwrap().status == crate::observe::Status::Starting;
                all.push(a);
                if queued {
                    // Both under the pool's lock: a runner that takes the actor stops
                    // counting as on its way in the same step (its status says `Starting`
                    // a moment longer, until the runner runs it).
                    let idle = lock(&IDLE);
                    let still_queued = idle.queued.iter().any(|j| j.is_of(all.last().unwrap()));
                    break idle.starting > 0 || !still_queued;
                }
                assert!(
                    all.len() < 100_000,
                    "no spawn from an actor was ever queued"
                );
            };
            for a in &all {
                a.send("end").unwrap();
            }
            on_its_way
        });
        assert_eq!(node.wait(&parent).unwrap(), true);
    }

    /// Called on every pop (`pop_queued`). Not a burst of real spawns: since a runner is on
    /// its way at the first queued actor, a burst of short actors no longer piles up.
    #[test]
    fn a_drained_queue_lets_a_large_buffer_go() {
        let n = 4 * KEEP_QUEUE as u32;
        let mut q: VecDeque<u32> = (0..n).collect();
        let mut next = 0;
        while let Some(x) = q.pop_front() {
            // nothing waiting is lost or reordered on the way
            assert_eq!(x, next);
            next += 1;
            let_go_if_drained(&mut q);
        }
        assert_eq!(next, n);
        assert!(q.capacity() <= KEEP_QUEUE);
        // a small buffer is kept for the next burst
        let mut q: VecDeque<u32> = VecDeque::with_capacity(64);
        q.push_back(1);
        q.pop_front();
        let_go_if_drained(&mut q);
        assert!(q.capacity() >= 64);
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
