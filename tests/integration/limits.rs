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
