//! Test fixture for `--replay-on-abort` (tests/integration/test_replay.py).
//!
//! `/wait/NAME` answers only once the test opens the gate NAME (a Durable Object request
//! parked until `/gate/release/NAME`), so the test knows for certain that it is in flight
//! when another request aborts. The Durable Object logs `gate NAME parked` each time a
//! request parks at a gate, so the test can wait for that line instead of asking.

use std::cell::RefCell;
use std::collections::HashMap;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context as TaskContext, Poll, Waker};
use std::time::Duration;

use worker::*;

#[event(fetch)]
async fn fetch(mut req: Request, env: Env, _ctx: Context) -> Result<Response> {
    let method = req.method().to_string();
    let path = req.path();
    let parts: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    match parts.as_slice() {
        [""] => Response::ok("ok"),
        ["resets"] => Response::ok(resets().to_string()),
        ["abort"] => core::arch::wasm32::unreachable(),
        ["panic"] => panic!("replay-worker: deliberate panic"),
        // The body is read before the wait: a replay must bring it again.
        ["wait", gate] => {
            let body = req.text().await?;
            hold(&env, gate).await?;
            Response::ok(format!("{method} {gate} {body}"))
        }
        // Traps in the callback that resumes the handler after an await.
        ["abort-after", gate] => {
            hold(&env, gate).await?;
            core::arch::wasm32::unreachable()
        }
        // Waits 25 ms: for ad-hoc load (benchmarks/load.py --only BUILD --normal /slow).
        ["slow"] => {
            Delay::from(Duration::from_millis(25)).await;
            Response::ok("slow")
        }
        // Traps after a timer fired.
        ["abort-after-timer"] => {
            Delay::from(Duration::from_millis(1)).await;
            core::arch::wasm32::unreachable()
        }
        // To the Durable Object: release/NAME, abort.
        ["gate", rest @ ..] => gates(&env)?.fetch_with_str(&format!("https://gate/{}", rest.join("/"))).await,
        _ => Response::error("not found", 404),
    }
}

// A scheduled event and a queue batch that wait at the gates `scheduled` and `queue`.
#[event(scheduled)]
async fn scheduled(event: ScheduledEvent, env: Env, _ctx: ScheduleContext) {
    console_log!("scheduled {} started", event.cron());
    if hold(&env, "scheduled").await.is_ok() {
        console_log!("scheduled finished");
    }
}

#[event(queue)]
async fn queue(batch: MessageBatch<String>, env: Env, _ctx: Context) -> Result<()> {
    console_log!("queue {} started", batch.queue());
    hold(&env, "queue").await?;
    console_log!("queue finished");
    Ok(())
}

fn gates(env: &Env) -> Result<Stub> {
    env.durable_object("GATES")?.id_from_name("gates")?.get_stub()
}

async fn hold(env: &Env, gate: &str) -> Result<()> {
    let mut answer = gates(env)?.fetch_with_str(&format!("https://gate/hold/{gate}")).await?;
    match answer.text().await?.as_str() {
        "opened" => Ok(()),
        other => Err(Error::RustError(format!("gate {gate}: {other}"))),
    }
}

/// The shim's count of instance resets (`globalThis.__workerBuild.resets`).
fn resets() -> f64 {
    let build = js_sys::Reflect::get(&js_sys::global(), &"__workerBuild".into()).unwrap_or_default();
    js_sys::Reflect::get(&build, &"resets".into()).ok().and_then(|v| v.as_f64()).unwrap_or(-1.0)
}

/// Named gates: a request to `/hold/NAME` parks until `/release/NAME`.
#[durable_object]
pub struct Gates {
    // Handlers run under catch_unwind, which needs the object to be RefUnwindSafe.
    gates: AssertUnwindSafe<Rc<RefCell<HashMap<String, Gate>>>>,
}

#[derive(Default)]
struct Gate {
    open: bool,
    wakers: Vec<Waker>,
}

impl DurableObject for Gates {
    fn new(_state: State, _env: Env) -> Self {
        Self { gates: AssertUnwindSafe(Rc::default()) }
    }

    async fn fetch(&self, req: Request) -> Result<Response> {
        let path = req.path();
        let parts: Vec<&str> = path.trim_start_matches('/').split('/').collect();
        match parts.as_slice() {
            ["hold", name] => {
                console_log!("gate {name} parked");
                Parked { gates: Rc::clone(&self.gates), name: (*name).to_string() }.await;
                Response::ok("opened")
            }
            ["release", name] => {
                let mut gates = self.gates.borrow_mut();
                let gate = gates.entry((*name).to_string()).or_default();
                gate.open = true;
                for waker in gate.wakers.drain(..) {
                    waker.wake();
                }
                Response::ok("released")
            }
            ["abort"] => core::arch::wasm32::unreachable(),
            _ => Response::error("not found", 404),
        }
    }
}

struct Parked {
    gates: Rc<RefCell<HashMap<String, Gate>>>,
    name: String,
}

impl Future for Parked {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<()> {
        let mut gates = self.gates.borrow_mut();
        let gate = gates.entry(self.name.clone()).or_default();
        if gate.open {
            return Poll::Ready(());
        }
        gate.wakers.push(cx.waker().clone());
        Poll::Pending
    }
}
