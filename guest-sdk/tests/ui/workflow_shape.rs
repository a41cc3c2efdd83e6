use wf_guest::prelude::*;

#[workflow]
fn with_input(n: u64) -> Result<()> {
    let _ = n;
    Ok(())
}

#[workflow]
fn returns_number() -> u64 {
    7
}

#[workflow]
fn generic<T>() -> Result<()> {
    Ok(())
}

fn main() {}
