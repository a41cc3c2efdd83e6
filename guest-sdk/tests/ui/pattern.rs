use wf_guest::prelude::*;

#[app]
fn add_pair((a, b): (u8, u8)) -> u8 {
    a + b
}

#[app]
fn by_ref(ref x: u8) -> u8 {
    *x
}

#[app]
fn ignored(_: u8) -> u8 {
    0
}

fn main() {}
