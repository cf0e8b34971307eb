//! Plain `#[wasm_bindgen]` function exports, loaded from Python by the
//! generated loader in worker-build's tests.

use std::sync::atomic::{AtomicU32, Ordering};

use wasm_bindgen::prelude::*;

static COUNTER: AtomicU32 = AtomicU32::new(0);

/// Adds two integers (wrapping on overflow).
#[wasm_bindgen]
pub fn add(a: i32, b: i32) -> i32 {
    a.wrapping_add(b)
}

/// Multiplies `value` by `factor`.
#[wasm_bindgen]
pub fn scale(value: f64, factor: f64) -> f64 {
    value * factor
}

#[wasm_bindgen]
pub fn is_even(n: u32) -> bool {
    n % 2 == 0
}

#[wasm_bindgen]
pub fn greet(name: &str) -> String {
    format!("Hello, {name}!")
}

#[wasm_bindgen]
pub fn reverse_bytes(data: &[u8]) -> Vec<u8> {
    data.iter().rev().copied().collect()
}

#[wasm_bindgen]
pub fn first_char(text: &str) -> Option<String> {
    text.chars().next().map(String::from)
}

#[wasm_bindgen]
pub fn parse_u32(text: &str) -> Result<u32, JsError> {
    text.trim().parse::<u32>().map_err(|e| JsError::new(&format!("cannot parse {text:?}: {e}")))
}

/// Integer division; panics when `divisor` is zero.
#[wasm_bindgen]
pub fn checked_div(dividend: i32, divisor: i32) -> i32 {
    if divisor == 0 {
        panic!("checked_div: division by zero ({dividend} / 0)");
    }
    dividend.wrapping_div(divisor)
}

/// A hard abort: executes the wasm `unreachable` instruction.
#[wasm_bindgen]
pub fn abort_now() {
    core::arch::wasm32::unreachable()
}

/// Increments a module-level counter and returns it: it restarts from 1
/// only when the instance is replaced.
#[wasm_bindgen]
pub fn counter() -> u32 {
    COUNTER.fetch_add(1, Ordering::SeqCst) + 1
}

/// A type the Python loader does not support (a JS array of numbers).
#[wasm_bindgen]
pub fn sum_f64s(values: Vec<f64>) -> f64 {
    values.iter().sum()
}
