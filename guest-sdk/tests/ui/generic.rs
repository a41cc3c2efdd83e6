use wf_guest::prelude::*;

#[app]
fn identity<T: Clone>(x: T) -> T {
    x
}

#[app]
fn bounded(x: u8) -> u8
where
    u8: Copy,
{
    x
}

fn main() {}
