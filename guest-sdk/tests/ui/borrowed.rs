use wf_guest::prelude::*;

#[app]
fn shout(text: &str) -> String {
    text.to_uppercase()
}

#[app]
fn lazy(x: impl Into<u64>) -> u64 {
    x.into()
}

fn main() {}
