//! An async `fetch` export without the `worker` crate: it awaits a JS promise (through
//! js-sys's futures executor) before answering.

use wasm_bindgen::prelude::*;

#[wasm_bindgen]
extern "C" {
    pub type Response;

    #[wasm_bindgen(constructor)]
    pub fn new(body: &str) -> Response;
}

#[wasm_bindgen]
pub async fn fetch(_request: JsValue, _env: JsValue, _ctx: JsValue) -> Result<Response, JsValue> {
    let answer = js_sys::Promise::resolve(&JsValue::from(41)).await?;
    let n = answer.as_f64().ok_or_else(|| JsValue::from_str("not a number"))?;
    Ok(Response::new(&format!("awaited {}", n + 1.0)))
}
