//! Dataflow runs through the library: futures between tasks, memoization, failures, retries,
//! limits, worker counts.

use std::time::Duration;

use wf_runtime::{Input, Limits, RunReport, Runner, RunnerConfig, TaskStatusReport};

fn runner(config: RunnerConfig) -> Runner {
    Runner::new(config, None).expect("runner")
}

fn module(runner: &Runner, name: &str) -> wf_runtime::LoadedModule {
    runner
        .load(&wf_tests::module_bytes(name))
        .expect("example apps load")
}

#[test]
fn fan_out_fan_in_through_futures_gives_the_right_result() {
    let runner = runner(RunnerConfig {
        workers: 2,
        ..RunnerConfig::default()
    });
    let basics = module(&runner, "basics");
    let session = runner.start("fan-in").expect("session");
    let doubled: Vec<_> = (0..5i64)
        .map(|i| {
            session
                .submit(&basics, "slow_double", vec![Input::value(&i)])
                .expect("submit")
        })
        .collect();
    let total = session
        .submit(&basics, "total", vec![Input::Futures(doubled.clone())])
        .expect("submit");
    // A future where a plain value is expected.
    let plus = session
        .submit(
            &basics,
            "add",
            vec![Input::Future(total), Input::Future(doubled[4])],
        )
        .expect("submit");
    assert_eq!(session.get::<i64>(total).expect("total"), 20);
    assert_eq!(session.get::<i64>(plus).expect("add"), 28);
    let report = session.finish().expect("finish");
    assert!(report.ok);
    assert_eq!((report.tasks, report.executed, report.cached), (7, 7, 0));
}

#[test]
fn a_second_identical_run_in_the_same_process_is_all_memo_hits() {
    let runner = runner(RunnerConfig::default());
    let basics = module(&runner, "basics");
    let first = runner.run_workflow(&basics, "main").expect("first run");
    assert!(first.ok, "{first:?}");
    assert_eq!(first.cached, 0);
    let second = runner.run_workflow(&basics, "main").expect("second run");
    assert!(second.ok);
    assert_eq!(second.tasks, first.tasks);
    assert_eq!(second.executed, 0, "nothing runs again: {second:?}");
    assert_eq!(second.cached, second.tasks);
    // Keys are the same in both runs, task by task.
    let keys = |r: &RunReport| {
        r.task_list
            .iter()
            .map(|t| t.key.clone())
            .collect::<Vec<_>>()
    };
    assert_eq!(keys(&first), keys(&second));
}

#[test]
fn memoization_can_be_turned_off() {
    let runner = runner(RunnerConfig {
        memoize: false,
        ..RunnerConfig::default()
    });
    let basics = module(&runner, "basics");
    runner.run_workflow(&basics, "main").expect("first");
    let second = runner.run_workflow(&basics, "main").expect("second");
    assert_eq!(second.cached, 0);
    assert_eq!(second.executed, second.tasks);
}

#[test]
fn identical_tasks_in_flight_run_once() {
    let runner = runner(RunnerConfig {
        workers: 2,
        ..RunnerConfig::default()
    });
    let probes = module(&runner, "probes");
    let session = runner.start("dedup").expect("session");
    let handles: Vec<_> = (0..8)
        .map(|_| {
            session
                .submit(&probes, "spin", vec![Input::value(&2_000_000u64)])
                .expect("submit")
        })
        .collect();
    let results: Vec<u64> = handles
        .iter()
        .map(|h| session.get(*h).expect("spin"))
        .collect();
    assert!(results.windows(2).all(|w| w[0] == w[1]));
    let report = session.finish().expect("finish");
    assert_eq!(report.executed, 1, "{report:?}");
    assert_eq!(report.cached, 7);
}

#[test]
fn a_failing_task_fails_exactly_its_dependents() {
    let runner = runner(RunnerConfig::default());
    let basics = module(&runner, "basics");
    let session = runner.start("failure").expect("session");
    let bad = session
        .submit(
            &basics,
            "divide",
            vec![Input::value(&1i64), Input::value(&0i64)],
        )
        .expect("submit");
    let child = session
        .submit(
            &basics,
            "add",
            vec![Input::Future(bad), Input::value(&1i64)],
        )
        .expect("submit");
    let grandchild = session
        .submit(&basics, "slow_double", vec![Input::Future(child)])
        .expect("submit");
    let sibling = session
        .submit(
            &basics,
            "add",
            vec![Input::value(&1i64), Input::value(&1i64)],
        )
        .expect("submit");
    let err = session.wait(grandchild).expect_err("fails");
    assert!(err.contains("dependency task 0 (`divide`) failed"), "{err}");
    assert!(err.contains("cannot divide 1 by 0"), "{err}");
    assert_eq!(session.get::<i64>(sibling).expect("sibling is fine"), 2);
    let report = session.finish().expect("finish");
    assert!(!report.ok);
    assert_eq!(report.failed, 3);
    let statuses: Vec<_> = report.task_list.iter().map(|t| t.status).collect();
    use TaskStatusReport::*;
    assert_eq!(statuses, [Failed, Failed, Failed, Executed]);
    assert_eq!(
        report.task_list[1]
            .error
            .as_ref()
            .and_then(|e| e.kind.clone())
            .as_deref(),
        Some("dependency failed")
    );
}

#[test]
fn a_failing_workflow_reports_its_error() {
    let runner = runner(RunnerConfig::default());
    let basics = module(&runner, "basics");
    let session = runner.start("failing").expect("session");
    let failure = session
        .run_workflow(&basics, "failing")
        .expect_err("the workflow fails");
    assert!(
        failure.message.contains("cannot divide 1 by 0"),
        "{failure}"
    );
    let report = session
        .finish_with(Some(failure.to_string()))
        .expect("finish");
    assert!(!report.ok);
}

#[test]
fn retries_are_counted_and_a_runaway_task_does_not_take_the_run_down() {
    let limits = Limits {
        timeout: Some(Duration::from_millis(100)),
        ..Limits::default()
    };
    let config = RunnerConfig {
        limits,
        retries: 2,
        ..RunnerConfig::default()
    };
    let runner = runner(config);
    let probes = module(&runner, "probes");
    let session = runner.start("retries").expect("session");
    let stuck = session.submit(&probes, "forever", vec![]).expect("submit");
    let fine = session
        .submit(&probes, "noop", vec![Input::value(&5u64)])
        .expect("submit");
    let err = session.wait(stuck).expect_err("times out every time");
    assert!(err.contains("timeout"), "{err}");
    assert_eq!(session.get::<u64>(fine).expect("noop"), 5);
    let report = session.finish().expect("finish");
    assert_eq!(report.task_list[0].attempts, 3, "1 + 2 retries: {report:?}");
    assert_eq!(report.attempts, 4);
}

#[test]
fn per_app_retries_override_the_run_default() {
    let limits = Limits {
        fuel: Some(200_000_000),
        memory_bytes: 8 << 20,
        ..Limits::default()
    };
    let config = RunnerConfig {
        limits,
        retries: 3,
        app_retries: [("forever".to_owned(), 0)].into_iter().collect(),
        ..RunnerConfig::default()
    };
    let runner = runner(config);
    let probes = module(&runner, "probes");
    let session = runner.start("fuel").expect("session");
    let stuck = session.submit(&probes, "forever", vec![]).expect("submit");
    let err = session.wait(stuck).expect_err("out of fuel");
    assert!(err.contains("fuel"), "{err}");
    let bomb = session
        .submit(&probes, "hog", vec![Input::value(&1024u32)])
        .expect("submit");
    let report_err = session.wait(bomb).expect_err("memory bomb");
    assert!(report_err.contains("memory"), "{report_err}");
    let report = session.finish().expect("finish");
    assert_eq!(report.task_list[0].attempts, 1);
    assert_eq!(report.task_list[1].attempts, 4);
}

#[test]
fn one_and_two_workers_give_identical_results() {
    let results = |workers: usize| -> Vec<u64> {
        let runner = runner(RunnerConfig {
            workers,
            ..RunnerConfig::default()
        });
        let probes = module(&runner, "probes");
        let session = runner.start("workers").expect("session");
        let handles: Vec<_> = (0..40u64)
            .map(|i| {
                session
                    .submit(&probes, "spin", vec![Input::value(&(i * 1000))])
                    .expect("submit")
            })
            .collect();
        let randoms: Vec<_> = (0..4)
            .map(|_| session.submit(&probes, "random", vec![]).expect("submit"))
            .collect();
        let mut out: Vec<u64> = handles
            .iter()
            .map(|h| session.get(*h).expect("spin"))
            .collect();
        out.extend(
            randoms
                .iter()
                .map(|h| session.get::<u64>(*h).expect("random")),
        );
        session.finish().expect("finish");
        out
    };
    assert_eq!(results(1), results(2));
}

#[test]
fn the_host_refuses_bad_submissions_with_a_reason() {
    let runner = runner(RunnerConfig::default());
    let basics = module(&runner, "basics");
    let session = runner.start("bad").expect("session");
    let err = session
        .submit(&basics, "nope", vec![])
        .expect_err("unknown app");
    assert!(err.to_string().contains("no app `nope`"), "{err}");
    let err = session
        .submit(&basics, "add", vec![Input::value(&1i64)])
        .expect_err("arity");
    assert!(
        err.to_string()
            .contains("takes 2 argument(s), but 1 were given"),
        "{err}"
    );
}

#[test]
fn many_short_sessions_end_cleanly() {
    // Regression: the last reference to a session could be dropped by one of its own workers,
    // which then tried to join itself ("Resource deadlock avoided").
    // Such a panic happens on a worker thread, so watch for it through the panic hook.
    static JOIN_PANICS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(|info| {
        if info.to_string().contains("join") {
            JOIN_PANICS.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        }
    }));
    let runner = runner(RunnerConfig {
        workers: 2,
        ..RunnerConfig::default()
    });
    let probes = module(&runner, "probes");
    for i in 0..30u64 {
        let session = runner.start("short").expect("session");
        let task = session
            .submit(&probes, "noop", vec![Input::value(&i)])
            .expect("submit");
        assert_eq!(session.get::<u64>(task).expect("noop"), i);
        session.finish().expect("finish");
    }
    drop(runner);
    std::thread::sleep(Duration::from_millis(100));
    std::panic::set_hook(previous);
    assert_eq!(
        JOIN_PANICS.load(std::sync::atomic::Ordering::SeqCst),
        0,
        "a worker joined itself"
    );
}

#[test]
fn finished_jobs_reach_a_workflow_waiting_on_them_under_contention() {
    // Workers queue what they finish and apply the queue only when the core's lock is free; the
    // lock's holders apply it before sleeping or unlocking. A job left in the queue with nobody
    // to apply it would hang the `get` below: many small rounds of submit-then-wait, with more
    // workers than cores, give that race many chances. The watchdog turns a hang into a failure.
    let (done_tx, done_rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let runner = runner(RunnerConfig {
            workers: 4,
            memoize: false,
            ..RunnerConfig::default()
        });
        let probes = module(&runner, "probes");
        let session = runner.start("contention").expect("session");
        // Rounds of one task (each job is the one the workflow waits for, with nothing else
        // running to apply the queue for it) and of eight (workers contend for the lock).
        let mut next = 0u64;
        for width in [1u64, 8].into_iter().cycle().take(1000) {
            let tasks: Vec<_> = (0..width)
                .map(|i| {
                    let task = session
                        .submit(&probes, "noop", vec![Input::value(&(next + i))])
                        .expect("submit");
                    (task, next + i)
                })
                .collect();
            next += width;
            for (task, value) in tasks {
                assert_eq!(session.get::<u64>(task).expect("noop"), value);
            }
        }
        let report = session.finish().expect("finish");
        let _ = done_tx.send((report.executed, next));
    });
    let (executed, submitted) = done_rx
        .recv_timeout(Duration::from_secs(300))
        .expect("the session ended (a hang means a finished job was never applied)");
    assert_eq!(executed, submitted);
}
