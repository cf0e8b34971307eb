//! One export for each wasm-bindgen feature the generated Python loader
//! handles (and a few it does not), loaded from Python by
//! tests/integration/test_loader_types.py. Each row of the README's table
//! "wasm-bindgen feature -> Python" has its export here.

use std::sync::atomic::{AtomicU32, Ordering};

use wasm_bindgen::prelude::*;

static DROPS: AtomicU32 = AtomicU32::new(0);
static CALLS: AtomicU32 = AtomicU32::new(0);

/// How many `Tracked` values Rust has dropped (frees are counted here).
#[wasm_bindgen]
pub fn drops() -> u32 {
    DROPS.load(Ordering::SeqCst)
}

/// Increments a module-level counter: it restarts only on a fresh instance.
#[wasm_bindgen]
pub fn calls() -> u32 {
    CALLS.fetch_add(1, Ordering::SeqCst) + 1
}

// ------------------------------------------------------------------ structs

/// A point in the plane, with public `Copy` fields.
#[wasm_bindgen]
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Point {
    pub x: f64,
    pub y: f64,
}

#[wasm_bindgen]
impl Point {
    /// A point at (x, y).
    #[wasm_bindgen(constructor)]
    pub fn new(x: f64, y: f64) -> Point {
        Point { x, y }
    }

    /// The origin (a static method).
    pub fn origin() -> Point {
        Point { x: 0.0, y: 0.0 }
    }

    /// Distance from the origin (`&self`).
    pub fn length(&self) -> f64 {
        (self.x * self.x + self.y * self.y).sqrt()
    }

    /// Moves the point (`&mut self`).
    pub fn translate(&mut self, dx: f64, dy: f64) {
        self.x += dx;
        self.y += dy;
    }

    /// The sum of two points (a struct by reference, a struct returned).
    pub fn plus(&self, other: &Point) -> Point {
        Point { x: self.x + other.x, y: self.y + other.y }
    }

    /// Consumes the point (`self`): the Python object is empty afterwards.
    pub fn into_vec(self) -> Vec<f64> {
        vec![self.x, self.y]
    }
}

/// A named counter: private fields behind getters and setters.
#[wasm_bindgen]
pub struct Counter {
    name: String,
    count: u32,
    step: u32,
    /// A public field that is not `Copy`, read through a clone.
    #[wasm_bindgen(getter_with_clone)]
    pub label: String,
    /// A public field of an enum type.
    pub color: Color,
}

#[wasm_bindgen]
impl Counter {
    /// A counter starting at zero; an empty name is an error.
    #[wasm_bindgen(constructor)]
    pub fn new(name: &str) -> Result<Counter, JsError> {
        if name.is_empty() {
            return Err(JsError::new("a counter needs a name"));
        }
        Ok(Counter {
            name: name.to_string(),
            count: 0,
            step: 1,
            label: format!("counter {name}"),
            color: Color::Green,
        })
    }

    /// A counter with another step (a static method returning `Self`).
    pub fn with_step(name: &str, step: u32) -> Counter {
        Counter {
            name: name.to_string(),
            count: 0,
            step,
            label: String::new(),
            color: Color::Red,
        }
    }

    #[wasm_bindgen(getter)]
    pub fn name(&self) -> String {
        self.name.clone()
    }

    #[wasm_bindgen(setter)]
    pub fn set_name(&mut self, name: String) {
        self.name = name;
    }

    #[wasm_bindgen(getter)]
    pub fn count(&self) -> u32 {
        self.count
    }

    #[wasm_bindgen(getter)]
    pub fn step(&self) -> u32 {
        self.step
    }

    #[wasm_bindgen(setter)]
    pub fn set_step(&mut self, step: u32) {
        self.step = step;
    }

    /// Adds the step and returns the new count.
    pub fn increment(&mut self) -> u32 {
        self.count += self.step;
        self.count
    }

    /// Like `increment`, but panics instead of passing `limit`.
    pub fn increment_below(&mut self, limit: u32) -> u32 {
        if self.count + self.step >= limit {
            panic!("counter {} would reach {limit}", self.name);
        }
        self.increment()
    }

    /// A hard abort inside a method: the wasm `unreachable` instruction.
    pub fn abort(&self) {
        core::arch::wasm32::unreachable()
    }

    /// Consumes the counter and describes it.
    pub fn finish(self) -> String {
        format!("{}={}", self.name, self.count)
    }
}

/// Counts its drops in `drops()`, to show that each object is freed once.
#[wasm_bindgen]
pub struct Tracked {
    id: u32,
}

#[wasm_bindgen]
impl Tracked {
    #[wasm_bindgen(constructor)]
    pub fn new(id: u32) -> Tracked {
        Tracked { id }
    }

    #[wasm_bindgen(getter)]
    pub fn id(&self) -> u32 {
        self.id
    }
}

impl Drop for Tracked {
    fn drop(&mut self) {
        DROPS.fetch_add(1, Ordering::SeqCst);
    }
}

/// The point halfway between two points.
#[wasm_bindgen]
pub fn midpoint(a: &Point, b: &Point) -> Point {
    Point { x: (a.x + b.x) / 2.0, y: (a.y + b.y) / 2.0 }
}

/// Takes a point by value (the Python object is consumed).
#[wasm_bindgen]
pub fn consume_point(p: Point) -> f64 {
    p.x + p.y
}

/// Scales a point in place (`&mut Point`).
#[wasm_bindgen]
pub fn scale_point(p: &mut Point, factor: f64) {
    p.x *= factor;
    p.y *= factor;
}

/// `Some(point)` for a non-negative `x`.
#[wasm_bindgen]
pub fn maybe_point(x: f64) -> Option<Point> {
    (x >= 0.0).then_some(Point { x, y: x })
}

/// The given point, or the origin for `None` (an `Option<Struct>` argument).
#[wasm_bindgen]
pub fn point_or_origin(p: Option<Point>) -> Point {
    p.unwrap_or(Point { x: 0.0, y: 0.0 })
}

// ------------------------------------------------------------------ enums

/// A C-style enum with explicit discriminants.
#[wasm_bindgen]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Color {
    Red = 1,
    Green = 2,
    Blue = 4,
}

/// The next colour in the cycle red -> green -> blue -> red.
#[wasm_bindgen]
pub fn next_color(c: Color) -> Color {
    match c {
        Color::Red => Color::Green,
        Color::Green => Color::Blue,
        Color::Blue => Color::Red,
    }
}

/// `None` for zero, else the colour with that discriminant.
#[wasm_bindgen]
pub fn color_from(n: u32) -> Option<Color> {
    match n {
        1 => Some(Color::Red),
        2 => Some(Color::Green),
        4 => Some(Color::Blue),
        _ => None,
    }
}

/// The given colour, or red for `None` (an `Option<Enum>` argument).
#[wasm_bindgen]
pub fn color_or_red(c: Option<Color>) -> Color {
    c.unwrap_or(Color::Red)
}

/// A string enum.
#[wasm_bindgen]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    Fast = "fast",
    Careful = "careful",
}

/// Milliseconds a mode waits.
#[wasm_bindgen]
pub fn mode_delay(mode: Mode) -> u32 {
    match mode {
        Mode::Fast => 1,
        Mode::Careful => 100,
        _ => 0,
    }
}

/// The mode for a delay.
#[wasm_bindgen]
pub fn mode_for(delay: u32) -> Mode {
    if delay < 10 { Mode::Fast } else { Mode::Careful }
}

/// The other mode, or `None`.
#[wasm_bindgen]
pub fn other_mode(mode: Option<Mode>) -> Option<Mode> {
    match mode? {
        Mode::Fast => Some(Mode::Careful),
        Mode::Careful => Some(Mode::Fast),
        _ => None,
    }
}

// ------------------------------------------------------------------ chars

/// The character after `c` (`char` in and out).
#[wasm_bindgen]
pub fn next_char(c: char) -> char {
    char::from_u32(c as u32 + 1).unwrap_or(c)
}

// ------------------------------------------------------------------ typed slices and Vecs

macro_rules! numeric_slices {
    ($($t:ty: $reversed:ident, $sum:ident, $double_in_place:ident;)*) => {$(
        /// The elements in reverse order (a slice in, a Vec out).
        #[wasm_bindgen]
        pub fn $reversed(values: &[$t]) -> Vec<$t> {
            values.iter().rev().copied().collect()
        }

        /// The sum of the elements, as f64 (an owned Vec in).
        #[wasm_bindgen]
        pub fn $sum(values: Vec<$t>) -> f64 {
            values.iter().map(|v| *v as f64).sum()
        }

        /// Doubles every element where it lies (a mutable slice).
        #[wasm_bindgen]
        pub fn $double_in_place(values: &mut [$t]) {
            for v in values.iter_mut() {
                *v = *v + *v;
            }
        }
    )*};
}

numeric_slices! {
    i8: reversed_i8, sum_i8, double_i8;
    u8: reversed_u8, sum_u8, double_u8;
    i16: reversed_i16, sum_i16, double_i16;
    u16: reversed_u16, sum_u16, double_u16;
    i32: reversed_i32, sum_i32, double_i32;
    u32: reversed_u32, sum_u32, double_u32;
    i64: reversed_i64, sum_i64, double_i64;
    u64: reversed_u64, sum_u64, double_u64;
    f32: reversed_f32, sum_f32, double_f32;
    f64: reversed_f64, sum_f64, double_f64;
}

/// `n` values 0.5, 1.5, ... (a `Vec<f64>` out).
#[wasm_bindgen]
pub fn halves(n: u32) -> Vec<f64> {
    (0..n).map(|i| i as f64 + 0.5).collect()
}

/// Each value plus one (the `Vec<f64>` round trip of the benchmark).
#[wasm_bindgen]
pub fn plus_one(values: Vec<f64>) -> Vec<f64> {
    values.into_iter().map(|v| v + 1.0).collect()
}

/// `None` stays `None`; otherwise the sum of the values in a one-element Vec.
#[wasm_bindgen]
pub fn maybe_total(values: Option<Vec<i32>>) -> Option<Vec<i32>> {
    values.map(|v| vec![v.iter().sum()])
}

/// Joins the strings with `sep` (a `Vec<String>` in).
#[wasm_bindgen]
pub fn join(parts: Vec<String>, sep: &str) -> String {
    parts.join(sep)
}

/// The whitespace-separated words (a `Vec<String>` out).
#[wasm_bindgen]
pub fn words(text: &str) -> Vec<String> {
    text.split_whitespace().map(String::from).collect()
}

// ------------------------------------------------------------------ imported JS functions

#[wasm_bindgen]
extern "C" {
    /// Implemented in Python with `loader.provide(host_add=...)`.
    fn host_add(a: i32, b: i32) -> i32;
    fn host_greeting(name: &str) -> String;
    fn host_scale(values: &[f64], factor: f64) -> Vec<f64>;
    fn host_log(message: &str);
    fn host_flag(on: bool, c: char) -> Option<u32>;
    fn host_color(c: Color) -> Color;
    fn host_mix(a: u32, b: i64, c: u64, d: f32) -> f64;
    fn host_sum(values: Vec<i32>) -> i32;
    fn host_upper(text: String) -> String;
    /// A JS value: not supported by the Python loader.
    fn host_any(value: JsValue) -> JsValue;
}

/// `host_add(a, b) * 10`.
#[wasm_bindgen]
pub fn call_host_add(a: i32, b: i32) -> i32 {
    host_add(a, b) * 10
}

/// The host's greeting, in brackets.
#[wasm_bindgen]
pub fn call_host_greeting(name: &str) -> String {
    format!("[{}]", host_greeting(name))
}

/// The host scales the values; Rust sums the result.
#[wasm_bindgen]
pub fn call_host_scale(values: Vec<f64>, factor: f64) -> f64 {
    host_scale(&values, factor).iter().sum()
}

/// Logs `count` messages through the host.
#[wasm_bindgen]
pub fn call_host_log(count: u32) {
    for i in 0..count {
        host_log(&format!("message {i}"));
    }
}

/// What the host answers for (on, c), or 0 for `None`.
#[wasm_bindgen]
pub fn call_host_flag(on: bool, c: char) -> u32 {
    host_flag(on, c).map_or(0, |v| v + 1)
}

/// The host's colour for `c`.
#[wasm_bindgen]
pub fn call_host_color(c: Color) -> Color {
    host_color(c)
}

/// The host mixes four kinds of numbers.
#[wasm_bindgen]
pub fn call_host_mix(a: u32, b: i64, c: u64, d: f32) -> f64 {
    host_mix(a, b, c, d)
}

/// The host sums `0..n` (a `Vec<i32>` handed over to the host).
#[wasm_bindgen]
pub fn call_host_sum(n: i32) -> i32 {
    host_sum((0..n).collect())
}

/// The host upper-cases an owned `String`.
#[wasm_bindgen]
pub fn call_host_upper(text: &str) -> String {
    host_upper(text.to_string())
}

/// Passes a JS value through the host (an import the loader cannot provide).
#[wasm_bindgen]
pub fn call_host_any() -> bool {
    host_any(JsValue::from(1)).is_null()
}

// ------------------------------------------------------------------ not supported

/// Any JS value (not supported by the Python loader).
#[wasm_bindgen]
pub fn echo_value(value: JsValue) -> JsValue {
    value
}

/// A Vec of structs, returned.
#[wasm_bindgen]
pub fn points(n: u32) -> Vec<Point> {
    (0..n).map(|i| Point { x: i as f64, y: 0.0 }).collect()
}

/// A Vec of structs as an argument (each one moved into Rust).
#[wasm_bindgen]
pub fn total_x(points: Vec<Point>) -> f64 {
    points.iter().map(|p| p.x).sum()
}

/// A 128-bit integer (not supported by the Python loader).
#[wasm_bindgen]
pub fn wide(a: i128) -> i128 {
    a
}
