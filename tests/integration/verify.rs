//! `verify`: recorded tasks re-executed from the checkpoint alone give identical results, and
//! every kind of tampering is caught.

use std::path::{Path, PathBuf};

use wf_runtime::{
    CheckpointRecord, GuestFailure, Input, Outcome, Payload, RunInfo, Runner, RunnerConfig,
    VerifyOptions, VerifyReport, load_checkpoint_dir, verify_checkpoint,
};

fn runner(runinfo: &Path, input_dirs: Vec<PathBuf>) -> Runner {
    let config = RunnerConfig {
        workers: 2,
        input_dirs,
        ..RunnerConfig::default()
    };
    Runner::new(config, Some(runinfo)).expect("runner")
}

/// Runs a few probes — clock, randomness, NaN, a large result — and returns the run's
/// checkpoint directory.
fn recorded_probes(runinfo: &Path) -> PathBuf {
    let runner = runner(runinfo, Vec::new());
    let probes = runner
        .load(&wf_tests::module_bytes("probes"))
        .expect("loads");
    let basics = runner
        .load(&wf_tests::module_bytes("basics"))
        .expect("loads");
    let session = runner.start("probes").expect("session");
    let mut tasks = Vec::new();
    for app in ["clock", "random", "nan"] {
        tasks.push(session.submit(&probes, app, vec![]).expect("submit"));
    }
    tasks.push(
        session
            .submit(&probes, "noop", vec![Input::value(&3u64)])
            .expect("submit"),
    );
    // Over the inline limit: the result is a blob.
    tasks.push(
        session
            .submit(
                &basics,
                "greet",
                vec![Input::value("a long name"), Input::value(&10_000u32)],
            )
            .expect("submit"),
    );
    for task in tasks {
        session.wait(task).expect("each probe succeeds");
    }
    let path = session.checkpoint_path().expect("recorded");
    session.finish().expect("finish");
    path
}

/// The report has exactly one mismatch, and it says `says`.
fn assert_one_mismatch(report: &VerifyReport, says: &str) {
    assert_eq!(report.mismatches.len(), 1, "{report:?}");
    assert!(
        report.mismatches[0].what.contains(says),
        "{:?}",
        report.mismatches[0]
    );
}

fn verify(checkpoint: &Path, runinfo: &Path) -> VerifyReport {
    verify_checkpoint(checkpoint, runinfo, &VerifyOptions::default()).expect("verify runs")
}

#[test]
fn a_run_verifies_even_when_its_guests_read_the_clock_and_random_numbers() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let runinfo = tmp.path().join("runinfo");
    let checkpoint = recorded_probes(&runinfo);
    let report = verify(&checkpoint, &runinfo);
    assert_eq!(report.records, 5);
    assert_eq!(report.matched, 5, "{report:?}");
    assert!(report.mismatches.is_empty(), "{report:?}");
    assert_eq!(report.runs.len(), 1, "the re-execution is a run of its own");
}

#[test]
fn a_copied_checkpoint_verifies_without_its_runinfo() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let checkpoint = recorded_probes(&tmp.path().join("runinfo"));
    let copy = tmp.path().join("elsewhere/checkpoint");
    copy_dir(&checkpoint, &copy);
    std::fs::remove_dir_all(tmp.path().join("runinfo")).expect("rm");
    let report = verify(&copy, &tmp.path().join("other-runinfo"));
    assert_eq!(report.matched, 5, "{report:?}");
}

#[test]
fn a_tampered_result_blob_is_a_mismatch() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let runinfo = tmp.path().join("runinfo");
    let checkpoint = recorded_probes(&runinfo);
    let blob = std::fs::read_dir(checkpoint.join("blobs"))
        .expect("the large result is a blob")
        .next()
        .expect("one blob")
        .expect("entry")
        .path();
    let mut bytes = std::fs::read(&blob).expect("read");
    bytes[100] ^= 0x20;
    std::fs::write(&blob, bytes).expect("tamper");
    let report = verify(&checkpoint, &runinfo);
    assert_eq!(report.matched, 4, "{report:?}");
    assert_one_mismatch(&report, "damaged");
    assert_eq!(report.mismatches[0].app, "greet");
}

/// Copies the records of `checkpoint` into a new run, changed by `edit`; returns the new
/// checkpoint.
fn rewritten(runinfo: &Path, checkpoint: &Path, edit: impl Fn(&mut CheckpointRecord)) -> PathBuf {
    let loaded = load_checkpoint_dir(checkpoint).expect("loads");
    let store = RunInfo::open(runinfo).expect("open");
    let mut run = store.create_run().expect("run");
    let mut writer = run.take_checkpoint_writer().expect("writer");
    let records: Vec<CheckpointRecord> = loaded
        .records()
        .map(|r| {
            let mut record = r.to_record();
            edit(&mut record);
            record
        })
        .collect();
    writer.commit(&records).expect("commit");
    copy_dir(
        &checkpoint.join("modules"),
        &run.checkpoint_path().join("modules"),
    );
    copy_dir(
        &checkpoint.join("blobs"),
        &run.checkpoint_path().join("blobs"),
    );
    run.checkpoint_path()
}

#[test]
fn a_recorded_result_that_differs_from_re_execution_is_a_mismatch() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let runinfo = tmp.path().join("runinfo");
    let checkpoint = recorded_probes(&runinfo);
    let forged = rewritten(&runinfo, &checkpoint, |record| {
        if record.app == "noop" {
            record.outcome = Outcome::Ok(Payload::Inline(vec![4]));
        }
    });
    let report = verify(&forged, &runinfo);
    assert_eq!(report.matched, 4, "{report:?}");
    assert_one_mismatch(&report, "result differs");
}

#[test]
fn altered_inputs_no_longer_match_their_key() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let runinfo = tmp.path().join("runinfo");
    let checkpoint = recorded_probes(&runinfo);
    let forged = rewritten(&runinfo, &checkpoint, |record| {
        if record.app == "noop" {
            record.inputs.args = vec![Payload::Inline(vec![4])];
            record.outcome = Outcome::Ok(Payload::Inline(vec![4]));
        }
    });
    let report = verify(&forged, &runinfo);
    assert_one_mismatch(&report, "does not match");
}

#[test]
fn tasks_that_read_and_write_files_verify_given_the_input_directory() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let inputs = tmp.path().join("inputs");
    std::fs::create_dir_all(&inputs).expect("mkdir");
    std::fs::write(inputs.join("corpus.txt"), "the cat and the hat").expect("write");
    let runinfo = tmp.path().join("runinfo");
    let runner = runner(&runinfo, vec![inputs.clone()]);
    let module = runner
        .load(&wf_tests::module_bytes("wordfreq"))
        .expect("loads");
    let report = runner.run_workflow(&module, "files").expect("runs");
    assert!(report.ok, "{report:?}");
    let session = runner.start("from an input file").expect("session");
    let counted = session
        .submit(
            &module,
            "count_file",
            vec![Input::InputFile("corpus.txt".into())],
        )
        .expect("submit");
    session.wait(counted).expect("counts");
    let from_input = session.checkpoint_path().expect("recorded");
    session.finish().expect("finish");

    let files_run = runinfo.join("000/checkpoint");
    let report = verify(&files_run, &runinfo);
    assert!(report.mismatches.is_empty(), "{report:?}");
    assert!(report.skipped.is_empty(), "{report:?}");
    assert_eq!(report.matched, report.records, "{report:?}");

    // Without the input directory the task that read it cannot be checked: skipped, said so.
    let report = verify(&from_input, &runinfo);
    assert_eq!(report.skipped.len(), 1, "{report:?}");
    let options = VerifyOptions {
        input_dirs: vec![inputs],
        ..VerifyOptions::default()
    };
    let report = verify_checkpoint(&from_input, &runinfo, &options).expect("verify");
    assert_eq!(report.matched, 1, "{report:?}");
}

#[test]
fn a_sample_re_executes_a_share_of_the_records() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let runinfo = tmp.path().join("runinfo");
    let checkpoint = recorded_probes(&runinfo);
    let all = verify(&checkpoint, &runinfo);
    let options = VerifyOptions {
        sample_percent: 0.001,
        ..VerifyOptions::default()
    };
    let none = verify_checkpoint(&checkpoint, &runinfo, &options).expect("verify");
    assert_eq!(all.sampled, 5);
    assert!(none.sampled < all.sampled, "{none:?}");
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    let Ok(entries) = std::fs::read_dir(from) else {
        return;
    };
    for entry in entries {
        let entry = entry.expect("entry");
        let target = to.join(entry.file_name());
        if entry.file_type().expect("type").is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).expect("copy");
        }
    }
}

/// The `.wasm` files a checkpoint keeps.
fn kept_modules(checkpoint: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(checkpoint.join("modules"))
        .map(|dir| {
            dir.map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

#[test]
fn a_checkpoint_keeps_exactly_the_modules_its_records_name() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let runinfo = tmp.path().join("runinfo");
    let runner = runner(&runinfo, Vec::new());
    let probes = runner
        .load(&wf_tests::module_bytes("probes"))
        .expect("loads");
    let basics = runner
        .load(&wf_tests::module_bytes("basics"))
        .expect("loads");

    // One task of probes is recorded; basics is used only by a task that is a memo hit.
    let warm = runner.start("warm").expect("session");
    let hello = warm
        .submit(
            &basics,
            "greet",
            vec![Input::value("x"), Input::value(&1u32)],
        )
        .expect("submit");
    warm.wait(hello).expect("greets");
    let warm_checkpoint = warm.checkpoint_path().expect("recorded");
    warm.finish().expect("finish");
    assert_eq!(
        kept_modules(&warm_checkpoint),
        [format!("{}.wasm", basics.digest())]
    );

    let session = runner.start("mixed").expect("session");
    let cached = session
        .submit(
            &basics,
            "greet",
            vec![Input::value("x"), Input::value(&1u32)],
        )
        .expect("submit");
    let executed = session
        .submit(&probes, "noop", vec![Input::value(&1u64)])
        .expect("submit");
    session.wait(cached).expect("a hit");
    session.wait(executed).expect("runs");
    let checkpoint = session.checkpoint_path().expect("recorded");
    session.finish().expect("finish");
    assert_eq!(
        kept_modules(&checkpoint),
        [format!("{}.wasm", probes.digest())],
        "the module of the reused task is not copied again; the recorded one is kept"
    );

    // A run that records nothing keeps no module.
    let again = runner.start("all hits").expect("session");
    let hit = again
        .submit(&probes, "noop", vec![Input::value(&1u64)])
        .expect("submit");
    again.wait(hit).expect("a hit");
    let empty = again.checkpoint_path().expect("recorded");
    again.finish().expect("finish");
    assert!(
        kept_modules(&empty).is_empty(),
        "{:?}",
        kept_modules(&empty)
    );
}

/// A run with `cache_failures` that records one failing task (`complain`) and one long `spin`.
fn recorded_failure_and_spin(runinfo: &Path) -> PathBuf {
    let config = RunnerConfig {
        workers: 2,
        cache_failures: true,
        ..RunnerConfig::default()
    };
    let runner = Runner::new(config, Some(runinfo)).expect("runner");
    let probes = runner
        .load(&wf_tests::module_bytes("probes"))
        .expect("loads");
    let session = runner.start("failure and spin").expect("session");
    let failing = session
        .submit(&probes, "complain", vec![Input::value("always")])
        .expect("submit");
    let spinning = session
        .submit(&probes, "spin", vec![Input::value(&30_000_000u64)])
        .expect("submit");
    assert!(session.wait(failing).is_err());
    session.wait(spinning).expect("spins");
    let path = session.checkpoint_path().expect("recorded");
    session.finish().expect("finish");
    path
}

#[test]
fn a_recorded_failure_verifies_only_with_the_same_kind_and_message() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let runinfo = tmp.path().join("runinfo");
    let checkpoint = recorded_failure_and_spin(&runinfo);
    let report = verify(&checkpoint, &runinfo);
    assert_eq!((report.records, report.matched), (2, 2), "{report:?}");

    for (edit, what) in [
        (GuestFailure::Panic, None),
        (GuestFailure::AppError, Some("always, but later")),
    ] {
        let forged = rewritten(&runinfo, &checkpoint, |record| {
            if let Outcome::Failed { kind, message } = &mut record.outcome {
                *kind = edit;
                if let Some(other) = what {
                    *message = other.to_owned();
                }
            }
        });
        let report = verify(&forged, &runinfo);
        assert_eq!(report.matched, 1, "{report:?}");
        assert_one_mismatch(&report, "fails differently");
    }
}

#[test]
fn a_re_execution_stopped_by_this_machine_s_limits_is_skipped_not_a_mismatch() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let runinfo = tmp.path().join("runinfo");
    let checkpoint = recorded_failure_and_spin(&runinfo);
    let options = VerifyOptions {
        limits: wf_runtime::Limits {
            timeout: Some(std::time::Duration::from_millis(1)),
            ..wf_runtime::Limits::default()
        },
        ..VerifyOptions::default()
    };
    let report = verify_checkpoint(&checkpoint, &runinfo, &options).expect("verify runs");
    assert!(report.mismatches.is_empty(), "{report:?}");
    // The spin cannot finish in a millisecond; the failing task may or may not.
    assert!(
        report
            .skipped
            .iter()
            .any(|s| s.app == "spin" && s.why.contains("timeout")),
        "{report:?}"
    );
}
