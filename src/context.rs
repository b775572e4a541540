//! What pyact knows about the running coroutine or thread: the actor it is (if any), a
//! thread's inboxes, and the checkpoints where an actor that was killed stops.
//!
//! Separate from `actor.rs` because everything reads it (sends pick their node here, a
//! receive checks its doom here) while only `actor.rs` writes it when a coroutine starts.

use crate::actor::ExitUnwind;
use crate::cell::ActorCell;
use crate::{Address, Node};
use std::cell::RefCell;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;

/// What pyact knows about the running coroutine or thread.
///
/// - `actor`: the actor whose coroutine this is (set once, when it starts). It wins over
///   everything else, so an [`inbox`](Node::inbox) made inside an actor never changes that
///   actor's [`curaddr`].
/// - `elsewhere`: what a context that is not an actor's has (see [`Elsewhere`]). Boxed, made
///   at its first use: an actor's coroutine never has it, and every idle actor holds its
///   context, 32 bytes this way (a 48-byte malloc block with the `RefCell`), 64 unboxed (an
///   80-byte block).
#[derive(Default)]
pub(crate) struct Context {
    pub(crate) actor: Option<(Node, Arc<ActorCell>)>,
    elsewhere: Option<Box<Elsewhere>>,
}

// The box `may` keeps an actor's context in (see `Context`'s `elsewhere`).
const _: () = assert!(std::mem::size_of::<RefCell<Context>>() <= 40);

/// The context of a plain thread or of one of the network's coroutines.
///
/// - `inboxes`: a thread's live inboxes, newest last. An inbox leaves the list when it is
///   dropped, so a thread's context follows its inboxes' lives (the newest live one is
///   "here"; none left means no context).
/// - `other`: a node context without an inbox (the network's reader loops).
#[derive(Default)]
struct Elsewhere {
    inboxes: Vec<(Node, Address)>,
    other: Option<(Node, Option<Address>)>,
}

impl Context {
    fn get(&self) -> Option<(Node, Option<Address>)> {
        if let Some((n, cell)) = &self.actor {
            return Some((n.clone(), Some(cell.address())));
        }
        let e = self.elsewhere.as_deref()?;
        if let Some((n, a)) = e.inboxes.last() {
            return Some((n.clone(), Some(a.clone())));
        }
        e.other.clone()
    }

    /// The node that is "here": the actor's, else the thread's newest inbox's, else the
    /// network loop's.
    fn node_ref(&self) -> Option<&Node> {
        if let Some((n, _)) = &self.actor {
            return Some(n);
        }
        let e = self.elsewhere.as_deref()?;
        e.inboxes
            .last()
            .map(|(n, _)| n)
            .or(e.other.as_ref().map(|(n, _)| n))
    }

    pub(crate) fn node(&self) -> Option<Node> {
        self.node_ref().cloned()
    }

    fn node_name(&self) -> Option<&str> {
        self.node_ref().map(Node::name)
    }
}

impl Drop for Context {
    /// An actor's context is dropped with its coroutine's local storage. If its cell was never
    /// finished, the coroutine was abandoned without unwinding: that is what `generator` (under
    /// `may`) does when a coroutine runs into its stack's guard page. See
    /// [`crate::actor`]'s "Stack overflow" section for why pyact aborts here.
    fn drop(&mut self) {
        if let Some((node, cell)) = &self.actor
            && !cell.queue.is_closed()
        {
            stack_overflow_abort(node, cell);
        }
    }
}

/// The process cannot go on soundly: report which actor overflowed its stack, then abort.
#[cold]
fn stack_overflow_abort(node: &Node, cell: &ActorCell) -> ! {
    let name = cell
        .state
        .try_lock()
        .ok()
        .and_then(|st| st.name.clone())
        .map(|n| format!(" (registered as {n:?})"))
        .unwrap_or_default();
    let msg = format!(
        "pyact: actor {}/{}/{}{name} on node {} overflowed its coroutine stack (or was abandoned \
         by the scheduler without unwinding); aborting the process: its frames were never \
         unwound, so nothing it held can be released safely. Raise Config::stack_size or \
         make the recursion iterative.",
        cell.node_id,
        cell.id,
        cell.creation,
        node.name()
    );
    log::error!("{msg}");
    // A fatal message must reach the terminal even without a logger installed, as the
    // standard library's own "thread has overflowed its stack" does.
    eprintln!("{msg}");
    std::process::abort()
}

may::coroutine_local!(static CONTEXT: RefCell<Context> = RefCell::new(Context::default()));

/// Run `f` on this coroutine's (or thread's) context: `may`'s coroutine-local macro makes
/// private statics only, so the rest of the crate reaches it through here.
pub(crate) fn with_context<T>(f: impl FnOnce(&RefCell<Context>) -> T) -> T {
    CONTEXT.with(f)
}

/// Make the running coroutine as fresh as a new one, between two closures on a pooled
/// coroutine (`pool::park_idle`): pyact's context is emptied in place (its allocation is
/// kept for the next closure) and every other coroutine-local value is dropped (see
/// `may::coroutine::reset_local_data`). The context is emptied first, so the old one's drop
/// still checks that its actor finished.
pub(crate) fn reset_coroutine() {
    let old = CONTEXT.with(|c| std::mem::take(&mut *c.borrow_mut()));
    drop(old);
    may::coroutine::reset_local_data_keeping(&CONTEXT);
}

/// The node and address of the running actor (or of the thread's newest live inbox).
pub(crate) fn context() -> Option<(Node, Option<Address>)> {
    CONTEXT.with(|c| c.borrow().get())
}

/// May code running here deliver straight into a mailbox of node `node_id`? Yes outside any
/// node's context, or inside one of that node; no from another node's actor (that message
/// must cross the wire, with its cookie check and ordering).
#[inline]
pub(crate) fn may_deliver_locally(node_id: &str) -> bool {
    CONTEXT.with(|c| c.borrow().node_name().is_none_or(|n| n == node_id))
}

/// Set (or clear) a node context without an inbox, e.g. for the network's reader loops.
pub(crate) fn set_context(ctx: Option<(Node, Option<Address>)>) {
    CONTEXT.with(|c| {
        let mut c = c.borrow_mut();
        match (&mut c.elsewhere, ctx) {
            (Some(e), ctx) => e.other = ctx,
            (None, None) => {}
            (e @ None, ctx) => {
                *e = Some(Box::new(Elsewhere {
                    inboxes: Vec::new(),
                    other: ctx,
                }))
            }
        }
    });
}

/// Make `addr` (a thread's new inbox) the thread's context, unless this is an actor's
/// coroutine (an actor's `curaddr` never changes).
pub(crate) fn push_inbox(node: &Node, addr: Address) {
    CONTEXT.with(|c| {
        let mut c = c.borrow_mut();
        if c.actor.is_none() {
            let e = c.elsewhere.get_or_insert_with(Box::default);
            e.inboxes.push((node.clone(), addr));
        }
    });
}

/// An inbox ended: it no longer counts as the thread's context.
pub(crate) fn pop_inbox(addr: &Address) {
    // `try_with`-like safety: during thread teardown the local may be gone already.
    let _ = std::panic::catch_unwind(AssertUnwindSafe(|| {
        CONTEXT.with(|c| {
            if let Ok(mut c) = c.try_borrow_mut()
                && let Some(e) = &mut c.elsewhere
            {
                e.inboxes.retain(|(_, a)| a != addr);
            }
        })
    }));
}

/// The cell of the actor whose coroutine is running, if this is one.
pub(crate) fn current_actor() -> Option<Arc<ActorCell>> {
    CONTEXT.with(|c| c.borrow().actor.as_ref().map(|(_, cell)| cell.clone()))
}

/// Is this an actor's coroutine? (For the panic hook: cheap, never panics.)
pub(crate) fn in_actor() -> bool {
    may::coroutine::is_coroutine()
        && CONTEXT.with(|c| c.try_borrow().is_ok_and(|c| c.actor.is_some()))
}

/// The running actor's cell as a number, only for the watchdog's identity checks (0 outside
/// an actor).
#[inline]
pub(crate) fn current_actor_ptr() -> usize {
    CONTEXT.with(|c| {
        c.borrow()
            .actor
            .as_ref()
            .map_or(0, |(_, cell)| Arc::as_ptr(cell) as usize)
    })
}

/// The kill check every pyact call makes: if an exit signal that ends this actor is
/// pending, end it now (by unwinding its coroutine). Cheap when none is pending: one
/// coroutine-local lookup and one atomic load.
#[inline]
pub(crate) fn checkpoint() {
    checkpoint_and(|_| ())
}

/// [`checkpoint`], also reading `what` of the context in the same coroutine-local lookup
/// (a spawn's node and "am I an actor?").
#[inline]
pub(crate) fn checkpoint_and<T>(what: impl FnOnce(&Context) -> T) -> T {
    let (doomed, got) = CONTEXT.with(|c| {
        let c = c.borrow();
        let doomed = match &c.actor {
            Some((_, cell)) if cell.queue.is_doomed() => Some(cell.clone()),
            _ => None,
        };
        (doomed, what(&c))
    });
    if let Some(cell) = doomed {
        die_if_doomed(&cell);
    }
    got
}

/// A send's hot path: the kill check and [`may_deliver_locally`] for `node_id` (if the
/// target resolved to a live cell) with one coroutine-local lookup. Returns whether the
/// message may go straight into that cell.
#[inline]
pub(crate) fn checkpoint_may_deliver(node_id: Option<&str>) -> bool {
    let (doomed, local) = CONTEXT.with(|c| {
        let c = c.borrow();
        let doomed = match &c.actor {
            Some((_, cell)) if cell.queue.is_doomed() => Some(cell.clone()),
            _ => None,
        };
        let here = c.node_name();
        let local = node_id.is_some_and(|id| here.is_none_or(|n| n == id));
        (doomed, local)
    });
    if let Some(cell) = doomed {
        die_if_doomed(&cell);
    }
    local
}

/// End the running actor (`cell`) if a deadly exit signal is pending for it. Never unwinds
/// while a panic is already unwinding (that would abort): the actor is ending anyway.
#[cold]
pub(crate) fn die_if_doomed(cell: &ActorCell) {
    if std::thread::panicking() {
        return;
    }
    if let Some(reason) = cell.take_doom() {
        std::panic::resume_unwind(Box::new(ExitUnwind(reason)));
    }
}
