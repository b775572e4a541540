use std::cell::Cell;
#[cfg(feature = "work_steal")]
use std::cell::UnsafeCell;
use std::io;
use std::sync::atomic::{AtomicBool, AtomicIsize, AtomicUsize, Ordering};
use std::sync::{Arc, Once};
use std::thread;
use std::time::Duration;

use crate::config::config;
use crate::coroutine_impl::{run_coroutine, CoroutineImpl};
use crate::io::{EventLoop, Selector};
use crate::likely::likely;
use crate::pool::CoroutinePool;
use crate::sync::AtomicOption;
use crate::timeout_list;
use crate::yield_now::set_co_para;
use crossbeam::utils::CachePadded;
use may_queue::mpsc::Queue;

cfg_if::cfg_if! {
    if #[cfg(feature = "crossbeam_queue_steal")] {
        use crate::crossbeam_queue_shim::{self as spmc, Local, Steal};
    } else if #[cfg(feature = "work_steal")] {
        use may_queue::spmc::{self, Local, Steal};
    } else {
        use may_queue::spsc::Queue as Local;
    }
}

// thread id, only workers are normal ones
thread_local! { pub static WORKER_ID: Cell<usize> = const { Cell::new(usize::MAX) }; }

// here we use Arc<AtomicOption<>> for that in the select implementation
// other event may try to consume the coroutine while timer thread consume it
type TimerData = Arc<AtomicOption<CoroutineImpl>>;
type TimerThread = timeout_list::TimerThread<TimerData>;

static mut SCHED: *const Scheduler = std::ptr::null();

/// pyact patch (PYACT-PATCH.md): the timer thread and the I/O event loops are the whole
/// runtime's; if one of them panics, no timer fires and no socket wakes anybody again, and
/// the process hangs silently. Held for the thread's life, this guard turns such a panic
/// into a loud abort (the panic message itself is printed by the panic hook first).
struct AbortOnPanic(&'static str);

impl Drop for AbortOnPanic {
    fn drop(&mut self) {
        if thread::panicking() {
            eprintln!(
                "may: the {} thread panicked; the runtime cannot go on without it (timers \
                 or I/O would never fire again): aborting",
                self.0
            );
            std::process::abort();
        }
    }
}

/// pyact patch: the CPUs the process may run on, as the thread that started the scheduler
/// saw them (its affinity mask and CPU quota) before the workers were pinned: a worker's
/// own mask is one CPU once it is pinned.
static PROCESS_CPUS: AtomicUsize = AtomicUsize::new(1);

/// pyact patch: see [`PROCESS_CPUS`] (the epoll selector spins without yielding only with
/// two or more; the other selectors do not spin).
#[cfg_attr(not(any(target_os = "linux", target_os = "android")), allow(dead_code))]
pub(crate) fn process_cpus() -> usize {
    PROCESS_CPUS.load(Ordering::Relaxed)
}

#[cold]
fn init_scheduler() {
    let cpus = thread::available_parallelism().map_or(1, |n| n.get());
    PROCESS_CPUS.store(cpus, Ordering::Relaxed);
    let workers = config().get_workers();
    let b: Box<Scheduler> = Scheduler::new(workers);
    unsafe { SCHED = Box::into_raw(b) };

    // timer thread
    thread::spawn(move || {
        let _abort_on_panic = AbortOnPanic("timer");
        // timer function
        let timer_event_handler = |c: Arc<AtomicOption<CoroutineImpl>>| {
            // just re-push the co to the visit list
            if let Some(mut co) = c.take() {
                // set the timeout result for the coroutine
                set_co_para(&mut co, io::Error::new(io::ErrorKind::TimedOut, "timeout"));
                // s.schedule_global(c);
                run_coroutine(co);
            }
        };

        let s = unsafe { &*SCHED };
        s.timer_thread.run(&timer_event_handler);
    });

    let core_ids = core_affinity::get_core_ids().unwrap();
    let pin_cores = config().get_worker_pin();
    // io event loop thread
    for (id, core) in (0..workers).zip(core_ids.into_iter().cycle()) {
        thread::spawn(move || {
            let _abort_on_panic = AbortOnPanic("I/O event loop");
            if pin_cores {
                core_affinity::set_for_current(core);
            }
            let s = unsafe { &*SCHED };
            s.event_loop.run(id);
        });
    }
}

#[inline]
pub fn get_scheduler() -> &'static Scheduler {
    unsafe {
        if likely(!SCHED.is_null()) {
            return &*SCHED;
        }
    }
    static ONCE: Once = Once::new();
    ONCE.call_once(init_scheduler);
    unsafe { &*SCHED }
}

/// pyact patch: guards a worker's global queue (see `Scheduler::collect_global_from`).
#[derive(Default)]
struct GlobalGate {
    /// Held by the one consumer allowed to pop (and to look into) the queue.
    lock: AtomicBool,
    /// Coroutines pushed and counted, minus those taken: read without the lock.
    pending: AtomicIsize,
}

#[repr(align(128))]
pub struct Scheduler {
    #[cfg(not(feature = "work_steal"))]
    local_queues: Vec<Local<CoroutineImpl>>,
    #[cfg(feature = "work_steal")]
    local_queues: Vec<UnsafeCell<Local<CoroutineImpl>>>,
    #[cfg(feature = "work_steal")]
    stealers: Vec<Steal<CoroutineImpl>>,
    global_queues: Vec<Queue<CoroutineImpl>>,
    // pyact patch: one consumer at a time per global queue, so an idle worker can drain the
    // global queue of a busy one, and a count that says whether to look (see PYACT-PATCH.md).
    global_gates: Vec<CachePadded<GlobalGate>>,
    event_loop: EventLoop,
    timer_thread: TimerThread,
    pub pool: CoroutinePool,
    pub workers: usize,
}

impl Scheduler {
    pub fn new(workers: usize) -> Box<Self> {
        #[cfg(not(feature = "work_steal"))]
        let local_queues = Vec::from_iter((0..workers).map(|_| Local::new()));

        #[cfg(feature = "work_steal")]
        let queues = Vec::from_iter((0..workers).map(|_| spmc::local()));
        #[cfg(feature = "work_steal")]
        let stealers = Vec::from_iter(queues.iter().map(|(s, _l)| s.clone()));
        #[cfg(feature = "work_steal")]
        let local_queues = Vec::from_iter(queues.into_iter().map(|(_s, l)| UnsafeCell::new(l)));

        let global_queues = Vec::from_iter((0..workers).map(|_| Queue::new()));
        let global_gates = Vec::from_iter((0..workers).map(|_| CachePadded::default()));

        Box::new(Scheduler {
            pool: CoroutinePool::new(),
            event_loop: EventLoop::new(workers).expect("can't create event_loop"),
            local_queues,
            #[cfg(feature = "work_steal")]
            stealers,
            global_queues,
            global_gates,
            timer_thread: TimerThread::new(),
            workers,
        })
    }

    #[inline]
    #[cfg(not(feature = "work_steal"))]
    pub fn run_queued_tasks(&self, id: usize) {
        let local = unsafe { self.local_queues.get_unchecked(id) };
        while let Some(co) = local.pop() {
            run_coroutine(co);
        }
    }

    #[inline]
    #[cfg(feature = "work_steal")]
    pub fn run_queued_tasks(&self, id: usize) {
        let local = unsafe { &mut *self.local_queues.get_unchecked(id).get() };

        let max_steal: usize = std::cmp::min(3, self.workers - 1);

        #[cfg(feature = "rand_work_steal")]
        let mut rng = fastrand::Rng::new();

        // pyact patch: a worker drained its global queue only when its local queue was
        // empty, so a coroutine that keeps yielding (always back in the local queue) starved
        // every coroutine spawned or woken from outside the workers. Look at the global
        // queue every few tasks too.
        let mut ticks: u32 = 0;
        'work: loop {
            ticks = ticks.wrapping_add(1);
            if ticks.is_multiple_of(61) {
                self.collect_global(id);
            }
            match local.pop() {
                Some(co) => {
                    run_coroutine(co);
                    continue 'work;
                }
                None => {
                    self.collect_global(id);
                    if local.has_tasks() {
                        continue 'work;
                    }
                }
            }

            // The i variable is unused if rand_work_steal is enabled since it selects the steal target randomly instead.
            for _i in 0..max_steal {
                cfg_if::cfg_if! {
                    if #[cfg(feature = "rand_work_steal")] {
                        let target = rng.usize(0..self.workers);
                    } else {
                        let target = (id + _i + 1) % self.workers;
                    }
                };
                let stealer = self.stealers.get(target).unwrap();
                if let Some(co) = stealer.steal_into(local) {
                    run_coroutine(co);
                    continue 'work;
                }
            }
            // pyact patch: coroutines scheduled from outside the workers (spawns and wake-ups
            // from plain threads) go round-robin to the workers' global queues, which only
            // their owner used to drain: behind a worker held by a busy coroutine they were
            // stranded. An idle worker now drains the others' global queues too.
            for i in 1..self.workers {
                let target = (id + i) % self.workers;
                self.collect_global_from(id, target);
                if local.has_tasks() {
                    continue 'work;
                }
            }
            return;
        }
    }

    /// put the coroutine to correct queue so that next time it can be scheduled
    #[inline]
    pub fn schedule(&self, co: CoroutineImpl) {
        let id = WORKER_ID.get();

        if id != usize::MAX {
            self.schedule_with_id(co, id);
        } else {
            self.schedule_global(co);
        }
    }

    /// called by selector with known id
    #[inline]
    #[cfg(feature = "work_steal")]
    pub fn schedule_with_id(&self, co: CoroutineImpl, id: usize) {
        let local = unsafe { &mut *self.local_queues.get_unchecked(id).get() };
        local.push_back(co);
    }

    #[inline]
    #[cfg(not(feature = "work_steal"))]
    pub fn schedule_with_id(&self, co: CoroutineImpl, id: usize) {
        let local = unsafe { self.local_queues.get_unchecked(id) };
        local.push(co);
    }

    /// put the coroutine to global queue so that next time it can be scheduled
    #[inline]
    pub fn schedule_global(&self, co: CoroutineImpl) {
        static NEXT_THREAD_ID: AtomicUsize = AtomicUsize::new(0);
        let thread_id = NEXT_THREAD_ID
            .fetch_add(1, Ordering::Relaxed)
            .rem_euclid(self.workers);
        self.push_global(co, thread_id);
    }

    /// put the coroutine to global queue so that next time it can be scheduled
    #[inline]
    pub fn schedule_global_with_id(&self, co: CoroutineImpl, id: usize) {
        let thread_id = id.rem_euclid(self.workers);
        // println!("Scheduling to {thread_id}");
        self.push_global(co, thread_id);
    }

    /// Push to worker `thread_id`'s global queue, count it (pyact patch: consumers read the
    /// count, not the queue, before they take its lock) and wake the worker.
    #[inline]
    fn push_global(&self, co: CoroutineImpl, thread_id: usize) {
        let global = unsafe { self.global_queues.get_unchecked(thread_id) };
        let gate = unsafe { self.global_gates.get_unchecked(thread_id) };
        global.push(co);
        gate.pending.fetch_add(1, Ordering::SeqCst);
        // signal one waiting thread if any
        self.get_selector().wakeup(thread_id);
    }

    #[inline]
    pub fn collect_global(&self, id: usize) {
        self.collect_global_from(id, id);
    }

    /// Move the coroutines of worker `from`'s global queue into worker `id`'s local queue.
    /// The global queue has a single-consumer pop: a try-lock keeps one consumer at a time
    /// (pyact patch; the owner used to be its only consumer).
    #[inline]
    pub fn collect_global_from(&self, id: usize, from: usize) {
        #[cfg(feature = "work_steal")]
        let local = unsafe { &mut *self.local_queues.get_unchecked(id).get() };
        #[cfg(not(feature = "work_steal"))]
        let local = unsafe { self.local_queues.get_unchecked(id) };
        let global = unsafe { self.global_queues.get_unchecked(from) };
        let gate = unsafe { self.global_gates.get_unchecked(from) };
        // Every consumer-side call of the queue (`bulk_pop`, and `is_empty`/`len`, which
        // read the tail block) runs under the lock: the consumer frees a block once it has
        // drained it, so a second consumer that only peeked could read a freed block. The
        // peek without the lock is `pending`, a count the producers keep.
        //
        // A consumer that finds the lock taken leaves, counting on the holder to take what
        // it saw. So the holder looks again after it lets go: a coroutine pushed after the
        // holder's last pop, whose owner was woken for it and found the lock taken, would
        // otherwise stay in the queue with every worker asleep (SeqCst on the lock and the
        // count, so that the look again cannot move before the release).
        //
        // `pending` is pushes counted minus coroutines taken. A producer counts after its
        // push, so a consumer can take a coroutine not yet counted and the count dips below
        // zero until that producer counts it; the producer then wakes the queue's owner,
        // which looks again. A count of zero or less therefore means "nothing for me". Under
        // the lock a count above zero means a coroutine in the queue, so the loop ends as
        // soon as nobody pushes (a round that took nothing read a count that another consumer
        // then brought down).
        loop {
            if gate.pending.load(Ordering::SeqCst) <= 0 {
                return;
            }
            if gate
                .lock
                .compare_exchange(false, true, Ordering::SeqCst, Ordering::SeqCst)
                .is_err()
            {
                return;
            }
            let mut taken = 0;
            let mut v = global.bulk_pop();
            while !v.is_empty() {
                taken += v.len();
                for co in v {
                    #[cfg(feature = "work_steal")]
                    local.push_back(co);
                    #[cfg(not(feature = "work_steal"))]
                    local.push(co);
                }
                v = global.bulk_pop();
            }
            gate.pending.fetch_sub(taken as isize, Ordering::SeqCst);
            gate.lock.store(false, Ordering::SeqCst);
            std::sync::atomic::fence(Ordering::SeqCst);
        }
    }

    #[inline]
    pub fn add_timer(
        &self,
        dur: Duration,
        co: Arc<AtomicOption<CoroutineImpl>>,
    ) -> timeout_list::TimeoutHandle<TimerData> {
        self.timer_thread.add_timer(dur, co)
    }

    #[inline]
    pub fn del_timer(&self, handle: timeout_list::TimeoutHandle<TimerData>) {
        self.timer_thread.del_timer(handle);
    }

    #[inline]
    pub fn get_selector(&self) -> &Selector {
        self.event_loop.get_selector()
    }
}
