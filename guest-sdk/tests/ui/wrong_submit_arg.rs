use wf_guest::prelude::*;

#[app]
fn double(x: i64) -> i64 {
    x * 2
}

#[app]
fn label(x: i64) -> String {
    format!("#{x}")
}

fn main() {
    let _ = double.submit("one");
    let _ = double.submit(label.submit(1));
}
