//! The running supervisor: its state ([`SupervisorServer`]), how it starts, stops and
//! restarts its children, and how it answers its calls.
//!
//! Separate from `mod.rs`, which holds what a user writes (the specs, the strategy, the
//! client calls): this is the machinery behind them, read when changing the semantics the
//! module docs set down.

use std::collections::VecDeque;
use std::fmt;
use std::time::Instant;

use serde_json::{Value, json};

use super::*;

/// A supervised child.
struct Child {
    /// Unique within the supervisor, stable across restarts.
    key: u64,
    spec: ChildSpec,
    args: Value,
    addr: Option<Address>,
}

/// Why a child could not be started.
enum StartFailure {
    Spawn(SpawnError),
    /// Exited before its ack; carries its address and its exit message.
    Exited(Address, Value),
    /// Did not ack within [`START_TIMEOUT`] (and was killed).
    NoAck(Address),
}

impl fmt::Display for StartFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StartFailure::Spawn(e) => write!(f, "{e}"),
            StartFailure::Exited(a, msg) => write!(f, "{a} exited with {}", msg["exit"]),
            StartFailure::NoAck(a) => write!(f, "{a} did not ack within {START_TIMEOUT:?}"),
        }
    }
}

/// The supervisor's state, run by [`serve`].
pub(super) struct SupervisorServer {
    spec: Supervisor,
    children: Vec<Child>,
    restarts: VecDeque<Instant>,
    next_key: u64,
}

/// `{"address": a, "exit": r}`: a trapped exit.
fn parse_exit(msg: &Value) -> Option<(Address, ExitReason)> {
    let exit = crate::link::Exit::try_from(msg).ok()?;
    Some((exit.address, exit.reason))
}

/// Spawn one child linked to the supervisor and, if it starts synchronously, wait for its
/// ack or its exit.
fn start_one(ctx: &mut Context, spec: &ChildSpec, args: &Value) -> Result<Address, StartFailure> {
    let me = ctx.addr();
    let ack = spec.sync_start.then(Ref::new);
    let ack_to = ack.map(|r| (me.clone(), r));
    let factory = spec.start.clone();
    let args = args.clone();
    // A synchronous start waits for the child's init: it cannot wait for a first message.
    let mut opts = spec.opts.clone();
    opts.start_on_message &= !spec.sync_start;
    let addr = ctx
        .node()
        .spawn_link_opts(&me, &opts, move |mb| {
            if let Some(a) = ack_to {
                START_ACK.with(|c| *c.borrow_mut() = Some(a));
            }
            factory(mb, args)
        })
        .map_err(StartFailure::Spawn)?;
    if let Some(r) = ack {
        let started = crate::pattern!({"$started": = r});
        let exited = crate::pattern!({"address": = addr, "exit": _});
        match ctx.receive_match_timeout(&[&started, &exited], START_TIMEOUT) {
            Ok((1, msg)) => return Err(StartFailure::Exited(addr, msg)),
            Ok(_) => {}
            Err(_) => {
                // A start that never acks must not hang the supervisor: kill the child and
                // fail the start (its exit message is dropped by the shutdown wait).
                shutdown_child(ctx, &addr, Shutdown::BrutalKill);
                return Err(StartFailure::NoAck(addr));
            }
        }
    }
    Ok(addr)
}

/// Stop one child (see "Stopping a child" in the module docs); returns its exit reason.
fn shutdown_child(ctx: &mut Context, child: &Address, how: Shutdown) -> ExitReason {
    let me = ctx.addr();
    let mref = ctx.monitor(child);
    let _ = match how {
        Shutdown::BrutalKill => child.kill(),
        _ => child.exit(&me, ExitReason::Shutdown),
    };
    let exited = crate::pattern!({"address": = child, "exit": _});
    let down = crate::pattern!({"down": = mref});
    let pats = [&exited, &down];
    let got = match how {
        Shutdown::Timeout(t) => ctx.receive_match_timeout(&pats, t).ok(),
        _ => None,
    };
    let got = got.or_else(|| match how {
        Shutdown::Infinity => Some(ctx.receive_match(&pats)),
        Shutdown::Timeout(t) => {
            log::warn!("supervisor {me}: child {child} did not stop within {t:?}; killing it");
            let _ = child.kill();
            ctx.receive_match_timeout(&pats, KILL_TIMEOUT).ok()
        }
        Shutdown::BrutalKill => ctx.receive_match_timeout(&pats, KILL_TIMEOUT).ok(),
    });
    let Some((which, msg)) = got else {
        // A kill acts at the child's next pyact call; a child that makes none (a busy loop,
        // a blocking std call) cannot be stopped. Give up on it rather than hang the tree.
        log::error!(
            "supervisor {me}: child {child} did not end within {KILL_TIMEOUT:?} of being \
             killed (busy outside any pyact call?); abandoning it"
        );
        ctx.demonitor(mref);
        return ExitReason::Killed;
    };
    if which == 0 {
        ctx.demonitor(mref);
    } else {
        // The link's exit message, if the link was still there, came before the DOWN.
        let _ = ctx.try_receive_match(&[&exited]);
    }
    serde_json::from_value(msg["exit"].clone()).unwrap_or(ExitReason::NoSuchActor)
}

impl SupervisorServer {
    /// A supervisor with no child started yet (its `init` starts them).
    pub(super) fn new(spec: Supervisor) -> Self {
        SupervisorServer {
            spec,
            children: Vec::new(),
            restarts: VecDeque::new(),
            next_key: 0,
        }
    }

    fn new_child(&mut self, spec: ChildSpec, args: Value) -> Child {
        self.next_key += 1;
        Child {
            key: self.next_key,
            spec,
            args,
            addr: None,
        }
    }

    fn info(&self) -> Vec<ChildInfo> {
        self.children
            .iter()
            .map(|c| ChildInfo {
                id: c.spec.id.clone(),
                address: c.addr.clone(),
                kind: c.spec.kind,
                args: c.args.clone(),
            })
            .collect()
    }

    fn validate(&self) -> Result<(), String> {
        if self.spec.strategy == Strategy::SimpleOneForOne {
            if self.spec.children.len() != 1 {
                return Err("simple_one_for_one needs exactly one child spec".into());
            }
            return Ok(());
        }
        let mut ids = HashSet::new();
        for c in &self.spec.children {
            if !ids.insert(c.id.as_str()) {
                return Err(format!("duplicate child id {:?}", c.id));
            }
        }
        Ok(())
    }

    /// Record a restart; false if it exceeds the intensity.
    fn add_restart(&mut self) -> bool {
        let now = Instant::now();
        self.restarts.push_back(now);
        while let Some(&t) = self.restarts.front() {
            if now.duration_since(t) > self.spec.period {
                self.restarts.pop_front();
            } else {
                break;
            }
        }
        self.restarts.len() <= self.spec.max_restarts as usize
    }

    /// (Re)start child `i`. A failure becomes an exit of that child, handled later through
    /// the mailbox (so it counts against the intensity like any other).
    fn restart_child(&mut self, i: usize, ctx: &mut Context) {
        let (spec, args) = (self.children[i].spec.clone(), self.children[i].args.clone());
        match start_one(ctx, &spec, &args) {
            Ok(a) => self.children[i].addr = Some(a),
            Err(StartFailure::Exited(a, msg)) => {
                self.children[i].addr = Some(a);
                let _ = ctx.addr().send(msg);
            }
            Err(StartFailure::Spawn(e)) => {
                let key = self.children[i].key;
                let reason = ExitReason::Failed(format!("could not spawn: {e}"));
                let _ = ctx.addr().send(json!({"$retry": key, "exit": reason}));
            }
            Err(f @ StartFailure::NoAck(_)) => {
                let key = self.children[i].key;
                let reason = ExitReason::Failed(format!("could not start: {f}"));
                let _ = ctx.addr().send(json!({"$retry": key, "exit": reason}));
            }
        }
    }

    /// Stop the running children of `lo..hi` in reverse order, drop the temporary ones,
    /// start the rest in order.
    fn restart_range(&mut self, lo: usize, mut hi: usize, ctx: &mut Context) {
        for i in (lo..hi).rev() {
            if let Some(a) = self.children[i].addr.take() {
                shutdown_child(ctx, &a, self.children[i].spec.shutdown);
            }
        }
        let mut i = lo;
        while i < hi {
            if self.children[i].spec.restart == Restart::Temporary {
                self.children.remove(i);
                hi -= 1;
            } else {
                i += 1;
            }
        }
        for i in lo..hi {
            self.restart_child(i, ctx);
        }
    }

    /// Child `i` exited on its own with `reason`.
    fn child_exited(&mut self, i: usize, reason: ExitReason, ctx: &mut Context) {
        let me = ctx.addr();
        let child = &mut self.children[i];
        let old = child.addr.take();
        let restart = match child.spec.restart {
            Restart::Permanent => true,
            Restart::Transient => !(reason.is_normal() || reason == ExitReason::Shutdown),
            Restart::Temporary => false,
        };
        let id = child.spec.id.clone();
        let shown = old.map(|a| a.to_string()).unwrap_or_default();
        if !restart {
            log::debug!("supervisor {me}: child {id} ({shown}) exited ({reason}); not restarted");
            if child.spec.restart == Restart::Temporary
                || self.spec.strategy == Strategy::SimpleOneForOne
            {
                self.children.remove(i);
            }
            return;
        }
        if reason.is_normal() {
            log::debug!("supervisor {me}: child {id} ({shown}) exited ({reason}); restarting");
        } else {
            log::warn!("supervisor {me}: child {id} ({shown}) exited ({reason}); restarting");
        }
        if !self.add_restart() {
            log::error!(
                "supervisor {me}: more than {} restart(s) within {:?}; shutting down",
                self.spec.max_restarts,
                self.spec.period
            );
            ctx.stop(ExitReason::Failed("reached max restart intensity".into()));
            return;
        }
        match self.spec.strategy {
            Strategy::OneForOne | Strategy::SimpleOneForOne => self.restart_range(i, i + 1, ctx),
            Strategy::OneForAll => self.restart_range(0, self.children.len(), ctx),
            Strategy::RestForOne => self.restart_range(i, self.children.len(), ctx),
        }
    }

    fn stop_all(&mut self, ctx: &mut Context) {
        for i in (0..self.children.len()).rev() {
            if let Some(a) = self.children[i].addr.take() {
                shutdown_child(ctx, &a, self.children[i].spec.shutdown);
            }
        }
    }

    fn call_start_child(&mut self, args: Value, ctx: &mut Context) -> Result<Value, ServerError> {
        if self.spec.strategy != Strategy::SimpleOneForOne {
            return Err("start_child needs a simple_one_for_one supervisor".into());
        }
        let spec = self.spec.children[0].clone();
        match start_one(ctx, &spec, &args) {
            Ok(addr) => {
                let mut child = self.new_child(spec, args);
                child.addr = Some(addr.clone());
                self.children.push(child);
                Ok(json!(addr))
            }
            Err(e) => Err(ServerError::Failed(format!("child did not start: {e}"))),
        }
    }

    fn call_terminate_child(
        &mut self,
        target: Value,
        ctx: &mut Context,
    ) -> Result<Value, ServerError> {
        let target: Address = serde_json::from_value(target)?;
        let i = self
            .children
            .iter()
            .position(|c| c.addr.as_ref() == Some(&target))
            .ok_or_else(|| ServerError::Failed(format!("{target} is not a running child")))?;
        let shutdown = self.children[i].spec.shutdown;
        self.children[i].addr = None;
        shutdown_child(ctx, &target, shutdown);
        if self.spec.strategy == Strategy::SimpleOneForOne
            || self.children[i].spec.restart == Restart::Temporary
        {
            self.children.remove(i);
        }
        Ok(Value::Null)
    }
}

impl Server for SupervisorServer {
    fn init(&mut self, ctx: &mut Context) {
        ctx.trap_exit(true);
        if let Err(why) = self.validate() {
            log::error!("supervisor {}: {why}", ctx.addr());
            ctx.stop(ExitReason::Failed(why));
            return;
        }
        if self.spec.strategy == Strategy::SimpleOneForOne {
            return;
        }
        for spec in self.spec.children.clone() {
            let args = spec.args.clone();
            match start_one(ctx, &spec, &args) {
                Ok(addr) => {
                    let mut child = self.new_child(spec, args);
                    child.addr = Some(addr);
                    self.children.push(child);
                }
                Err(e) => {
                    let why = format!("child {} failed to start: {e}", spec.id);
                    log::error!("supervisor {}: {why}", ctx.addr());
                    ctx.stop(ExitReason::Failed(why));
                    return;
                }
            }
        }
    }

    fn handle_call(
        &mut self,
        method: &str,
        message: Value,
        ctx: &mut Context,
    ) -> Result<Value, ServerError> {
        match method {
            "which_children" => Ok(serde_json::to_value(self.info())?),
            "start_child" => self.call_start_child(message, ctx),
            "terminate_child" => self.call_terminate_child(message, ctx),
            _ => Err(ServerError::UnknownMethod),
        }
    }

    fn handle_cast(&mut self, msg: Value, ctx: &mut Context) {
        if let Some((from, reason)) = parse_exit(&msg) {
            if let Some(i) = self
                .children
                .iter()
                .position(|c| c.addr.as_ref() == Some(&from))
            {
                self.child_exited(i, reason, ctx);
            } else if !reason.is_normal() {
                log::debug!(
                    "supervisor {}: exit from {from} ({reason}); stopping",
                    ctx.addr()
                );
                ctx.stop(reason);
            }
            return;
        }
        if let (Some(key), Some(reason)) = (msg["$retry"].as_u64(), msg.get("exit")) {
            let reason = serde_json::from_value(reason.clone()).unwrap_or(ExitReason::NoSuchActor);
            if let Some(i) = self.children.iter().position(|c| c.key == key) {
                self.child_exited(i, reason, ctx);
            }
            return;
        }
        log::warn!("supervisor {}: unexpected message {msg}", ctx.addr());
    }

    fn terminate(&mut self, reason: &ExitReason, ctx: &mut Context) {
        log::debug!("supervisor {} stopping ({reason})", ctx.addr());
        self.stop_all(ctx);
    }
}
