use wf_guest::prelude::*;

struct Opaque;

#[app]
fn takes(x: u8, opaque: Opaque) -> u8 {
    let _ = opaque;
    x
}

#[app]
fn gives(x: u8) -> Opaque {
    let _ = x;
    Opaque
}

fn main() {}
