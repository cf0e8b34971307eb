//! Sample Worker used by worker-build's integration tests.
//!
//! Every route exercises one failure mode so a test can observe how the
//! Wasm instance behaves afterwards (see `/count`).

use std::cell::RefCell;
use std::future::Future;
use std::hint::black_box;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::task::{Context as TaskContext, Poll, Waker};

use worker::*;

/// Module-level state: it survives exactly as long as the Wasm instance does.
static COUNT: AtomicU32 = AtomicU32::new(0);

#[event(fetch)]
async fn fetch(req: Request, env: Env, _ctx: Context) -> Result<Response> {
    let path = req.path();
    match path.as_str() {
        "/" => Response::ok("hello from hello-worker"),
        "/count" => Response::ok(bump().to_string()),
        "/panic" => panic!("hello-worker: deliberate panic"),
        "/abort" => core::arch::wasm32::unreachable(),
        "/stack-overflow" => Response::ok(recurse(black_box(1)).to_string()),
        "/oom" => Response::ok(exhaust_memory().to_string()),
        // Never answers (nothing will ever wake it): the runtime cancels the request.
        "/hang" => {
            std::future::pending::<()>().await;
            Response::ok("not reached")
        }
        "/js-error" => {
            throw_js_error();
            Response::ok("not reached")
        }
        p if p.starts_with("/do/") => {
            let stub = env.durable_object("COUNTER")?.id_from_name("sample")?.get_stub()?;
            stub.fetch_with_str(&format!("https://counter{p}")).await
        }
        _ => Response::error("not found", 404),
    }
}

// A JavaScript import that throws: the exception passes through the Rust frames. In a
// panic=abort build wasm-bindgen treats it as an abort; in an unwind build it unwinds to the
// handler's catch_unwind, which cannot catch a foreign exception and aborts.
#[wasm_bindgen::prelude::wasm_bindgen(
    inline_js = "export function throw_js_error() { throw new Error('hello-worker: deliberate JS error'); }"
)]
extern "C" {
    fn throw_js_error();
}

fn bump() -> u32 {
    COUNT.fetch_add(1, Ordering::SeqCst) + 1
}

/// Unbounded recursion: the frame is kept alive by `black_box` so the
/// optimiser cannot turn it into a loop; ends in a wasm stack-overflow trap.
#[inline(never)]
fn recurse(depth: u64) -> u64 {
    let frame = black_box([depth; 32]);
    // The guard never fires; it only keeps rustc's unconditional-recursion lint quiet.
    if frame[0] == u64::MAX {
        return 0;
    }
    recurse(black_box(depth + 1)) + frame[7]
}

/// Keeps allocating (and leaking) large blocks until the allocator fails,
/// which makes std call `handle_alloc_error`: a hard abort, not a panic.
fn exhaust_memory() -> usize {
    let mut total = 0usize;
    while black_box(total) < usize::MAX {
        let block: Vec<u8> = Vec::with_capacity(black_box(256 << 20));
        total = total.saturating_add(block.capacity());
        std::mem::forget(block);
    }
    total
}

/// Durable Object bound as `COUNTER`: an in-memory count (lost when the
/// instance is reset) next to a stored count (kept by the runtime).
#[durable_object]
pub struct Counter {
    state: State,
    // An atomic rather than a Cell: handlers run under catch_unwind, which
    // needs the object to be RefUnwindSafe.
    count: AtomicU32,
    held: AtomicU32,
    hold: Hold,
}

impl DurableObject for Counter {
    fn new(state: State, _env: Env) -> Self {
        Self { state, count: AtomicU32::new(0), held: AtomicU32::new(0), hold: Hold::default() }
    }

    async fn fetch(&self, req: Request) -> Result<Response> {
        match req.path().as_str() {
            "/do/increment" => {
                let count = self.count.fetch_add(1, Ordering::SeqCst) + 1;
                let stored: u32 = self.state.storage().get("stored").await?.unwrap_or(0) + 1;
                self.state.storage().put("stored", stored).await?;
                Response::ok(count.to_string())
            }
            "/do/stored" => {
                let stored: u32 = self.state.storage().get("stored").await?.unwrap_or(0);
                Response::ok(stored.to_string())
            }
            "/do/panic" => panic!("Counter: deliberate panic"),
            "/do/abort" => core::arch::wasm32::unreachable(),
            // Park until /do/release: a request that is certain to be in flight (tests wait
            // for /do/held to count it) when something else happens to the instance.
            "/do/hold" => {
                let parked = Parked::new(&self.hold);
                self.held.fetch_add(1, Ordering::SeqCst);
                parked.await;
                Response::ok("released")
            }
            "/do/held" => Response::ok(self.held.load(Ordering::SeqCst).to_string()),
            "/do/release" => {
                self.hold.release();
                Response::ok("ok")
            }
            _ => Response::error("not found", 404),
        }
    }
}

/// Requests of one Durable Object parked by `/do/hold`. Requests to one Durable Object may
/// wake each other (the runtime allows it there), so `/do/release` can end them.
#[derive(Default)]
struct Hold {
    released: AtomicBool,
    // Handlers run under catch_unwind; a waker list is not RefUnwindSafe by itself.
    wakers: AssertUnwindSafe<Rc<RefCell<Vec<Waker>>>>,
}

impl Hold {
    fn release(&self) {
        self.released.store(true, Ordering::SeqCst);
        for waker in self.wakers.borrow_mut().drain(..) {
            waker.wake();
        }
    }
}

struct Parked<'a> {
    hold: &'a Hold,
}

impl<'a> Parked<'a> {
    fn new(hold: &'a Hold) -> Self {
        Self { hold }
    }
}

impl Future for Parked<'_> {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<()> {
        if self.hold.released.load(Ordering::SeqCst) {
            return Poll::Ready(());
        }
        self.hold.wakers.borrow_mut().push(cx.waker().clone());
        Poll::Pending
    }
}
