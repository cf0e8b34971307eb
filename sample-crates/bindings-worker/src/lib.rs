//! Sample Worker for worker-build's `loader.serve()` and pytest plugin tests: every
//! binding kind a local run provides, and every trigger the client can fire.

use serde_json::Value;
use wasm_bindgen::prelude::wasm_bindgen;
use worker::*;

#[event(fetch)]
async fn fetch(mut req: Request, env: Env, _ctx: Context) -> Result<Response> {
    let path = req.path();
    let kv = env.kv("CACHE")?;
    match path.as_str() {
        "/" => Response::ok("hello from bindings-worker"),
        "/var" => Response::ok(env.var("GREETING")?.to_string()),
        "/json-var" => Response::ok(env.object_var::<Value>("LIMITS")?.to_string()),
        "/secret" => Response::ok(env.secret("API_TOKEN")?.to_string()),
        "/log" => {
            console_log!("bindings-worker: logged {}", req.method().to_string());
            Response::ok("logged")
        }
        "/echo" => {
            let body = req.bytes().await?;
            let kind = req.headers().get("content-type")?.unwrap_or_default();
            Response::from_bytes(body)
                .map(|r| r.with_headers(Headers::from_iter([("x-echo-type".to_string(), kind)])))
        }
        "/kv" => {
            let prefix = req.url()?.query().unwrap_or_default().to_string();
            let listed = kv.list().prefix(prefix).execute().await?;
            let names: Vec<String> = listed.keys.into_iter().map(|k| k.name).collect();
            Response::ok(names.join(","))
        }
        p if p.starts_with("/kv/") => {
            let key = &p["/kv/".len()..];
            match req.method() {
                Method::Put => {
                    let value = req.text().await?;
                    kv.put(key, value)?.metadata(key.len())?.execute().await?;
                    Response::ok("stored")
                }
                Method::Delete => {
                    kv.delete(key).await?;
                    Response::ok("deleted")
                }
                _ => match kv.get(key).text_with_metadata::<usize>().await? {
                    (Some(value), meta) => Response::ok(format!("{value} {}", meta.unwrap_or(0))),
                    (None, _) => Response::error("missing", 404),
                },
            }
        }
        _ => Response::error("not found", 404),
    }
}

/// Records the cron that fired, for the test to read back through `/kv/last-cron`.
#[event(scheduled)]
async fn scheduled(event: ScheduledEvent, env: Env, _ctx: ScheduleContext) {
    let kv = env.kv("CACHE").expect("CACHE is bound");
    let put = kv.put("last-cron", event.cron()).expect("a valid key");
    put.execute().await.expect("KV put");
}

/// Stores each message body under `queued/<id>` and acks it; a body `{"retry": true}`
/// is retried instead.
#[event(queue)]
async fn queue(batch: MessageBatch<Value>, env: Env, _ctx: Context) -> Result<()> {
    let kv = env.kv("CACHE")?;
    for message in batch.messages()? {
        if message.body().get("retry") == Some(&Value::Bool(true)) {
            message.retry();
            continue;
        }
        let key = format!("queued/{}", message.id());
        kv.put(&key, message.body().to_string())?.execute().await?;
        message.ack();
    }
    Ok(())
}

/// An RPC method: plain exported functions become methods of the default export.
#[wasm_bindgen]
pub fn add(a: i32, b: i32) -> i32 {
    a + b
}

/// An RPC method taking and returning a string.
#[wasm_bindgen]
pub fn shout(text: String) -> String {
    text.to_uppercase()
}

/// An RPC method that panics: the caller gets the error, the instance lives on.
#[wasm_bindgen]
pub fn fail(message: String) -> i32 {
    panic!("bindings-worker: {message}")
}
