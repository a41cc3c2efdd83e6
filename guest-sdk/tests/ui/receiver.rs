use wf_guest::prelude::*;

struct Counter;

impl Counter {
    #[app]
    fn next(&self, x: u8) -> u8 {
        x + 1
    }
}

fn main() {}
