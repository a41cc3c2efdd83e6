//! `explain`: each kind of key difference is named — an argument (with values), an input file's
//! content, the fuel limit, the salt, the module — and a key recorded by a run that was not
//! loaded is told apart from a changed one.

use std::path::Path;

use wf_runtime::{
    CheckpointRecord, Difference, Explanation, Input, Limits, ModuleDigest, Outcome, Payload,
    RunId, RunInfo, RunReport, Runner, RunnerConfig, TaskInputs, TaskKey, TaskReport,
    TaskStatusReport, explain_task,
};

fn config(fuel: Option<u64>, salt: &str, input_dirs: Vec<std::path::PathBuf>) -> RunnerConfig {
    RunnerConfig {
        workers: 1,
        limits: Limits {
            fuel,
            ..Limits::default()
        },
        salt: salt.to_owned(),
        input_dirs,
        ..RunnerConfig::default()
    }
}

/// One run of `app(args)` of `module` in a fresh runner (nothing loaded from earlier runs);
/// returns the task's key.
fn run_one(
    runinfo: &Path,
    config: RunnerConfig,
    module: &str,
    app: &str,
    args: Vec<Input>,
) -> String {
    let runner = Runner::new(config, Some(runinfo)).expect("runner");
    let module = runner.load(&wf_tests::module_bytes(module)).expect("loads");
    let session = runner.start("one task").expect("session");
    let task = session.submit(&module, app, args).expect("submit");
    session.wait(task).expect("succeeds");
    let report = session.finish().expect("finish");
    report.task_list[0].key.clone()
}

fn explain(runinfo: &Path, run: u32, key: &str) -> Explanation {
    explain_task(runinfo, RunId::new(run), &key[..12]).expect("explains")
}

fn only_difference(explanation: &Explanation) -> &Difference {
    let nearest = explanation.nearest.as_ref().expect("a nearest entry");
    assert_eq!(nearest.differences.len(), 1, "{explanation:?}");
    &nearest.differences[0]
}

#[test]
fn a_changed_argument_is_named_with_its_values() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let runinfo = tmp.path().join("runinfo");
    let greet = |name: &str| {
        run_one(
            &runinfo,
            config(None, "", vec![]),
            "basics",
            "greet",
            vec![Input::value(name), Input::value(&2u32)],
        )
    };
    greet("bob");
    greet("carol");
    let key = greet("alice");
    let explanation = explain(&runinfo, 2, &key);
    assert_eq!(
        explanation.nearest.as_ref().expect("nearest").run,
        RunId::new(1)
    );
    match only_difference(&explanation) {
        Difference::Argument {
            position,
            param,
            recorded_value,
            now_value,
            ..
        } => {
            assert_eq!(*position, 1);
            assert_eq!(param.as_deref(), Some("name: String"));
            assert_eq!(recorded_value.as_deref(), Some("\"carol\""));
            assert_eq!(now_value.as_deref(), Some("\"alice\""));
        }
        other => panic!("expected an argument, got {other:?}"),
    }
    let text = explanation.to_text(&runinfo);
    assert!(
        text.contains("argument 1 (`name: String`): was \"carol\""),
        "{text}"
    );
}

#[test]
fn fuel_and_salt_are_named() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let runinfo = tmp.path().join("runinfo");
    let noop = |config| {
        run_one(
            &runinfo,
            config,
            "probes",
            "noop",
            vec![Input::value(&1u64)],
        )
    };
    noop(config(None, "", vec![]));
    let fuelled = noop(config(Some(1_000_000), "", vec![]));
    let salted = noop(config(None, "fresh", vec![]));
    assert_eq!(
        *only_difference(&explain(&runinfo, 1, &fuelled)),
        Difference::Fuel {
            recorded: None,
            now: Some(1_000_000)
        }
    );
    // Run 2 is one change from run 0 (the salt) and two from run 1 (salt and fuel).
    let explanation = explain(&runinfo, 2, &salted);
    assert_eq!(
        explanation.nearest.as_ref().expect("nearest").run,
        RunId::new(0)
    );
    assert_eq!(
        *only_difference(&explanation),
        Difference::Salt {
            recorded: String::new(),
            now: "fresh".into()
        }
    );
}

#[test]
fn an_input_file_whose_content_changed_is_named() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let runinfo = tmp.path().join("runinfo");
    let inputs = tmp.path().join("inputs");
    std::fs::create_dir_all(&inputs).expect("mkdir");
    let count = |text: &str| {
        std::fs::write(inputs.join("corpus.txt"), text).expect("write");
        run_one(
            &runinfo,
            config(None, "", vec![inputs.clone()]),
            "wordfreq",
            "count_file",
            vec![Input::InputFile("corpus.txt".into())],
        )
    };
    count("the cat and the hat");
    let key = count("the cat and the bat");
    match only_difference(&explain(&runinfo, 1, &key)) {
        Difference::InputFile {
            position, param, ..
        } => {
            assert_eq!(*position, 1);
            assert_eq!(param.as_deref(), Some("file: File"));
        }
        other => panic!("expected an input file, got {other:?}"),
    }
}

#[test]
fn a_key_recorded_by_a_run_that_was_not_loaded_is_told_apart() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let runinfo = tmp.path().join("runinfo");
    let once = || {
        run_one(
            &runinfo,
            config(None, "", vec![]),
            "probes",
            "noop",
            vec![Input::value(&5u64)],
        )
    };
    once();
    let key = once();
    let explanation = explain(&runinfo, 1, &key);
    assert_eq!(explanation.same_key_in, Some(RunId::new(0)));
    let text = explanation.to_text(&runinfo);
    assert!(text.contains("--resume"), "{text}");
}

/// A run whose checkpoint holds `records` and whose summary lists them as executed.
fn crafted_run(runinfo: &Path, records: &[CheckpointRecord]) {
    let store = RunInfo::open(runinfo).expect("open");
    let mut run = store.create_run().expect("run");
    let mut writer = run.take_checkpoint_writer().expect("writer");
    writer.commit(records).expect("commit");
    let task_list = records
        .iter()
        .enumerate()
        .map(|(i, r)| TaskReport {
            id: i as u64,
            app: r.app.clone(),
            key: r.key.to_string(),
            status: TaskStatusReport::Executed,
            attempts: 1,
            seconds: 0.0,
            error: None,
        })
        .collect();
    run.write_summary(&RunReport {
        id: None,
        what: "crafted".into(),
        module: String::new(),
        tasks: records.len() as u64,
        executed: records.len() as u64,
        cached: 0,
        failed: 0,
        attempts: records.len() as u64,
        seconds: 0.0,
        ok: true,
        error: None,
        task_list,
    })
    .expect("summary");
}

fn record(key: u8, module: u8, arg: u8) -> CheckpointRecord {
    CheckpointRecord {
        key: TaskKey([key; 32]),
        app: "noop".into(),
        module: ModuleDigest([module; 32]),
        outcome: Outcome::Ok(Payload::Inline(vec![arg])),
        outputs: vec![],
        started_unix_ms: 0,
        duration_us: 1,
        attempts: 1,
        inputs: TaskInputs {
            args: vec![Payload::Inline(vec![arg])],
            ..TaskInputs::default()
        },
    }
}

#[test]
fn a_changed_module_is_named_and_the_nearest_entry_wins() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let runinfo = tmp.path().join("runinfo");
    // Run 0: the same argument under module 1, and another argument under module 2.
    crafted_run(&runinfo, &[record(1, 1, 7), record(2, 2, 8)]);
    // Run 1: argument 7 under module 2 — one change from each; the later record wins the tie.
    crafted_run(&runinfo, &[record(3, 2, 7)]);
    let explanation = explain(&runinfo, 1, &TaskKey([3; 32]).to_string());
    let nearest = explanation.nearest.as_ref().expect("nearest");
    assert_eq!(nearest.key, TaskKey([2; 32]));
    assert!(matches!(
        nearest.differences[..],
        [Difference::Argument { position: 1, .. }]
    ));
    // Run 2: argument 8 under module 3: the module alone differs from record 2.
    crafted_run(&runinfo, &[record(4, 3, 8)]);
    assert_eq!(
        *only_difference(&explain(&runinfo, 2, &TaskKey([4; 32]).to_string())),
        Difference::Module {
            recorded: ModuleDigest([2; 32]),
            now: ModuleDigest([3; 32])
        }
    );
}

#[test]
fn unknown_and_ambiguous_tasks_are_errors_that_say_so() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let runinfo = tmp.path().join("runinfo");
    let mut a = record(0xab, 1, 1);
    a.key.0[1] = 0x01;
    let mut b = record(0xab, 1, 2);
    b.key.0[1] = 0x02;
    crafted_run(&runinfo, &[a, b]);
    let err = explain_task(&runinfo, RunId::new(0), "ab").expect_err("ambiguous");
    assert!(err.to_string().contains("matches 2 tasks"), "{err}");
    let err = explain_task(&runinfo, RunId::new(0), "cd").expect_err("none");
    assert!(
        err.to_string()
            .contains("no task whose key starts with `cd`"),
        "{err}"
    );
    let err = explain_task(&runinfo, RunId::new(7), "ab").expect_err("no run");
    assert!(err.to_string().contains("has no summary"), "{err}");
}
