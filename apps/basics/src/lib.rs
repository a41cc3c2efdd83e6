//! The SDK's surface in small apps: numbers, strings, a user struct, a `Vec` fan-in, an app that
//! returns `Err`, one that panics, and one whose results are never memoized.
//!
//! Build with `cargo build --release --target wasm32-wasip1 -p basics`; the workflows `main` and
//! `failing` then run under the host. Natively, `cargo test -p basics` runs them in-process.
#![deny(missing_docs)]

use wf_guest::prelude::*;

/// A point in the plane: a user type crossing the wire.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, Schema)]
pub struct Point {
    /// Across.
    pub x: f64,
    /// Up.
    pub y: f64,
}

/// Adds two numbers.
#[app]
pub fn add(a: i64, b: i64) -> i64 {
    a + b
}

/// Doubles a number (the DESIGN example's slow app).
#[app]
pub fn slow_double(x: i64) -> i64 {
    x * 2
}

/// Adds them all up: the fan-in of the DESIGN example.
#[app]
pub fn total(xs: Vec<i64>) -> i64 {
    xs.iter().sum()
}

/// Greets someone, `times` times.
#[app]
pub fn greet(name: String, times: u32) -> String {
    let mut greeting = String::from("Hello");
    for _ in 0..times {
        greeting.push_str(", ");
        greeting.push_str(&name);
    }
    greeting.push('!');
    greeting
}

/// The centroid of some points; the origin of none.
#[app]
pub fn centroid(points: Vec<Point>) -> Point {
    let n = points.len().max(1) as f64;
    let (x, y) = points
        .iter()
        .fold((0.0, 0.0), |(x, y), p| (x + p.x, y + p.y));
    Point { x: x / n, y: y / n }
}

/// Integer division, failing on a zero divisor: an `Err` is a task failure with its message.
#[app]
pub fn divide(a: i64, b: i64) -> Result<i64, String> {
    a.checked_div(b)
        .ok_or_else(|| format!("cannot divide {a} by {b}"))
}

/// Panics with `message`: a panic is a task failure that carries the message and location.
#[app]
pub fn boom(message: String) -> u64 {
    panic!("boom: {message}")
}

/// The same input may give another answer on another day, so the host must not memoize it.
/// (Here it only echoes; `cache = false` is what is shown.)
#[app(cache = false)]
pub fn fresh(x: u64) -> u64 {
    x
}

/// The DESIGN example: doubles 0..5 in parallel, adds them up with a fan-in, prints 20.
#[workflow]
pub fn main() -> Result<()> {
    let doubled: Vec<Future<i64>> = (0..5).map(|i| slow_double.submit(i)).collect();
    let sum = total.submit(doubled); // futures are inputs: dataflow dependencies
    println!("{}", sum.get()?); // blocks until the task is done
    checkpoint(); // manual checkpoint

    let corners = [(0.0, 0.0), (4.0, 0.0), (4.0, 2.0), (0.0, 2.0)]
        .map(|(x, y)| Point { x, y })
        .to_vec();
    let middle = centroid.submit(corners).get()?;
    println!("{}", greet.submit("wf", 2).get()?);
    println!("centroid ({}, {})", middle.x, middle.y);
    println!("7 + 35 = {}", add.submit(7, 35).get()?);
    Ok(())
}

/// A workflow that fails: `divide` by zero fails its task, `add` depends on it and so fails too,
/// and the workflow returns that error.
#[workflow]
pub fn failing() -> Result<()> {
    let quotient = divide.submit(1, 0);
    let sum = add.submit(&quotient, 1);
    println!("unreachable: {}", sum.get()?);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn apps_called_directly() {
        assert_eq!(add.call(2, 3), 5);
        assert_eq!(greet.call("Ada".into(), 1), "Hello, Ada!");
        assert_eq!(divide.call(7, 2), Ok(3));
        assert_eq!(divide.call(7, 0), Err("cannot divide 7 by 0".to_owned()));
        assert_eq!(
            centroid.call(vec![Point { x: 1.0, y: 1.0 }, Point { x: 3.0, y: 5.0 }]),
            Point { x: 2.0, y: 3.0 }
        );
    }

    #[test]
    fn workflows_run_natively() {
        main().expect("main succeeds");
        let error = failing().expect_err("failing fails");
        assert_eq!(
            error.message(),
            "app `add` failed: dependency `divide` failed: cannot divide 1 by 0"
        );
    }

    #[test]
    fn futures_feed_futures() {
        let sum = total.submit(vec![add.submit(1, 2), add.submit(3, 4)]);
        let doubled = slow_double.submit(&sum);
        assert_eq!(doubled.get().expect("all succeed"), 20);
        assert_eq!(sum.app(), "total");
    }

    #[test]
    fn a_panic_is_a_task_failure() {
        let error = boom.submit("bad input").get().expect_err("boom panics");
        assert_eq!(
            error.message(),
            "app `boom` failed: panicked: boom: bad input"
        );
    }

    #[test]
    fn descriptors_say_what_the_host_needs() {
        let d = centroid.descriptor();
        assert_eq!(d.name, "centroid");
        assert_eq!(d.params.len(), 1);
        assert_eq!(d.params[0].name, "points");
        assert_eq!(d.params[0].ty.rust, "Vec<Point>");
        assert_eq!(d.output.rust, "Point");
        assert_eq!(d.output.schema.name, "Point");
        assert!(!d.fallible && d.cache);

        let d = divide.descriptor();
        assert!(d.fallible);
        assert_eq!(d.output.rust, "i64");
        assert!(!fresh.descriptor().cache);
    }
}
