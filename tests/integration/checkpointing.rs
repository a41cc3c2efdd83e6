//! Checkpoint policies: when each one writes, and what.

use std::time::Duration;

use wf_runtime::{Input, RawPolicy, Runner, RunnerConfig, Session, load_checkpoint_dir};

fn runner(
    runinfo: &std::path::Path,
    mode: &str,
    period: Option<&str>,
    n: Option<u64>,
    avoid: &[&str],
) -> Runner {
    let checkpoint = RawPolicy {
        mode: mode.into(),
        period: period.map(Into::into),
        n,
        avoid: avoid.iter().map(|a| a.to_string()).collect(),
    };
    let config = RunnerConfig {
        checkpoint,
        workers: 2,
        ..RunnerConfig::default()
    };
    Runner::new(config, Some(runinfo)).expect("runner")
}

/// Records in the session's checkpoint log once what the policy decided to write is durable.
fn recorded(session: &Session<'_>) -> usize {
    session.wait_for_writes();
    load_checkpoint_dir(session.checkpoint_path().expect("a recorded run"))
        .expect("loads")
        .len()
}

/// Runs `noop(i)` for each i, one after the other, and returns the record count after each.
fn noops(
    session: &Session<'_>,
    module: &wf_runtime::LoadedModule,
    range: std::ops::Range<u64>,
) -> Vec<usize> {
    range
        .map(|i| {
            let task = session
                .submit(module, "noop", vec![Input::value(&i)])
                .expect("submit");
            assert_eq!(session.get::<u64>(task).expect("noop"), i);
            recorded(session)
        })
        .collect()
}

fn probes(runner: &Runner) -> wf_runtime::LoadedModule {
    runner
        .load(&wf_tests::module_bytes("probes"))
        .expect("loads")
}

#[test]
fn task_exit_records_each_task_before_its_future_resolves() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let runner = runner(tmp.path(), "task_exit", None, None, &[]);
    let module = probes(&runner);
    let session = runner.start("task_exit").expect("session");
    assert_eq!(noops(&session, &module, 0..5), [1, 2, 3, 4, 5]);
    session.finish().expect("finish");
}

#[test]
fn dfk_exit_records_at_the_end_only() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let runner = runner(tmp.path(), "dfk_exit", None, None, &[]);
    let module = probes(&runner);
    let session = runner.start("dfk_exit").expect("session");
    assert_eq!(noops(&session, &module, 0..4), [0, 0, 0, 0]);
    let path = session.checkpoint_path().expect("path");
    session.finish().expect("finish");
    assert_eq!(load_checkpoint_dir(path).expect("loads").len(), 4);
}

#[test]
fn manual_records_when_asked_and_answers_how_many() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let runner = runner(tmp.path(), "manual", None, None, &[]);
    let module = probes(&runner);
    let session = runner.start("manual").expect("session");
    assert_eq!(noops(&session, &module, 0..3), [0, 0, 0]);
    assert_eq!(session.checkpoint(), 3);
    assert_eq!(recorded(&session), 3);
    assert_eq!(noops(&session, &module, 3..5), [3, 3]);
    assert_eq!(session.checkpoint(), 2);
    assert_eq!(session.checkpoint(), 0);
    session.finish().expect("finish");
}

#[test]
fn every_n_finished_records_in_batches_of_n() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let runner = runner(tmp.path(), "every_n_finished", None, Some(2), &[]);
    let module = probes(&runner);
    let session = runner.start("every_n").expect("session");
    assert_eq!(noops(&session, &module, 0..5), [0, 2, 2, 4, 4]);
    let path = session.checkpoint_path().expect("path");
    session.finish().expect("finish");
    assert_eq!(
        load_checkpoint_dir(path).expect("loads").len(),
        5,
        "the end flushes the rest"
    );
}

#[test]
fn instantiated_groups_are_recorded_when_closed_and_done() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let runner = runner(tmp.path(), "instantiated_group", None, Some(3), &[]);
    let module = probes(&runner);
    let session = runner.start("groups").expect("session");
    // Group 0 = tasks 0..3; its last task finishes third.
    assert_eq!(noops(&session, &module, 0..4), [0, 0, 3, 3]);
    session.finish().expect("finish");
}

#[test]
fn periodic_records_everything_pending_each_period() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let runner = runner(tmp.path(), "periodic", Some("300ms"), None, &[]);
    let module = probes(&runner);
    let session = runner.start("periodic").expect("session");
    noops(&session, &module, 0..3);
    std::thread::sleep(Duration::from_millis(1200));
    assert_eq!(
        recorded(&session),
        3,
        "written at the first deadline after they finished"
    );
    session.finish().expect("finish");
}

#[test]
fn avoided_apps_are_memoized_but_never_recorded() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let runner = runner(tmp.path(), "task_exit", None, None, &["noop"]);
    let module = probes(&runner);
    let session = runner.start("avoid").expect("session");
    assert_eq!(noops(&session, &module, 0..3), [0, 0, 0]);
    let spin = session
        .submit(&module, "spin", vec![Input::value(&10u64)])
        .expect("submit");
    session.get::<u64>(spin).expect("spin");
    assert_eq!(recorded(&session), 1);
    noops(&session, &module, 0..3);
    let report = session.finish().expect("finish");
    assert_eq!(report.cached, 3, "the repeated noops are memo hits");
}

#[test]
fn failures_are_recorded_and_reused_only_with_cache_failures() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let config = RunnerConfig {
        cache_failures: true,
        ..RunnerConfig::default()
    };
    let runner = Runner::new(config.clone(), Some(tmp.path())).expect("runner");
    let basics = runner
        .load(&wf_tests::module_bytes("basics"))
        .expect("loads");
    let session = runner.start("fail").expect("session");
    let bad = session
        .submit(
            &basics,
            "divide",
            vec![Input::value(&1i64), Input::value(&0i64)],
        )
        .expect("submit");
    session.wait(bad).expect_err("fails");
    let path = session.checkpoint_path().expect("path");
    session.finish().expect("finish");
    assert_eq!(load_checkpoint_dir(&path).expect("loads").len(), 1);

    // A fresh runner that loads the checkpoint fails the task without running it.
    let again = Runner::new(config, Some(tmp.path())).expect("runner");
    let mut table = wf_runtime::MemoTable::new();
    table.add_checkpoint(load_checkpoint_dir(&path).expect("loads"));
    again.use_checkpoints(table);
    let basics = again
        .load(&wf_tests::module_bytes("basics"))
        .expect("loads");
    let session = again.start("reuse").expect("session");
    let bad = session
        .submit(
            &basics,
            "divide",
            vec![Input::value(&1i64), Input::value(&0i64)],
        )
        .expect("submit");
    let err = session.wait(bad).expect_err("the recorded failure");
    assert!(err.contains("cannot divide 1 by 0"), "{err}");
    let report = session.finish().expect("finish");
    assert_eq!(report.executed, 0);

    // Without cache_failures nothing is recorded for a failure.
    let plain =
        Runner::new(RunnerConfig::default(), Some(&tmp.path().join("plain"))).expect("runner");
    let basics = plain
        .load(&wf_tests::module_bytes("basics"))
        .expect("loads");
    let session = plain.start("plain").expect("session");
    let bad = session
        .submit(
            &basics,
            "divide",
            vec![Input::value(&1i64), Input::value(&0i64)],
        )
        .expect("submit");
    session.wait(bad).expect_err("fails");
    let path = session.checkpoint_path().expect("path");
    session.finish().expect("finish");
    assert_eq!(load_checkpoint_dir(&path).expect("loads").len(), 0);
}

#[test]
fn a_bad_policy_is_refused_up_front() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let checkpoint = RawPolicy {
        mode: "every_n_finished".into(),
        n: Some(0),
        ..RawPolicy::default()
    };
    let err = Runner::new(
        RunnerConfig {
            checkpoint,
            ..RunnerConfig::default()
        },
        Some(tmp.path()),
    )
    .expect_err("n = 0");
    assert!(err.to_string().contains("every_n_finished"), "{err}");
}

/// The memory ceiling is a setting outside the key: a task that hit it is never recorded, even
/// with `cache_failures`, so a run with a higher ceiling tries it again.
#[test]
fn a_memory_ceiling_failure_is_never_recorded() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let config = RunnerConfig {
        cache_failures: true,
        limits: wf_runtime::Limits {
            memory_bytes: 64 << 20,
            ..wf_runtime::Limits::default()
        },
        ..RunnerConfig::default()
    };
    let runner = Runner::new(config, Some(tmp.path())).expect("runner");
    let module = probes(&runner);
    let session = runner.start("memory bomb").expect("session");
    let bomb = session
        .submit(&module, "hog", vec![Input::value(&1024u32)])
        .expect("submit");
    assert!(session.wait(bomb).is_err(), "hits the ceiling");
    assert_eq!(recorded(&session), 0);
    session.finish().expect("finish");
}
