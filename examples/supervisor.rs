//! A small supervision tree: a worker crashes on a bad message and is restarted.
//!
//! ```text
//! top (one_for_one)
//! ├── logger            (worker)
//! └── math (one_for_one supervisor)
//!     ├── adder         (worker: a server)
//!     └── multiplier    (worker: a server)
//! ```
//!
//! `cargo run --example supervisor`. Prints every start, the crash, the restart and the
//! orderly shutdown (children in reverse start order).

use std::time::Duration;

use pyact::server::{Context, Server, ServerError};
use pyact::supervisor::{ChildSpec, Strategy, Supervisor, which_children};
use pyact::{Address, ExitReason, Mailbox, Mesh, Node, Value, json, pattern};

const T: Duration = Duration::from_secs(10);

/// A server doing one arithmetic operation on two numbers; it panics on anything else (the
/// "bad message"), which its supervisor repairs by restarting it.
struct Arith {
    name: &'static str,
    op: fn(f64, f64) -> f64,
}

impl Server for Arith {
    fn init(&mut self, ctx: &mut Context) {
        println!("  [{}] started at {}", self.name, ctx.addr());
    }

    fn handle_call(
        &mut self,
        method: &str,
        msg: Value,
        _: &mut Context,
    ) -> Result<Value, ServerError> {
        match method {
            "apply" => {
                let a = msg[0].as_f64().expect("bad message: not a number");
                let b = msg[1].as_f64().expect("bad message: not a number");
                Ok(json!((self.op)(a, b)))
            }
            _ => Err(ServerError::UnknownMethod),
        }
    }

    fn terminate(&mut self, reason: &ExitReason, ctx: &mut Context) {
        println!("  [{}] {} terminating: {reason}", self.name, ctx.addr());
    }
}

fn logger(mut mb: Mailbox) {
    // Trap exits, so that the supervisor's shutdown arrives as a message we can print.
    mb.trap_exit(true);
    println!("  [logger] started at {}", mb.addr());
    loop {
        let msg = mb.receive();
        if let Some(reason) = msg.get("exit") {
            println!("  [logger] {} terminating: {reason}", mb.addr());
            return;
        }
        println!("  [logger] {msg}");
    }
}

fn child_address(sup: &Address, id: &str) -> Address {
    which_children(sup, T)
        .expect("which_children")
        .into_iter()
        .find(|c| c.id == id)
        .and_then(|c| c.address)
        .expect("a running child")
}

fn show(title: &str, sup: &Address, indent: &str) {
    println!("{indent}{title}:");
    for c in which_children(sup, T).expect("which_children") {
        let addr = c.address.map(|a| a.to_string()).unwrap_or("-".into());
        let kind = format!("{:?}", c.kind);
        println!("{indent}  {:<11} {kind:<10} {addr}", c.id);
    }
}

fn main() {
    let mesh = Mesh::new();
    let node = Node::new(&mesh, "cookie@127.0.0.1:0").expect("node");

    let math = Supervisor::new(Strategy::OneForOne)
        .intensity(3, Duration::from_secs(60))
        .child(ChildSpec::server("adder", || Arith {
            name: "adder",
            op: |a, b| a + b,
        }))
        .child(ChildSpec::server("multiplier", || Arith {
            name: "multiplier",
            op: |a, b| a * b,
        }));
    println!("starting the tree (children start in order):");
    let top = Supervisor::new(Strategy::OneForOne)
        .child(ChildSpec::new("logger", logger))
        .child(ChildSpec::supervisor("math", math))
        .spawn(&node);

    let math_sup = child_address(&top, "math");
    show("top", &top, "");
    show("math", &math_sup, "  ");

    let adder = child_address(&math_sup, "adder");
    let logger = child_address(&top, "logger");
    let sum = adder.call("apply", (2, 40), T).expect("a sum");
    let _ = logger.send(json!({"2 + 40": sum}));

    println!("sending the adder a bad message:");
    let mut inbox = node.inbox();
    let watch = inbox.monitor(&adder);
    let err = adder.call("apply", ("two", "forty"), T).unwrap_err();
    println!("  the caller got: {err}");
    // The DOWN comes after the supervisor got the exit, so it has restarted the adder.
    let (_, down) = inbox.receive_match(&[&pattern!({"down": = watch})]);
    println!("  the adder ended: {}", down["exit"]);

    let new_adder = child_address(&math_sup, "adder");
    println!("  restarted: {adder} -> {new_adder}");
    show("math after the restart", &math_sup, "  ");
    let sum = new_adder.call("apply", (1, 2), T).expect("a sum");
    println!("  the new adder works: 1 + 2 = {sum}");

    println!("stopping the tree (children stop in reverse order):");
    top.stop_server(T).expect("stop");
    println!("done: top ended with {:?}", node.wait(&top));
}
