use wf_guest::prelude::*;

#[app(cache = maybe)]
fn a(x: u8) -> u8 {
    x
}

#[app(retries = 3)]
fn b(x: u8) -> u8 {
    x
}

#[workflow(cache = false)]
fn flow() -> Result<()> {
    Ok(())
}

fn main() {}
