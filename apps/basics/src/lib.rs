//! Small apps over the kinds of values an app takes and returns, and the two ways a task fails.
#![deny(missing_docs)]

use wf_guest::prelude::*;

/// Doubles a number.
#[app]
pub fn slow_double(x: i64) -> i64 {
    x * 2
}

/// Adds them all up.
#[app]
pub fn total(xs: Vec<i64>) -> i64 {
    xs.iter().sum()
}

/// The DESIGN example: fan out, fan in, print.
#[workflow]
pub fn main() -> Result<()> {
    let doubled: Vec<Future<i64>> = (0..5).map(|i| slow_double.submit(i)).collect();
    let sum = total.submit(doubled);
    println!("{}", sum.get()?);
    checkpoint();
    Ok(())
}
