//! Embedding the engine: build an example guest, run its workflow, then submit tasks from Rust
//! with futures as inputs. Run with `cargo run -p wf-runtime --example embed`.

use std::path::Path;

use wf_runtime::{BuildOptions, Input, Runner, RunnerConfig, build_guest};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let modules = build_guest(&workspace.join("apps/basics"), &BuildOptions::default())?;
    let runinfo = std::env::temp_dir().join("wf-embed-example");
    let runner = Runner::new(RunnerConfig::default(), Some(&runinfo))?;
    let module = runner.load(&std::fs::read(&modules[0])?)?;

    // A guest workflow, its tasks on the worker pool.
    let report = runner.run_workflow(&module, "main")?;
    println!(
        "workflow main: {} tasks, {} executed",
        report.tasks, report.executed
    );

    // Tasks submitted by the host; a future is an input like any value.
    let session = runner.start("host tasks")?;
    let sum = session.submit(
        &module,
        "add",
        vec![Input::value(&20i64), Input::value(&1i64)],
    )?;
    let doubled = session.submit(&module, "slow_double", vec![Input::Future(sum)])?;
    println!("(20 + 1) * 2 = {}", session.get::<i64>(doubled)?);
    println!("checkpointed {} records", session.checkpoint());
    let report = session.finish()?;
    println!(
        "host session: {} tasks, {} cached",
        report.tasks, report.cached
    );
    Ok(())
}
