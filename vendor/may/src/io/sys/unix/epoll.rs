use std::io;
use std::os::fd::AsFd;
use std::os::fd::BorrowedFd;
use std::sync::atomic::Ordering;
use std::sync::Arc;
#[cfg(feature = "io_timeout")]
use std::time::Duration;

use super::{from_nix_error, EventData, IoData};
#[cfg(feature = "io_timeout")]
use super::{timeout_handler, TimerList};
use crate::scheduler::Scheduler;
#[cfg(feature = "io_timeout")]
use crate::timeout_list::now;

use may_queue::mpsc::Queue;
use nix::sys::epoll::*;
use nix::sys::eventfd::*;
use nix::unistd::{read, write};
use smallvec::SmallVec;

pub type SysEvent = EpollEvent;

/// pyact patch: how long a worker keeps polling its epoll set (without blocking) after it
/// last found an event, before it blocks in `epoll_wait`.
///
/// Why: between two processes on a 2-core VM, a request/response round trip that puts
/// both sides to sleep in `epoll_wait` spends most of its time waking the sleeping thread
/// on an idle CPU (pyact: 50-60 us per remote round trip; 30 us with both processes on one
/// CPU, where nobody sleeps; 20-35 us with this spin). Erlang's schedulers spin the same way before they sleep.
/// Polled here, in the worker's idle path, the spin runs only when the worker has nothing
/// else to run, and every socket of the worker (not one) is watched while it lasts. Only
/// socket readiness starts it: a wake-up through the worker's eventfd (a coroutine
/// scheduled from a plain thread) does not, so a thread that keeps waking coroutines does
/// not keep a worker polling (the eventfd still ends a spin that runs).
///
/// How it spins depends on who else wants the CPU (see [`YIELD_SLOW`]). Normally it yields
/// between polls (`sched_yield`): a busy spin would hold the CPU that the thread it waits
/// for may need (the process's other worker, or the process at the other end of the
/// socket, whose workers are pinned to the same CPUs). But a yield hands the CPU to any
/// runnable thread, and on a loaded machine that is a busy process, for the rest of its
/// time slice: beside two busy processes a round trip that yielded took 3 ms instead of
/// 50 us. So a worker whose yield came back late spins without yielding for a while
/// ([`BUSY_FOR`]), if [`claim_spin`] lets it.
const SPIN: std::time::Duration = std::time::Duration::from_micros(100);

/// pyact patch: a yield that returns later than this gave the CPU to another process's
/// time slice (a yield to a thread waiting for this CPU returns within microseconds).
const YIELD_SLOW: std::time::Duration = std::time::Duration::from_millis(2);

/// pyact patch: the longest spin without yielding: a peer pinned to the same CPU (the other
/// end of a socket, in another process) waits that long for it; a round trip on a loaded
/// machine is shorter.
const BUSY_SPIN: std::time::Duration = std::time::Duration::from_micros(50);

/// pyact patch: how long a worker spins without yielding once a yield came back late; then
/// it yields again (and one late yield, a time slice lost, starts another period).
const BUSY_FOR: std::time::Duration = std::time::Duration::from_millis(250);

/// pyact patch: set while a worker of this process spins without yielding (see
/// [`claim_spin`]).
static SPINNER: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// pyact patch: the right to spin without yielding, released when dropped (see
/// [`claim_spin`]).
struct Spinning<'a>(&'a std::sync::atomic::AtomicBool);

impl Drop for Spinning<'_> {
    fn drop(&mut self) {
        self.0.store(false, Ordering::Release);
    }
}

/// pyact patch: may a worker spin without yielding now? Only if the process has `cpus >= 2`
/// to run on and no other worker holds `spinner`: at most one CPU of the process is ever
/// spent polling, and never the only one.
fn claim_spin(cpus: usize, spinner: &std::sync::atomic::AtomicBool) -> Option<Spinning<'_>> {
    if cpus < 2 {
        return None;
    }
    spinner
        .compare_exchange(false, true, Ordering::Acquire, Ordering::Relaxed)
        .ok()
        .map(|_| Spinning(spinner))
}

/// pyact patch: after a yield that took `took`, ending at `now`: until when to spin without
/// yielding (`None`: the yield came back in time, keep yielding).
fn busy_after_yield(
    took: std::time::Duration,
    now: std::time::Instant,
) -> Option<std::time::Instant> {
    (took > YIELD_SLOW).then(|| now + BUSY_FOR)
}

/// pyact patch: when a spin that may last `until` ends, from `now`: a spin without yielding
/// (`busy`) lasts at most [`BUSY_SPIN`].
fn spin_deadline(
    until: std::time::Instant,
    now: std::time::Instant,
    busy: bool,
) -> std::time::Instant {
    if busy {
        until.min(now + BUSY_SPIN)
    } else {
        until
    }
}

thread_local! {
    /// Until when this worker spins before it sleeps (`None`: it found nothing last time).
    static SPIN_UNTIL: std::cell::Cell<Option<std::time::Instant>> = const { std::cell::Cell::new(None) };
    /// pyact patch: until when this worker spins without yielding (see `SPIN`).
    static BUSY_UNTIL: std::cell::Cell<Option<std::time::Instant>> = const { std::cell::Cell::new(None) };
}

struct SingleSelector {
    epoll: Epoll,
    evfd: EventFd,
    #[cfg(feature = "io_timeout")]
    timer_list: TimerList,
    free_ev: Queue<Arc<EventData>>,
}

impl SingleSelector {
    pub fn new() -> io::Result<Self> {
        // wakeup data is 0
        let info = EpollEvent::new(EpollFlags::EPOLLIN, 0);

        let epoll = Epoll::new(EpollCreateFlags::EPOLL_CLOEXEC)?;
        let evfd = EventFd::from_flags(EfdFlags::EFD_NONBLOCK | EfdFlags::EFD_CLOEXEC)?;

        // add the eventfd to the epfd
        epoll.add(evfd.as_fd(), info)?;

        Ok(SingleSelector {
            epoll,
            evfd,
            free_ev: Queue::new(),
            #[cfg(feature = "io_timeout")]
            timer_list: TimerList::new(),
        })
    }
}

pub(crate) struct Selector {
    // 128 should be fine for max io threads
    vec: SmallVec<[SingleSelector; 128]>,
}

impl Selector {
    pub fn new(io_workers: usize) -> io::Result<Self> {
        let mut s = Selector {
            vec: SmallVec::new(),
        };

        for _ in 0..io_workers {
            let ss = SingleSelector::new()?;
            s.vec.push(ss);
        }

        Ok(s)
    }

    #[inline]
    pub fn select(
        &self,
        scheduler: &Scheduler,
        id: usize,
        events: &mut [SysEvent],
        _timeout: Option<u64>,
    ) -> io::Result<Option<u64>> {
        assert!(id < self.vec.len());
        #[cfg(feature = "io_timeout")]
        let timeout_ms = _timeout
            .map(|to| EpollTimeout::try_from(to.div_ceil(1_000_000)).unwrap())
            .unwrap_or(EpollTimeout::NONE);
        #[cfg(not(feature = "io_timeout"))]
        let timeout_ms = EpollTimeout::NONE;
        // info!("select; timeout={:?}", timeout_ms);

        let single_selector = &self.vec[id];
        let epoll = &single_selector.epoll;

        // pyact patch: a worker that just had I/O polls for a moment before it sleeps
        // (see `SPIN` and PYACT-PATCH.md).
        let mut n = 0;
        if let Some(until) = SPIN_UNTIL.get() {
            let start = std::time::Instant::now();
            let busy = BUSY_UNTIL.get().is_some_and(|b| start < b);
            // On a contended CPU: no yield, but one spinner at most, and never the only CPU.
            let claim = if busy {
                claim_spin(crate::scheduler::process_cpus(), &SPINNER)
            } else {
                None
            };
            if !busy || claim.is_some() {
                let until = spin_deadline(until, start, busy);
                loop {
                    n = epoll.wait(events, EpollTimeout::ZERO)?;
                    let now = std::time::Instant::now();
                    if n > 0 || now >= until {
                        break;
                    }
                    if busy {
                        std::hint::spin_loop();
                    } else {
                        std::thread::yield_now();
                        let back = std::time::Instant::now();
                        if let Some(b) = busy_after_yield(back - now, back) {
                            BUSY_UNTIL.set(Some(b));
                        }
                    }
                }
            }
        }
        // Wait for epoll events for at most timeout_ms milliseconds
        if n == 0 {
            n = epoll.wait(events, timeout_ms)?;
        }
        // println!("epoll_wait = {}", n);

        // collect coroutines
        // pyact patch: only socket readiness arms the spin, not an eventfd wake-up
        let mut sockets = 0;
        for event in &events[..n] {
            if event.data() != 0 {
                sockets += 1;
            }
        }
        SPIN_UNTIL.set((sockets > 0).then(|| std::time::Instant::now() + SPIN));
        for event in &events[..n] {
            if event.data() == 0 {
                // this is just a wakeup event, ignore it
                let mut buf = [0u8; 8];
                // clear the eventfd, ignore the result
                read(single_selector.evfd.as_fd(), &mut buf).ok();
                // info!("got wakeup event in select, id={}", id);
                scheduler.collect_global(id);
                continue;
            }
            let data = unsafe { &mut *(event.data() as *mut EventData) };
            let events = event.events().bits() as usize;
            // info!("select got event, data={:p}, events={}", data, events);
            data.io_flag.fetch_or(events, Ordering::Release);

            // first check the atomic co, this may be grab by the worker first
            let co = match data.co.take() {
                Some(co) => co,
                None => continue,
            };

            // it's safe to remove the timer since we are running the timer_list in the same thread
            #[cfg(feature = "io_timeout")]
            data.timer.borrow_mut().take().map(|h| {
                unsafe {
                    // tell the timer handler not to cancel the io
                    // it's not always true that you can really remove the timer entry
                    h.with_mut_data(|value| {
                        if let Some(d) = value.data.as_mut() {
                            d.event_data = std::ptr::null_mut();
                        }
                    });
                }
                h.remove()
            });

            #[cfg(feature = "work_steal")]
            scheduler.schedule_with_id(co, id);
            #[cfg(not(feature = "work_steal"))]
            crate::coroutine_impl::run_coroutine(co);
        }

        // run all the local tasks
        scheduler.run_queued_tasks(id);

        // free the unused event_data
        self.free_unused_event_data(id);

        // deal with the timer list
        #[cfg(feature = "io_timeout")]
        let next_expire = single_selector
            .timer_list
            .schedule_timer(now(), &timeout_handler);
        #[cfg(not(feature = "io_timeout"))]
        let next_expire = None;
        Ok(next_expire)
    }

    // this will post an os event so that we can wake up the event loop
    #[inline]
    pub fn wakeup(&self, id: usize) {
        let buf = 1u64.to_le_bytes();
        let ret = write(&self.vec[id].evfd, &buf);
        trace!("wakeup id={:?}, ret={:?}", id, ret);
    }

    // register io event to the selector
    #[inline]
    pub fn add_fd(&self, io_data: IoData) -> io::Result<IoData> {
        let info = EpollEvent::new(
            EpollFlags::EPOLLIN
                | EpollFlags::EPOLLOUT
                | EpollFlags::EPOLLRDHUP
                | EpollFlags::EPOLLET,
            io_data.as_ref() as *const _ as _,
        );

        let fd = io_data.fd;
        let id = fd as usize % self.vec.len();
        let single_selector = &self.vec[id];
        let epoll = &single_selector.epoll;
        debug!("add fd to epoll select, fd={:?}", fd);
        epoll
            .add(unsafe { BorrowedFd::borrow_raw(fd) }, info)
            .map_err(from_nix_error)
            .map(|_| io_data)
    }

    #[inline]
    pub fn mod_fd(&self, io_data: &IoData, is_read: bool) -> io::Result<()> {
        let mut info = if is_read {
            EpollEvent::new(
                EpollFlags::EPOLLIN | EpollFlags::EPOLLRDHUP | EpollFlags::EPOLLET,
                io_data.as_ref() as *const _ as _,
            )
        } else {
            EpollEvent::new(
                EpollFlags::EPOLLOUT | EpollFlags::EPOLLHUP | EpollFlags::EPOLLET,
                io_data.as_ref() as *const _ as _,
            )
        };

        let fd = io_data.fd;
        let id = fd as usize % self.vec.len();
        let single_selector = &self.vec[id];
        let epoll = &single_selector.epoll;
        debug!("mod fd to epoll select, fd={:?}, is_read={}", fd, is_read);
        epoll
            .modify(unsafe { BorrowedFd::borrow_raw(fd) }, &mut info)
            .map_err(from_nix_error)
    }

    #[inline]
    pub fn del_fd(&self, io_data: &IoData) {
        #[cfg(feature = "io_timeout")]
        if let Some(h) = io_data.timer.borrow_mut().take() {
            unsafe {
                // mark the timer as removed if any, this only happened
                // when cancel an IO. what if the timer expired at the same time?
                // because we run this func in the user space, so the timer handler
                // will not got the coroutine
                h.with_mut_data(|value| {
                    if let Some(d) = value.data.as_mut() {
                        d.event_data = std::ptr::null_mut();
                    }
                });
            }
        }

        let fd = io_data.fd;
        let id = fd as usize % self.vec.len();
        let single_selector = &self.vec[id];
        let epoll = &single_selector.epoll;
        debug!("del fd from epoll select, fd={:?}", fd);
        epoll.delete(unsafe { BorrowedFd::borrow_raw(fd) }).ok();

        // after EpollCtlDel push the unused event data
        single_selector.free_ev.push((*io_data).clone());
    }

    // we can't free the event data directly in the worker thread
    // must free them before the next epoll_wait
    #[inline]
    fn free_unused_event_data(&self, id: usize) {
        let free_ev = &self.vec[id].free_ev;
        while !free_ev.bulk_pop().is_empty() {}
    }

    // register the io request to the timeout list
    #[inline]
    #[cfg(feature = "io_timeout")]
    pub fn add_io_timer(&self, io: &IoData, timeout: Duration) {
        let id = io.fd as usize % self.vec.len();
        // info!("io timeout = {:?}", dur);
        let (h, b_new) = self.vec[id].timer_list.add_timer(timeout, io.timer_data());
        if b_new {
            // wake up the event loop thread to recall the next wait timeout
            self.wakeup(id);
        }
        io.timer.borrow_mut().replace(h);
    }
}

#[cfg(test)]
mod spin_tests {
    use super::{busy_after_yield, claim_spin, spin_deadline, BUSY_FOR, BUSY_SPIN, YIELD_SLOW};
    use std::sync::atomic::AtomicBool;
    use std::time::{Duration, Instant};

    /// pyact patch: a yield that lost a time slice (milliseconds) turns yielding off for
    /// `BUSY_FOR`; one that came back within microseconds does not.
    #[test]
    fn spin_busy_only_after_a_late_yield() {
        let now = Instant::now();
        assert_eq!(busy_after_yield(Duration::from_micros(5), now), None);
        assert_eq!(busy_after_yield(YIELD_SLOW, now), None);
        assert_eq!(
            busy_after_yield(Duration::from_millis(3), now),
            Some(now + BUSY_FOR)
        );
    }

    /// pyact patch: a spin without yielding ends after `BUSY_SPIN` at most; a yielding
    /// one keeps its whole `SPIN`.
    #[test]
    fn spin_busy_is_short() {
        let now = Instant::now();
        let until = now + Duration::from_micros(100);
        assert_eq!(spin_deadline(until, now, false), until);
        assert_eq!(spin_deadline(until, now, true), now + BUSY_SPIN);
        let soon = now + Duration::from_micros(10);
        assert_eq!(spin_deadline(soon, now, true), soon);
    }

    /// pyact patch: one spinner per process, never on a single CPU, and the right to spin
    /// comes back when the spinner stops.
    #[test]
    fn spin_claim_one_spinner_and_never_on_one_cpu() {
        let spinner = AtomicBool::new(false);
        assert!(claim_spin(1, &spinner).is_none(), "one CPU: no spin");
        assert!(claim_spin(0, &spinner).is_none());
        let first = claim_spin(2, &spinner).expect("two CPUs, nobody spinning");
        assert!(claim_spin(2, &spinner).is_none(), "a second spinner");
        assert!(claim_spin(8, &spinner).is_none(), "a second spinner");
        drop(first);
        assert!(claim_spin(2, &spinner).is_some(), "released when dropped");
    }
}
