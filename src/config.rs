//! Runtime configuration: worker threads, coroutine stack size, the live-actor limit, the
//! watchdog threshold, the cap on `blocking`'s helper threads and what happens to actor
//! panics.
//!
//! `may` reads its configuration once, when its scheduler starts, and silently ignores any
//! later change. pyact therefore owns that configuration: [`Config::apply`] writes it into
//! `may` exactly once, before anything else in the process touches `may`, and every entry
//! point of pyact (creating a [`Mesh`](crate::Mesh), spawning) applies the defaults first if
//! the user did not. A second, different configuration is refused with a typed error instead
//! of being ignored.
//!
//! ## Configuration and memory
//!
//! `pyact::config::Config::default().workers(n).stack_size(bytes).apply()` before the first `Mesh`
//! (`may` ignores configuration once started, so pyact refuses a second, different one with
//! `ConfigError::AlreadyStarted`). Defaults: all cores, 1 MiB stacks. The stack is virtual
//! memory: it must hold the deepest JSON serde_json accepts (128 levels) in a debug build, and a
//! stack overflow aborts the process, but untouched pages cost nothing.
//! An idle actor costs about **5.45 KiB resident**: the stack page it is parked on plus ~1.45 KiB
//! of pyact (the vendored `generator` no longer writes to the bottom page of every stack; see
//! vendor/README.md). Finished actors' coroutines are reused by default: an actor's coroutine
//! parks in a pool when the actor ends and runs the next spawned actor; the pool starts empty,
//! grows as actors end (up to `Config::pool_capacity`, default 1,048,576) and ends each second
//! half of what sat unused, so a warm spawn is a hand-off that neither maps a stack nor goes
//! through `may`'s spawn, and a ring hop unmaps nothing.
//! `pyact::blocking::blocking` runs at most `Config::blocking_threads` (default 512) helper threads;
//! further calls wait in a queue for a free one.
//!
//! ## A million actors
//!
//! A million actors: `cargo run --release --example ring -- 1000000`. Actors' stacks are carved
//! out of shared mappings, 64 per mapping (vendor/README.md), and Linux caps a process at
//! `vm.max_map_count` mappings (65,530 by default): on Linux 6.13 or newer that allows about 3.6
//! million actors. Older kernels lack the guard markers that let guard pages share a mapping, so
//! there each stack is two mappings (about 28,000 actors by default). The default limit is
//! also kept within 80% of memory (6 KiB per idle actor; the cgroup limit and `RLIMIT_AS` count
//! too), so an idle crowd cannot bring on the OOM killer. pyact counts live actors and returns
//! `SpawnError::TooManyActors` at the limit, before `may` would abort; the ring example tells you
//! what to raise, e.g. `sudo sysctl -w vm.max_map_count=4194304`.

use std::sync::OnceLock;
use std::time::Duration;

/// Default coroutine stack: 1 MiB of *virtual* memory.
///
/// Why so large: a coroutine stack overflow aborts the whole process, and serde_json recurses
/// once per nesting level. In a debug build serializing and parsing a 127-deep value (the
/// deepest serde_json accepts) needs a few hundred KiB. The stack is an `mmap`ed region, so
/// pages an actor never touches cost no resident memory: an idle actor still costs about
/// 5.45 KiB resident (see the [module docs](self#configuration-and-memory)).
pub const DEFAULT_STACK_SIZE: usize = 1 << 20;

/// Default bound of the coroutine pool (see [`Config::pool_capacity`]).
pub const DEFAULT_POOL_CAPACITY: usize = 1 << 20;

/// Maps kept free for the rest of the process (heap, libraries, threads, pooled stacks).
const MAP_RESERVE: usize = 8_192;

/// Tuning knobs for the runtime. Build one, then [`apply`](Config::apply) it before the
/// first [`Mesh`](crate::Mesh) is created.
///
/// ```
/// let cfg = pyact::config::Config::default().workers(2).stack_size(512 * 1024);
/// // Either applied now, or refused because this process already runs another config.
/// match cfg.apply() {
///     Ok(()) | Err(pyact::config::ConfigError::AlreadyStarted { .. }) => {}
///     Err(e) => panic!("{e}"),
/// }
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[must_use = "a Config does nothing until `.apply()`"]
pub struct Config {
    workers: usize,
    stack_size: usize,
    max_actors: Option<usize>,
    exit_records: usize,
    pool_capacity: usize,
    watchdog: Option<Duration>,
    panic_output: bool,
    blocking_threads: usize,
}

/// Default [`Config::watchdog`] threshold.
pub const DEFAULT_WATCHDOG: Duration = Duration::from_millis(100);

impl Default for Config {
    fn default() -> Self {
        Config {
            workers: std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(1),
            stack_size: DEFAULT_STACK_SIZE,
            max_actors: None,
            exit_records: 65_536,
            pool_capacity: DEFAULT_POOL_CAPACITY,
            watchdog: Some(DEFAULT_WATCHDOG),
            panic_output: false,
            blocking_threads: crate::blocking::DEFAULT_BLOCKING_THREADS,
        }
    }
}

/// Why a configuration could not be applied.
///
/// ```
/// use pyact::config::{Config, ConfigError};
/// let err = Config::default().workers(0).apply().unwrap_err();
/// assert!(matches!(err, ConfigError::Invalid(_)));
/// assert!(err.to_string().contains("workers"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ConfigError {
    /// The runtime already started with another configuration (`may` cannot be reconfigured).
    AlreadyStarted {
        /// The configuration that is in force.
        running: Box<Config>,
    },
    /// A value is out of range.
    Invalid(&'static str),
}

impl std::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ConfigError::AlreadyStarted { running } => write!(
                f,
                "the pyact runtime already started with {running:?}; configure it before the first Mesh"
            ),
            ConfigError::Invalid(why) => write!(f, "invalid configuration: {why}"),
        }
    }
}

impl std::error::Error for ConfigError {}

static APPLIED: OnceLock<Config> = OnceLock::new();

impl Config {
    /// Number of scheduler worker threads (default: all cores).
    ///
    /// ```
    /// let c = pyact::config::Config::default().workers(2);
    /// assert_eq!(c.worker_count(), 2);
    /// ```
    pub fn workers(mut self, n: usize) -> Self {
        self.workers = n;
        self
    }

    /// Coroutine stack size in bytes (default [`DEFAULT_STACK_SIZE`]).
    ///
    /// ```
    /// let c = pyact::config::Config::default().stack_size(256 * 1024);
    /// assert_eq!(c.stack_bytes(), 256 * 1024);
    /// // Too small to run an actor: refused before anything starts.
    /// assert!(pyact::config::Config::default().stack_size(1024).apply().is_err());
    /// ```
    pub fn stack_size(mut self, bytes: usize) -> Self {
        self.stack_size = bytes;
        self
    }

    /// Most actors alive at once; spawning past it is [`SpawnError::TooManyActors`](crate::SpawnError::TooManyActors), never an abort or an OOM kill. The default is the
    /// lowest of:
    ///
    /// - **memory maps**: `may` aborts when they run out. Coroutine stacks share slab
    ///   mappings of 64 (vendor/README.md: guard pages are guard markers on Linux 6.13+, so
    ///   the default `vm.max_map_count` of 65,530 holds ~3.6 million stacks; on older
    ///   kernels each stack's `mprotect` guard makes it two mappings, ~28,000 actors);
    /// - **memory**: 80% of the machine's memory (`MemTotal`, or the cgroup's memory limit
    ///   when lower) divided by 6 KiB, what an idle actor keeps resident (5.45 KiB measured);
    /// - **address space**: 80% of `RLIMIT_AS` (when set) divided by the stack size plus
    ///   its guard page, since each stack reserves that much address space.
    ///
    /// ```
    /// let c = pyact::config::Config::default();
    /// assert!(c.actor_limit() > 1_000); // on any machine that runs the tests
    /// ```
    pub fn max_actors(mut self, n: usize) -> Self {
        self.max_actors = Some(n);
        self
    }

    /// How many ended actors per node keep their exit reason for a late
    /// [`Node::wait`](crate::Node::wait) (oldest forgotten first; default 65,536). A wait
    /// on an actor whose record was forgotten gets
    /// [`ExitReason::NoSuchActor`](crate::ExitReason::NoSuchActor), Erlang's `noproc`: a
    /// program that waits for more actors than this after they end should wait while they
    /// run, or monitor them.
    ///
    /// ```
    /// let c = pyact::config::Config::default().exit_records(1_000);
    /// assert_eq!(c.exit_record_count(), 1_000);
    /// ```
    pub fn exit_records(mut self, n: usize) -> Self {
        self.exit_records = n;
        self
    }

    /// Most finished coroutines kept for reuse (default [`DEFAULT_POOL_CAPACITY`]).
    ///
    /// An actor's coroutine that ends while the pool has room parks in it instead of ending,
    /// and the next spawn hands its function to that coroutine: no `mmap`, `mprotect` or
    /// page faults of a fresh stack, no `munmap`, and none of `may`'s spawn work (see
    /// BENCHMARKS-HISTORY.md). The pool starts empty, grows only as actors end, and each second ends
    /// half of the coroutines that sat unused in it that whole second (above a few hundred);
    /// each pooled coroutine holds its stack (two memory mappings and the pages its last
    /// actor touched). Pooled coroutines never push the process past the live-actor limit's
    /// memory maps: a stack is only mapped when the pool is empty. 0 or 1 keeps a single one.
    ///
    /// ```
    /// let c = pyact::config::Config::default().pool_capacity(64);
    /// assert_eq!(c.pool_limit(), 64);
    /// ```
    pub fn pool_capacity(mut self, n: usize) -> Self {
        self.pool_capacity = n;
        self
    }

    /// Report (with `log::warn!`, once per incident) an actor that holds its worker thread
    /// longer than this without a pyact call; `None` turns the watchdog off. Default
    /// [`DEFAULT_WATCHDOG`] (100 ms). See [the watchdog](crate::actor#the-watchdog).
    ///
    /// ```
    /// use std::time::Duration;
    /// let c = pyact::config::Config::default().watchdog(Some(Duration::from_millis(250)));
    /// assert_eq!(c.watchdog_threshold(), Some(Duration::from_millis(250)));
    /// assert_eq!(c.watchdog(None).watchdog_threshold(), None);
    /// ```
    pub fn watchdog(mut self, threshold: Option<Duration>) -> Self {
        self.watchdog = threshold;
        self
    }

    /// Keep Rust's panic hook output (the "thread panicked at" message, and a backtrace if
    /// `RUST_BACKTRACE` is set) for panics in actors. Default `false`: an actor's panic is
    /// reported once with its address, registered name and message (through `log::error!`,
    /// or on stderr when no logger would show it), and the hook's output is suppressed for
    /// actor panics only (panics outside actors still reach the hook in force). See
    /// [`crate::actor`].
    ///
    /// ```
    /// let c = pyact::config::Config::default();
    /// assert!(!c.keeps_panic_output());
    /// assert!(c.panic_output(true).keeps_panic_output());
    /// ```
    pub fn panic_output(mut self, keep: bool) -> Self {
        self.panic_output = keep;
        self
    }

    /// Most helper threads [`blocking`](crate::blocking::blocking()) runs at once (default
    /// [`DEFAULT_BLOCKING_THREADS`](crate::blocking::DEFAULT_BLOCKING_THREADS), 512). More
    /// calls than this wait in a queue for a free helper, so a burst of blocking calls
    /// costs a bounded number of OS threads (each with its own stack) instead of one
    /// thread per call. At least 1.
    ///
    /// ```
    /// let cfg = pyact::config::Config::default().blocking_threads(64);
    /// assert_eq!(cfg.blocking_thread_limit(), 64);
    /// ```
    pub fn blocking_threads(mut self, n: usize) -> Self {
        self.blocking_threads = n;
        self
    }

    /// The configured cap on [`blocking`](crate::blocking::blocking())'s helper threads.
    pub fn blocking_thread_limit(&self) -> usize {
        self.blocking_threads
    }

    /// The watchdog threshold in force (`None`: off).
    ///
    /// ```
    /// let c = pyact::config::Config::default();
    /// assert_eq!(c.watchdog_threshold(), Some(pyact::config::DEFAULT_WATCHDOG));
    /// ```
    pub fn watchdog_threshold(&self) -> Option<Duration> {
        self.watchdog
    }

    /// Whether actor panics also go to the panic hook.
    ///
    /// ```
    /// assert!(pyact::config::Config::default().panic_output(true).keeps_panic_output());
    /// ```
    pub fn keeps_panic_output(&self) -> bool {
        self.panic_output
    }

    /// The configured worker count.
    ///
    /// ```
    /// let c = pyact::config::Config::default();
    /// assert!(c.worker_count() >= 1); // all cores by default
    /// ```
    pub fn worker_count(&self) -> usize {
        self.workers
    }

    /// The configured stack size in bytes.
    ///
    /// ```
    /// let c = pyact::config::Config::default();
    /// assert_eq!(c.stack_bytes(), pyact::config::DEFAULT_STACK_SIZE);
    /// ```
    pub fn stack_bytes(&self) -> usize {
        self.stack_size
    }

    /// The live-actor limit in force: the explicit one, or the default derived from memory
    /// maps, memory and address space (see [`Config::max_actors`]).
    ///
    /// ```
    /// let c = pyact::config::Config::default().max_actors(10_000);
    /// assert_eq!(c.actor_limit(), 10_000);
    /// ```
    pub fn actor_limit(&self) -> usize {
        self.max_actors.unwrap_or_else(|| {
            map_limited_actors(self.stack_size)
                .min(memory_limited_actors(self.stack_size))
                .max(1)
        })
    }

    /// The configured bound of the coroutine pool.
    ///
    /// ```
    /// let c = pyact::config::Config::default();
    /// assert_eq!(c.pool_limit(), pyact::config::DEFAULT_POOL_CAPACITY);
    /// ```
    pub fn pool_limit(&self) -> usize {
        self.pool_capacity
    }

    /// The configured number of exit records kept per node.
    ///
    /// ```
    /// assert_eq!(pyact::config::Config::default().exit_record_count(), 65_536);
    /// ```
    pub fn exit_record_count(&self) -> usize {
        self.exit_records
    }

    /// Write this configuration into `may`. Succeeds if it is the first one (or equal to the
    /// one in force); otherwise reports the configuration that is running.
    ///
    /// A bad value is refused whether or not the runtime started:
    /// ```
    /// use std::time::Duration;
    /// let zero = Some(Duration::ZERO);
    /// let err = pyact::config::Config::default().watchdog(zero).apply().unwrap_err();
    /// assert!(matches!(err, pyact::config::ConfigError::Invalid(_)));
    /// ```
    pub fn apply(self) -> Result<(), ConfigError> {
        if self.workers == 0 {
            return Err(ConfigError::Invalid("workers must be at least 1"));
        }
        if self.watchdog.is_some_and(|t| t.is_zero()) {
            return Err(ConfigError::Invalid("watchdog threshold must be positive"));
        }
        if self.blocking_threads == 0 {
            return Err(ConfigError::Invalid("blocking_threads must be at least 1"));
        }
        if self.stack_size < 16 * 1024 {
            return Err(ConfigError::Invalid("stack_size must be at least 16 KiB"));
        }
        let mut fresh = false;
        let running = APPLIED.get_or_init(|| {
            fresh = true;
            self.clone()
        });
        if fresh {
            let words = stack_words_for(self.stack_size);
            may::config()
                .set_workers(self.workers)
                .set_stack_size(words)
                // Near-empty at start-up: `may` builds the whole pool now (and reads 0 as
                // its default, 1,000). The pool grows lazily from the first ended
                // coroutine on (src/pool.rs).
                .set_pool_capacity(1);
            crate::panic::install(self.panic_output);
            log::debug!("pyact runtime configured: {self:?}");
            Ok(())
        } else if *running == self {
            Ok(())
        } else {
            Err(ConfigError::AlreadyStarted {
                running: Box::new(running.clone()),
            })
        }
    }
}

/// The configuration in force, applying the default one if nobody applied any.
pub(crate) fn current() -> &'static Config {
    if let Some(c) = APPLIED.get() {
        return c;
    }
    let _ = Config::default().apply();
    APPLIED.get().expect("configuration applied above")
}

/// The `may` stack size, in words, that pyact spawns every actor with (so pooled stacks are
/// reused).
pub(crate) fn stack_words() -> usize {
    may::config().get_stack_size()
}

/// The `may` stack size in words for `bytes` (even: an odd size asks for full usage tracking).
fn stack_words_for(bytes: usize) -> usize {
    (bytes / std::mem::size_of::<usize>()) & !1
}

/// What an idle actor keeps resident, for the default live-actor limit: its stack's top page
/// (4 KiB) plus its cell, mailbox, `may`'s coroutine record and the allocator's share. Measured
/// at 5.45 KiB (`cargo run --release --example workload -- idle 100000`, BENCHMARKS.md),
/// rounded up.
pub(crate) const IDLE_ACTOR_BYTES: usize = 6 * 1024;

/// The share of memory (and of `RLIMIT_AS`) the default live-actor limit lets idle actors
/// take, in percent: the rest is for the program's own data and messages.
const MEMORY_SHARE_PERCENT: usize = 80;

/// How many idle actors fit in [`MEMORY_SHARE_PERCENT`] of the memory this process may use
/// (the lowest of `MemTotal`, the cgroup v2 `memory.max`), and their stacks in that share of
/// its address space limit (`RLIMIT_AS`, when set). A bound that cannot be read is no bound.
fn memory_limited_actors(stack_bytes: usize) -> usize {
    let share = |bytes: u64| (bytes as u128 * MEMORY_SHARE_PERCENT as u128 / 100) as usize;
    let memory = [total_memory(), cgroup_memory_max()]
        .into_iter()
        .flatten()
        .min()
        .map_or(usize::MAX, |m| share(m) / IDLE_ACTOR_BYTES);
    let address_space =
        address_space_limit().map_or(usize::MAX, |a| share(a) / (stack_bytes.max(1) + 4096));
    memory.min(address_space)
}

/// `MemTotal` from `/proc/meminfo`, in bytes.
fn total_memory() -> Option<u64> {
    let info = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = info.lines().find(|l| l.starts_with("MemTotal:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

/// The memory limit of this process's cgroup (v2 `memory.max`, or v1
/// `memory.limit_in_bytes`), when there is one.
fn cgroup_memory_max() -> Option<u64> {
    let cgroup = std::fs::read_to_string("/proc/self/cgroup").ok()?;
    let read = |file: String| {
        std::fs::read_to_string(file)
            .ok()?
            .trim()
            .parse::<u64>()
            .ok()
    };
    let v2 = cgroup
        .lines()
        .find_map(|l| l.strip_prefix("0::"))
        .and_then(|p| read(format!("/sys/fs/cgroup{}/memory.max", p.trim()))); // "max": none
    let v1 = cgroup
        .lines()
        .find_map(|l| l.split_once(":memory:").map(|(_, p)| p))
        .and_then(|p| {
            read(format!(
                "/sys/fs/cgroup/memory{}/memory.limit_in_bytes",
                p.trim()
            ))
        });
    v2.into_iter().chain(v1).min()
}

/// The soft `RLIMIT_AS` of this process in bytes (`/proc/self/limits`), when it is set.
fn address_space_limit() -> Option<u64> {
    let limits = std::fs::read_to_string("/proc/self/limits").ok()?;
    let line = limits
        .lines()
        .find(|l| l.starts_with("Max address space"))?;
    line.split_whitespace().nth(3)?.parse().ok() // "unlimited": no limit
}

/// How many coroutine stacks of `stack_bytes` fit in `vm.max_map_count` (less the reserve),
/// as the vendored `generator`'s slab allocator lays them out: 64 per mapping with guard
/// markers, about two mappings per stack with `mprotect` guards (vendor/README.md).
/// Idle runners need no extra room: a stack is only allocated when no runner is idle, so
/// live actors + idle runners never exceed the live actors at the busiest moment, plus the
/// few runners between an actor's end and their park (at most one per worker thread, inside
/// the reserve; src/pool.rs); stacks given back wait in their slab and are reused before a
/// new slab is mapped.
fn map_limited_actors(stack_bytes: usize) -> usize {
    let maps = std::fs::read_to_string("/proc/sys/vm/max_map_count")
        .ok()
        .and_then(|s| s.trim().parse::<usize>().ok())
        .unwrap_or(65_530);
    let words = stack_words_for(stack_bytes);
    generator::stacks_within(maps.saturating_sub(MAP_RESERVE), words)
}
