//! Limits stop runaway guests with a clear error and leave the engine usable.

use std::time::Duration;

use wf_runtime::{FailureKind, Limits};

use super::*;

fn settings(limits: Limits) -> EngineSettings {
    EngineSettings {
        limits,
        ..EngineSettings::default()
    }
}

/// After a runaway task, the same sandbox still runs tasks.
fn still_usable(sandbox: &Sandbox, module: &LoadedModule) {
    assert_eq!(
        dec::<u64>(&call_raw(sandbox, module, "noop", &[enc(&7u64)])),
        7
    );
}

#[test]
fn an_infinite_loop_runs_out_of_fuel() {
    let (sandbox, module) = load_with(
        "probes",
        settings(Limits {
            fuel: Some(5_000_000),
            ..Limits::default()
        }),
    );
    let run = call_raw(&sandbox, &module, "forever", &[]);
    let failure = run.outcome.expect_err("never returns");
    assert_eq!(failure.kind, FailureKind::FuelExhausted);
    assert!(
        failure.message.contains("5000000"),
        "names the limit: {}",
        failure.message
    );
    assert_eq!(run.fuel_used, Some(5_000_000));
    still_usable(&sandbox, &module);
}

#[test]
fn fuel_use_is_deterministic() {
    let (sandbox, module) = load_with(
        "probes",
        settings(Limits {
            fuel: Some(u64::MAX / 2),
            ..Limits::default()
        }),
    );
    let first = call_raw(&sandbox, &module, "spin", &[enc(&10_000u64)]);
    let second = call_raw(&sandbox, &module, "spin", &[enc(&10_000u64)]);
    assert!(first.fuel_used.is_some_and(|f| f > 10_000));
    assert_eq!(first.fuel_used, second.fuel_used);
    assert_eq!(first.outcome, second.outcome);
}

#[test]
fn an_infinite_loop_times_out() {
    let limits = Limits {
        timeout: Some(Duration::from_millis(200)),
        ..Limits::default()
    };
    let (sandbox, module) = load_with("probes", settings(limits));
    let failure = call_raw(&sandbox, &module, "forever", &[])
        .outcome
        .expect_err("never returns");
    assert_eq!(failure.kind, FailureKind::Timeout);
    assert!(
        !failure.kind.is_deterministic(),
        "a timeout is never memoized"
    );
    assert!(
        failure.message.contains("200ms"),
        "names the limit: {}",
        failure.message
    );
    still_usable(&sandbox, &module);
}

#[test]
fn a_memory_bomb_hits_the_ceiling() {
    let limits = Limits {
        memory_bytes: 64 << 20,
        ..Limits::default()
    };
    let (sandbox, module) = load_with("probes", settings(limits));
    let failure = call_raw(&sandbox, &module, "hog", &[enc(&1024u32)])
        .outcome
        .expect_err("never returns");
    assert_eq!(
        failure.kind,
        FailureKind::MemoryLimit,
        "{}",
        failure.message
    );
    assert!(
        failure.message.contains("64 MiB"),
        "names the limit: {}",
        failure.message
    );
    still_usable(&sandbox, &module);
}

/// A workflow host whose first submission runs the task right away, while the workflow's own
/// instance is still alive, and keeps what happened.
struct RunsTaskInside {
    sandbox: std::sync::Arc<Sandbox>,
    module: LoadedModule,
    seen: std::sync::Arc<std::sync::Mutex<Option<TaskRun>>>,
}

impl wf_runtime::WorkflowHost for RunsTaskInside {
    fn submit(&mut self, request: wf_abi::SubmitRequest) -> Result<u64, String> {
        let run = call_raw(&self.sandbox, &self.module, &request.app, &[enc(&1i64)]);
        *self.seen.lock().expect("not poisoned") = Some(run);
        Err("stop here".to_owned())
    }
    fn wait(&mut self, _future: u64) -> Result<Vec<u8>, String> {
        Err("nothing was submitted".to_owned())
    }
    fn checkpoint(&mut self) -> u64 {
        0
    }
    fn input_file(&mut self, name: &str) -> Result<wf_abi::FileRef, String> {
        Err(format!("no input file {name}"))
    }
}

/// The instance pool is sized by the run (a slot per worker plus spares). Should more instances
/// be alive at once than it has slots, wasmtime's pool refuses at once: the task fails with an
/// infrastructure failure (never recorded) that names the pool, rather than hanging or passing
/// for a guest failure, and the engine runs tasks again once a slot is free.
#[test]
fn a_task_beyond_the_instance_slots_fails_clearly() {
    let (sandbox, module) = load_with(
        "basics",
        EngineSettings {
            max_instances: 1,
            ..EngineSettings::default()
        },
    );
    let sandbox = std::sync::Arc::new(sandbox);
    let seen = std::sync::Arc::default();
    let host = RunsTaskInside {
        sandbox: sandbox.clone(),
        module: module.clone(),
        seen: std::sync::Arc::clone(&seen),
    };
    // The workflow holds the only slot while it submits.
    let workflow = sandbox.run_workflow(&module, "main", Box::new(host));
    assert!(workflow.is_err(), "its submission was refused");
    let run = seen
        .lock()
        .expect("not poisoned")
        .take()
        .expect("the workflow submitted a task");
    let failure = run.outcome.expect_err("no slot was free");
    assert_eq!(failure.kind, FailureKind::Infrastructure);
    assert!(!failure.kind.is_deterministic());
    assert!(
        failure
            .message
            .contains("all 1 instance slots of the engine are in use"),
        "names the pool: {}",
        failure.message
    );
    assert_eq!(
        dec::<i64>(&call_raw(&sandbox, &module, "slow_double", &[enc(&21i64)])),
        42
    );
}
