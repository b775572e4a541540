//! [`blocking`]: run a blocking `std` call from an actor without stalling its worker thread.
//!
//! Actors share a few worker threads, so a blocking call (`std::fs`, a blocking socket, a
//! `std` lock or channel, a C library) made directly in actor code stalls every actor
//! queued on that worker. `blocking(f)` hands `f` to a pool of helper threads and parks only
//! the calling actor until `f` returns, then returns `f`'s result.
//!
//! - The pool grows on demand up to [`Config::blocking_threads`](crate::config::Config::blocking_threads)
//!   helpers (default [`DEFAULT_BLOCKING_THREADS`], 512, as tokio's), and a helper that
//!   stays idle for [`IDLE`] exits, so the pool costs nothing when unused. Past the cap a
//!   job waits in a queue (first come, first served) for the next free helper: 2,000 actors
//!   calling `blocking` at once cost 512 OS threads, not 2,000, and all 2,000 calls
//!   complete. A job must therefore never wait for another `blocking` job to *start*: with
//!   every helper busy with such waits, the pool would wait for itself.
//! - Round trips stay cheap (well under a microsecond back to back, `cargo bench --bench
//!   blocking`): a helper polls for [`POLL`] after a job before it sleeps, and the caller
//!   polls as long, yielding its worker to other actors, before it parks.
//! - A panic in `f` is re-raised in the caller (an actor then ends with
//!   [`ExitReason::Panicked`](crate::ExitReason::Panicked), as if it had panicked itself).
//! - A kill (or an exit signal that ends the actor) ends the actor at once; `f` cannot be
//!   interrupted, so it runs to completion on its helper and its result is dropped.
//! - In a plain thread (no worker to protect) `f` simply runs on the calling thread.

use std::collections::VecDeque;
use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};
use std::sync::{Condvar, Mutex};
use std::time::Duration;

use crate::park::OneShot;

/// Default cap on helper threads (see [`Config::blocking_threads`](crate::config::Config::blocking_threads)).
pub const DEFAULT_BLOCKING_THREADS: usize = 512;

/// How long an idle helper thread waits for a job before it exits.
pub const IDLE: Duration = Duration::from_secs(10);

type Job = Box<dyn FnOnce() + Send>;

struct Pool {
    state: Mutex<PoolState>,
    ready: Condvar,
}

#[derive(Default)]
struct PoolState {
    jobs: VecDeque<Job>,
    /// Helpers waiting on the condition variable.
    idle: usize,
    /// Helpers polling for a next job right after finishing one (no wake-up needed).
    spinning: usize,
    /// Helper threads alive (running a job, polling or idle): at most the cap.
    threads: usize,
}

fn pool() -> &'static Pool {
    static POOL: Pool = Pool {
        state: Mutex::new(PoolState {
            jobs: VecDeque::new(),
            idle: 0,
            spinning: 0,
            threads: 0,
        }),
        ready: Condvar::new(),
    };
    &POOL
}

/// Run `f` on a helper thread and park only the calling actor until it returns; returns
/// `f`'s result. See the [module docs](self).
///
/// ```
/// use pyact::{Mesh, Node, json};
/// let node = Node::new(&Mesh::new(), "c@127.0.0.1:0").unwrap();
/// let a = node.spawn(|_| {
///     // A blocking std call, off the worker thread.
///     let n = pyact::blocking::blocking(|| {
///         std::thread::sleep(std::time::Duration::from_millis(5));
///         21 * 2
///     });
///     json!(n)
/// });
/// assert_eq!(node.wait(&a).unwrap(), 42);
/// assert_eq!(pyact::blocking::blocking(|| 7), 7); // in a plain thread it runs right here
/// ```
pub fn blocking<F, R>(f: F) -> R
where
    F: FnOnce() -> R + Send + 'static,
    R: Send + 'static,
{
    crate::context::checkpoint();
    if !may::coroutine::is_coroutine() {
        return f();
    }
    let done = OneShot::<std::thread::Result<R>>::new();
    let done2 = done.clone();
    submit(Box::new(move || {
        done2.set(catch_unwind(AssertUnwindSafe(f)));
    }));
    // A trivial `f` is back within microseconds: poll (yielding the worker to other actors)
    // before parking, which would cost a worker wake-up.
    let t0 = std::time::Instant::now();
    let mut result = None;
    while t0.elapsed() < POLL {
        result = done.try_take();
        if result.is_some() {
            break;
        }
        may::coroutine::yield_now();
    }
    let result = match result {
        Some(r) => r,
        None => done
            .wait(None, crate::observe::Status::Blocking)
            .expect("no deadline"),
    };
    match result {
        Ok(r) => r,
        Err(panic) => resume_unwind(panic),
    }
}

fn submit(job: Job) {
    let p = pool();
    let mut st = p.state.lock().unwrap_or_else(|e| e.into_inner());
    st.jobs.push_back(job);
    // Every waiting job needs a free helper: a polling one takes it unasked, a sleeping one
    // is woken; else start one more.
    let n = st.jobs.len();
    if n <= st.spinning {
        return;
    }
    // At the cap the job waits in the queue: every helper takes the next job when it
    // finishes one, before it sleeps (a sleeping one is woken here).
    let at_cap = st.threads >= crate::config::current().blocking_thread_limit();
    if n <= st.spinning + st.idle || at_cap {
        let wake = st.idle > 0;
        drop(st);
        if wake {
            p.ready.notify_one();
        }
        return;
    }
    st.threads += 1;
    drop(st);
    let spawned = std::thread::Builder::new()
        .name("pyact-blocking".into())
        .spawn(helper);
    if let Err(e) = spawned {
        // No thread to be had: run the job here rather than lose it (the worker stalls,
        // which is what the caller would have done without `blocking`).
        log::warn!(
            "pyact::blocking::blocking: no helper thread ({e}); running the job on the worker"
        );
        let job = {
            let mut st = p.state.lock().unwrap_or_else(|e| e.into_inner());
            st.threads -= 1;
            st.jobs.pop_back()
        };
        if let Some(job) = job {
            job();
        }
    }
}

/// How long a helper polls for a next job after finishing one before it sleeps: calls
/// that come back to back (an actor calling `blocking` in a loop) then skip a thread
/// wake-up, the larger part of a round trip.
pub const POLL: Duration = Duration::from_micros(50);

/// Helper threads alive now (for tests and `Node::stats`-style checks).
#[doc(hidden)]
pub fn blocking_threads_alive() -> usize {
    pool()
        .state
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .threads
}

/// A helper thread: run jobs until none comes for [`IDLE`].
fn helper() {
    let p = pool();
    let lock = || p.state.lock().unwrap_or_else(|e| e.into_inner());
    let mut st = lock();
    loop {
        if let Some(job) = st.jobs.pop_front() {
            drop(st);
            job();
            // Poll a little for the next job.
            st = lock();
            st.spinning += 1;
            drop(st);
            let t0 = std::time::Instant::now();
            let mut next = None;
            while next.is_none() && t0.elapsed() < POLL {
                std::hint::spin_loop();
                let mut g = lock();
                next = g.jobs.pop_front();
                if next.is_some() {
                    g.spinning -= 1;
                }
            }
            st = lock();
            match next {
                Some(job) => st.jobs.push_front(job),
                None => st.spinning -= 1,
            }
            continue;
        }
        st.idle += 1;
        let (guard, timeout) = p
            .ready
            .wait_timeout(st, IDLE)
            .unwrap_or_else(|e| e.into_inner());
        st = guard;
        st.idle -= 1;
        if timeout.timed_out() && st.jobs.is_empty() {
            st.threads -= 1;
            return;
        }
    }
}
