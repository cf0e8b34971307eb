//! Sample Worker for worker-build's `loader.serve()` and pytest plugin tests: every
//! binding kind a local run provides, and every trigger the client can fire. The routes
//! under "Served by miniflare" use the bindings of `[env.full]` in wrangler.toml.

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
        "/welcome" => Response::ok(env.var("WELCOME")?.to_string()),
        "/self" => {
            // a service binding to this Worker itself
            let mut answer = env.service("SELF")?.fetch("http://self/var", None).await?;
            Response::ok(format!("via SELF: {}", answer.text().await?))
        }
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
        _ => miniflare_only(req, env, &path).await,
    }
}

/// Served by miniflare: R2, D1, a queue producer, a rate limiter, assets, analytics engine,
/// version metadata.
async fn miniflare_only(mut req: Request, env: Env, path: &str) -> Result<Response> {
    match path {
        "/r2" => {
            let listed = env.bucket("BUCKET")?.list().execute().await?;
            let keys: Vec<String> = listed.objects().iter().map(|o| o.key()).collect();
            Response::ok(keys.join(","))
        }
        p if p.starts_with("/r2/") => {
            let bucket = env.bucket("BUCKET")?;
            let key = &p["/r2/".len()..];
            if req.method() == Method::Put {
                bucket.put(key, req.bytes().await?).execute().await?;
                return Response::ok("put");
            }
            match bucket.get(key).execute().await? {
                Some(object) => match object.body() {
                    Some(body) => Response::from_bytes(body.bytes().await?),
                    None => Response::ok(""),
                },
                None => Response::error("no such object", 404),
            }
        }
        "/d1" => {
            let db = env.d1("DB")?;
            db.exec("CREATE TABLE IF NOT EXISTS notes (id INTEGER PRIMARY KEY, text TEXT)")
                .await?;
            if req.method() == Method::Post {
                let text = req.text().await?;
                let insert = db.prepare("INSERT INTO notes (text) VALUES (?1)");
                insert.bind(&[text.into()])?.run().await?;
            }
            let rows = db.prepare("SELECT id, text FROM notes ORDER BY id").all().await?;
            Response::from_json(&rows.results::<Value>()?)
        }
        "/enqueue" => {
            // the text itself: serde_wasm_bindgen would send a JSON object as a JS Map
            env.queue("JOBS")?.send(req.text().await?).await?;
            Response::ok("sent")
        }
        p if p.starts_with("/limit/") => {
            let key = p["/limit/".len()..].to_string();
            let outcome = env.rate_limiter("LIMITER")?.limit(key).await?;
            Response::ok(if outcome.success { "allowed" } else { "limited" })
        }
        "/assets-binding" => {
            let mut file = env.assets("ASSETS")?.fetch("http://assets/hello.txt", None).await?;
            Response::ok(format!("via ASSETS: {}", file.text().await?))
        }
        "/version" => {
            let version = env.get_binding::<WorkerVersionMetadata>("VERSION")?;
            Response::ok(format!("version {} {}", version.id(), version.tag()))
        }
        "/event" => {
            let dataset = env.analytics_engine("EVENTS")?;
            AnalyticsEngineDataPointBuilder::new()
                .indexes(["sample"])
                .add_double(1.5)
                .add_blob("grüße")
                .write_to(&dataset)?;
            Response::ok("written")
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
        console_log!("bindings-worker: consumed {} from {}", message.body(), batch.queue());
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
