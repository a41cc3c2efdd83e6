use wf_guest::prelude::*;

#[derive(Debug)]
struct Oops;

#[app]
fn risky(x: u8) -> Result<u8, Oops> {
    if x == 0 { Err(Oops) } else { Ok(x) }
}

fn main() {}
