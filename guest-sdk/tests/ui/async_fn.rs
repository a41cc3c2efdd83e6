use wf_guest::prelude::*;

#[app]
async fn fetch(x: u8) -> u8 {
    x
}

#[workflow]
async fn flow() -> Result<()> {
    Ok(())
}

fn main() {}
