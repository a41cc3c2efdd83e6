//! Compaction and collection against a real filesystem: what `--resume` and lineage loads see
//! before and after, live runs, retention rules, damage, and a crash at every step.

use std::collections::{BTreeMap, BTreeSet};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::Path;
use std::time::{Duration, SystemTime};

use super::carry::Step;
use crate::key::{ModuleDigest, TaskKey};
use crate::runinfo::{
    CheckpointRecord, CheckpointWriter, Collected, Fate, GuestFailure, LoadedCheckpoint, MemoTable,
    Outcome, OutputFile, Payload, RunHandle, RunId, RunInfo, Selection, StoreError, TaskInputs,
    load_with_lineage,
};

type TestResult = Result<(), Box<dyn std::error::Error>>;

const MODULE: ModuleDigest = ModuleDigest([0xaa; 32]);

/// What a memo table holds, resolved: for each key, the whole record and the bytes of every
/// file it names (result, arguments, outputs).
type View = BTreeMap<TaskKey, (String, Vec<Vec<u8>>)>;

fn view_of(checkpoints: Vec<LoadedCheckpoint>) -> Result<View, StoreError> {
    let keys: BTreeSet<TaskKey> = checkpoints
        .iter()
        .flat_map(|c| (0..c.len()).filter_map(|i| c.key(i)).collect::<Vec<_>>())
        .collect();
    let memo = MemoTable::from_checkpoints(checkpoints);
    let mut view = View::new();
    for key in keys {
        let entry = memo.get(&key).expect("every key loaded is in the table");
        let record = entry.record();
        let mut bytes = vec![format!("{:?}", entry.resolve()?).into_bytes()];
        for output in &record.outputs {
            bytes.push(entry.blobs().get(&output.digest, output.len)?);
        }
        for arg in &record.inputs().expect("inputs decode").args {
            bytes.push(entry.blobs().resolve(arg)?.into_owned());
        }
        view.insert(key, (format!("{:?}", record.to_record()), bytes));
    }
    Ok(view)
}

/// Asserts two views are equal, naming the keys that differ rather than printing both.
#[track_caller]
fn assert_same(found: &View, expected: &View, when: &str) {
    let differ: Vec<String> = found
        .keys()
        .chain(expected.keys())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .filter(|k| found.get(k) != expected.get(k))
        .map(|k| {
            format!(
                "{k} ({})",
                if found.contains_key(k) {
                    "differs"
                } else {
                    "missing"
                }
            )
        })
        .collect();
    assert!(differ.is_empty(), "{when}: keys that differ: {differ:?}");
}

/// What `wfrun run --resume` loads: every run's checkpoint, in run order.
fn resume_view(runinfo: &RunInfo) -> Result<View, StoreError> {
    let mut checkpoints = Vec::new();
    for id in runinfo.runs()? {
        if let Ok(checkpoint) = runinfo.load_checkpoint(id) {
            checkpoints.push(checkpoint);
        }
    }
    view_of(checkpoints)
}

/// What `--checkpoint-files DIR` loads: the checkpoint and its lineage.
fn lineage_view(dir: &Path) -> Result<(View, Vec<String>), StoreError> {
    let (checkpoints, warnings) = load_with_lineage(dir)?;
    Ok((view_of(checkpoints)?, warnings))
}

fn record(
    writer: &CheckpointWriter,
    key: u8,
    result: &[u8],
) -> Result<CheckpointRecord, StoreError> {
    Ok(CheckpointRecord {
        key: TaskKey([key; 32]),
        app: "slow_double".to_owned(),
        module: MODULE,
        outcome: Outcome::Ok(writer.payload(result)?),
        outputs: vec![],
        started_unix_ms: 1_700_000_000_000 + u64::from(key),
        duration_us: 10,
        attempts: 1,
        inputs: TaskInputs {
            args: vec![Payload::Inline(vec![key])],
            ..TaskInputs::default()
        },
    })
}

/// A record with every kind of file beside the log: a blob result, a blob argument, an output.
fn rich_record(writer: &CheckpointWriter, key: u8) -> Result<CheckpointRecord, StoreError> {
    let big = vec![key; crate::runinfo::INLINE_LIMIT + 1];
    let mut arg = big.clone();
    arg[0] ^= 0xff;
    let file = format!("output of {key}").into_bytes();
    let mut record = record(writer, key, &big)?;
    record.inputs.args = vec![writer.payload(&arg)?];
    record.outputs = vec![OutputFile {
        name: "out/file.txt".to_owned(),
        digest: writer.blobs().put(&file)?,
        len: file.len() as u64,
    }];
    writer.blobs().put_module(&MODULE, b"the module's bytes")?;
    Ok(record)
}

fn failed(key: u8) -> CheckpointRecord {
    CheckpointRecord {
        key: TaskKey([key; 32]),
        app: "divide".to_owned(),
        module: MODULE,
        outcome: Outcome::Failed {
            kind: GuestFailure::AppError,
            message: "cannot divide by 0".to_owned(),
        },
        outputs: vec![],
        started_unix_ms: 1,
        duration_us: 1,
        attempts: 1,
        inputs: TaskInputs::default(),
    }
}

/// A finished run whose checkpoint holds what `make` builds; `lineage` names earlier runs it
/// reused from.
fn run_with(
    runinfo: &RunInfo,
    lineage: &[RunId],
    make: impl FnOnce(&CheckpointWriter) -> Result<Vec<CheckpointRecord>, StoreError>,
) -> Result<RunId, StoreError> {
    let (run, _writer) = live_run(runinfo, lineage, make)?;
    Ok(run.id())
}

/// Like [`run_with`], but the run stays live while the returned handle and writer do.
fn live_run(
    runinfo: &RunInfo,
    lineage: &[RunId],
    make: impl FnOnce(&CheckpointWriter) -> Result<Vec<CheckpointRecord>, StoreError>,
) -> Result<(RunHandle, CheckpointWriter), StoreError> {
    let mut run = runinfo.create_run()?;
    let mut writer = run
        .take_checkpoint_writer()
        .expect("a new run has its writer");
    let records = make(&writer)?;
    writer.commit(&records)?;
    let sources: Vec<_> = lineage
        .iter()
        .map(|id| runinfo.run_path(*id).join("checkpoint"))
        .collect();
    run.write_lineage(&sources)?;
    run.write_summary(&serde_json::json!({ "what": "a test run" }))?;
    Ok((run, writer))
}

/// Every path below `dir` with its length: what a dry run must leave as it was.
fn tree(dir: &Path) -> std::io::Result<BTreeMap<String, u64>> {
    let mut out = BTreeMap::new();
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if entry.file_type()?.is_dir() {
            for (sub, len) in tree(&entry.path())? {
                out.insert(format!("{name}/{sub}"), len);
            }
            out.insert(name, 0);
        } else {
            out.insert(name, entry.metadata()?.len());
        }
    }
    Ok(out)
}

fn summary(id: RunId) -> serde_json::Value {
    serde_json::json!({ "id": id.to_string(), "what": "compact" })
}

/// Three finished runs with superseded entries, blobs, outputs and a recorded failure.
fn three_runs(runinfo: &RunInfo) -> Result<(), StoreError> {
    run_with(runinfo, &[], |w| {
        Ok(vec![
            record(w, 1, b"old")?,
            rich_record(w, 2)?,
            rich_record(w, 3)?,
        ])
    })?;
    run_with(runinfo, &[RunId::new(0)], |w| {
        Ok(vec![record(w, 1, b"new")?, record(w, 4, b"four")?])
    })?;
    run_with(runinfo, &[RunId::new(0), RunId::new(1)], |w| {
        Ok(vec![rich_record(w, 2)?, failed(5)])
    })?;
    Ok(())
}

#[test]
fn compact_merges_everything_into_one_run_that_resume_sees_the_same() -> TestResult {
    let tmp = tempfile::tempdir()?;
    let runinfo = RunInfo::open(tmp.path().join("runinfo"))?;
    three_runs(&runinfo)?;
    let before = resume_view(&runinfo)?;
    assert_eq!(before.len(), 5);

    let plan = runinfo.plan_collection(&Selection::Compact, SystemTime::now())?;
    assert_eq!(plan.with_fate(&Fate::Folded).len(), 3);
    assert_eq!(plan.records_kept(), 5);
    assert_eq!(
        plan.records_superseded(),
        2,
        "key 1 of run 0, key 2 of run 0"
    );
    assert!(plan.warnings().is_empty(), "{:?}", plan.warnings());
    let done = plan.carry_out(summary)?;
    assert_eq!(
        done,
        Collected {
            compacted: Some(RunId::new(3)),
            removed: vec![RunId::new(0), RunId::new(1), RunId::new(2)],
        }
    );
    assert_eq!(runinfo.runs()?, vec![RunId::new(3)]);
    assert_eq!(runinfo.load_checkpoint(RunId::new(3))?.len(), 5);
    assert_same(&resume_view(&runinfo)?, &before, "resume");
    // Self-contained: the module came along, nothing is left in temp directories.
    let root = runinfo.path();
    assert!(
        root.join("003/checkpoint/modules")
            .join(format!("{}.wasm", MODULE.to_hex()))
            .is_file()
    );
    assert!(tree(root)?.keys().all(|p| !p.contains(".tmp-")));
    let written: Option<serde_json::Value> = runinfo.read_summary(RunId::new(3))?;
    assert_eq!(written.expect("a summary")["what"], "compact");
    let merged = std::fs::read_to_string(root.join("003/checkpoint/merged"))?;
    assert_eq!(
        merged,
        "../../000/checkpoint\n../../001/checkpoint\n../../002/checkpoint\n"
    );

    // Compacting again folds the compacted run; what it stood for is still named.
    three_runs(&runinfo)?;
    let before = resume_view(&runinfo)?;
    runinfo
        .plan_collection(&Selection::Compact, SystemTime::now())?
        .carry_out(summary)?;
    assert_eq!(runinfo.runs()?, vec![RunId::new(7)]);
    assert_same(&resume_view(&runinfo)?, &before, "resume");
    let merged = std::fs::read_to_string(root.join("007/checkpoint/merged"))?;
    for id in ["000", "002", "003", "006"] {
        assert!(
            merged.contains(&format!("../../{id}/checkpoint")),
            "{merged}"
        );
    }
    Ok(())
}

#[test]
fn a_dry_run_changes_nothing() -> TestResult {
    let tmp = tempfile::tempdir()?;
    let runinfo = RunInfo::open(tmp.path().join("runinfo"))?;
    three_runs(&runinfo)?;
    let before = tree(runinfo.path())?;
    for selection in [
        Selection::Compact,
        Selection::Gc {
            keep: Some(0),
            older_than: None,
        },
    ] {
        let plan = runinfo.plan_collection(&selection, SystemTime::now())?;
        assert!(!plan.is_empty());
        assert!(plan.bytes_removed() > 0);
        assert!(plan.bytes_retained() > 0);
        drop(plan);
    }
    // Only the root lock file, which the first plan created, may be new.
    let mut after = tree(runinfo.path())?;
    after.remove(".lock");
    let mut before = before;
    before.remove(".lock");
    assert_eq!(after, before);
    Ok(())
}

#[test]
fn a_live_run_is_never_folded_nor_removed() -> TestResult {
    let tmp = tempfile::tempdir()?;
    let runinfo = RunInfo::open(tmp.path().join("runinfo"))?;
    run_with(&runinfo, &[], |w| {
        Ok(vec![record(w, 1, b"a")?, record(w, 2, b"b")?])
    })?;
    let live = live_run(&runinfo, &[RunId::new(0)], |w| {
        Ok(vec![record(w, 2, b"b")?, record(w, 3, b"c")?])
    })?;
    run_with(&runinfo, &[], |w| Ok(vec![record(w, 4, b"d")?]))?;
    let before = resume_view(&runinfo)?;

    for selection in [
        Selection::Compact,
        Selection::Gc {
            keep: Some(0),
            older_than: None,
        },
    ] {
        let plan = runinfo.plan_collection(&selection, SystemTime::now())?;
        assert_eq!(plan.with_fate(&Fate::Live), vec![RunId::new(1)]);
        plan.carry_out(summary)?;
        assert!(runinfo.runs()?.contains(&RunId::new(1)));
        assert!(runinfo.is_live(RunId::new(1))?);
    }
    // `compact` folded 0 and 2 into 3; `gc --keep 0` then found 3 named by the live run's
    // lineage (through 3's `merged`), so it kept it rather than drop it (and, being one
    // compacted run, did not rewrite it).
    assert_eq!(runinfo.runs()?, vec![RunId::new(1), RunId::new(3)]);
    assert_same(&resume_view(&runinfo)?, &before, "resume");
    let (lineage, warnings) = lineage_view(&runinfo.run_path(RunId::new(1)).join("checkpoint"))?;
    assert!(warnings.is_empty(), "{warnings:?}");
    assert!(lineage.contains_key(&TaskKey([1; 32])));
    drop(live);
    Ok(())
}

#[test]
fn gc_keeps_the_newest_runs_and_prunes_the_rest() -> TestResult {
    let tmp = tempfile::tempdir()?;
    let runinfo = RunInfo::open(tmp.path().join("runinfo"))?;
    for key in 0..5 {
        run_with(&runinfo, &[], |w| Ok(vec![record(w, key, b"r")?]))?;
    }
    let plan = runinfo.plan_collection(
        &Selection::Gc {
            keep: Some(2),
            older_than: None,
        },
        SystemTime::now(),
    )?;
    assert_eq!(
        plan.with_fate(&Fate::Pruned),
        vec![RunId::new(0), RunId::new(1), RunId::new(2)]
    );
    assert_eq!(plan.records_pruned(), 3);
    assert!(!plan.compacts());
    let done = plan.carry_out(summary)?;
    assert_eq!(done.compacted, None);
    assert_eq!(runinfo.runs()?, vec![RunId::new(3), RunId::new(4)]);
    let keys: Vec<TaskKey> = resume_view(&runinfo)?.into_keys().collect();
    assert_eq!(keys, vec![TaskKey([3; 32]), TaskKey([4; 32])]);
    Ok(())
}

#[test]
fn gc_folds_what_a_remaining_run_names_in_its_lineage() -> TestResult {
    let tmp = tempfile::tempdir()?;
    let runinfo = RunInfo::open(tmp.path().join("runinfo"))?;
    run_with(&runinfo, &[], |w| {
        Ok(vec![rich_record(w, 1)?, record(w, 2, b"x")?])
    })?;
    run_with(&runinfo, &[], |w| Ok(vec![record(w, 9, b"unreferenced")?]))?;
    run_with(&runinfo, &[RunId::new(0)], |w| {
        Ok(vec![record(w, 3, b"y")?])
    })?;
    // 003 reused from 002 only, which reused from 000: 000 is named transitively.
    run_with(&runinfo, &[RunId::new(2)], |w| {
        Ok(vec![record(w, 2, b"x")?])
    })?;
    let newest = runinfo.run_path(RunId::new(3)).join("checkpoint");
    let (before, warnings) = lineage_view(&newest)?;
    assert!(warnings.is_empty());

    let plan = runinfo.plan_collection(
        &Selection::Gc {
            keep: Some(1),
            older_than: None,
        },
        SystemTime::now(),
    )?;
    assert_eq!(
        plan.with_fate(&Fate::Folded),
        vec![RunId::new(0), RunId::new(2)]
    );
    assert_eq!(plan.with_fate(&Fate::Pruned), vec![RunId::new(1)]);
    let done = plan.carry_out(summary)?;
    assert_eq!(done.compacted, Some(RunId::new(4)));
    assert_eq!(runinfo.runs()?, vec![RunId::new(3), RunId::new(4)]);

    // The newest checkpoint alone still sees everything through its lineage: the entry for the
    // removed 002 leads to the compacted run.
    let (after, warnings) = lineage_view(&newest)?;
    assert!(warnings.is_empty(), "{warnings:?}");
    assert_same(&after, &before, "lineage");
    let resumed = resume_view(&runinfo)?;
    assert!(
        !resumed.contains_key(&TaskKey([9; 32])),
        "run 001 was pruned"
    );
    assert_eq!(resumed.len(), 3);
    Ok(())
}

#[test]
fn gc_older_than_goes_by_the_time_a_run_was_last_written() -> TestResult {
    let tmp = tempfile::tempdir()?;
    let runinfo = RunInfo::open(tmp.path().join("runinfo"))?;
    for key in 0..3 {
        run_with(&runinfo, &[], |w| Ok(vec![record(w, key, b"r")?]))?;
    }
    let now = SystemTime::now();
    let day = Duration::from_secs(86_400);
    for (run, age) in [("000", 10 * day), ("001", 3 * day)] {
        std::fs::File::options()
            .write(true)
            .open(runinfo.path().join(run).join("summary.json"))?
            .set_modified(now - age)?;
    }
    let older_than = |older_than, keep| Selection::Gc {
        keep,
        older_than: Some(older_than),
    };
    let plan = runinfo.plan_collection(&older_than(7 * day, None), now)?;
    assert_eq!(plan.with_fate(&Fate::Pruned), vec![RunId::new(0)]);
    drop(plan);
    let plan = runinfo.plan_collection(&older_than(day, None), now)?;
    assert_eq!(
        plan.with_fate(&Fate::Pruned),
        vec![RunId::new(0), RunId::new(1)]
    );
    drop(plan);
    // Any rule keeps a run: the two newest stay whatever their age.
    let plan = runinfo.plan_collection(&older_than(day, Some(2)), now)?;
    assert_eq!(plan.with_fate(&Fate::Pruned), vec![RunId::new(0)]);
    plan.carry_out(summary)?;
    assert_eq!(runinfo.runs()?, vec![RunId::new(1), RunId::new(2)]);
    Ok(())
}

#[test]
fn a_compacted_run_is_as_old_as_the_newest_run_it_folded() -> TestResult {
    let tmp = tempfile::tempdir()?;
    let runinfo = RunInfo::open(tmp.path().join("runinfo"))?;
    run_with(&runinfo, &[], |w| Ok(vec![record(w, 1, b"r")?]))?;
    let then = SystemTime::now() - Duration::from_secs(30 * 86_400);
    std::fs::File::options()
        .write(true)
        .open(runinfo.path().join("000/summary.json"))?
        .set_modified(then)?;
    runinfo
        .plan_collection(&Selection::Compact, SystemTime::now())?
        .carry_out(summary)?;
    let plan = runinfo.plan_collection(
        &Selection::Gc {
            keep: None,
            older_than: Some(Duration::from_secs(7 * 86_400)),
        },
        SystemTime::now(),
    )?;
    assert_eq!(plan.with_fate(&Fate::Pruned), vec![RunId::new(1)]);
    Ok(())
}

#[test]
fn a_damaged_record_is_reported_and_skipped_not_fatal() -> TestResult {
    let tmp = tempfile::tempdir()?;
    let runinfo = RunInfo::open(tmp.path().join("runinfo"))?;
    run_with(&runinfo, &[], |w| {
        Ok(vec![
            record(w, 1, b"one")?,
            record(w, 2, b"two")?,
            record(w, 3, b"three")?,
        ])
    })?;
    run_with(&runinfo, &[], |w| Ok(vec![rich_record(w, 4)?]))?;
    // Flip a byte inside the second record's payload.
    let log = runinfo.path().join("000/checkpoint/log.wfck");
    let mut bytes = std::fs::read(&log)?;
    let second = runinfo
        .load_checkpoint(RunId::new(0))?
        .record_offset(1)
        .expect("3 records");
    bytes[second as usize + 20] ^= 0x40;
    std::fs::write(&log, bytes)?;
    // And remove the output blob of run 001's record: it was a miss already.
    let loaded = runinfo.load_checkpoint(RunId::new(1))?;
    let output = loaded.record(0).expect("a record").outputs[0].digest;
    std::fs::remove_file(loaded.blobs().blob_path(&output))?;
    drop(loaded);
    let mut before = resume_view_lenient(&runinfo)?;

    let plan = runinfo.plan_collection(&Selection::Compact, SystemTime::now())?;
    let warnings = plan.warnings().join("\n");
    assert!(
        warnings.contains(&format!("offset {second}")) && warnings.contains("checksum"),
        "{warnings}"
    );
    assert!(warnings.contains("is missing"), "{warnings}");
    assert_eq!(plan.records_kept(), 2);
    plan.carry_out(summary)?;
    assert_eq!(runinfo.runs()?, vec![RunId::new(2)]);
    // The task whose blob was missing is a miss after as before; the rest is the same.
    assert!(
        before
            .remove(&TaskKey([4; 32]))
            .is_some_and(|r| r.is_none())
    );
    assert_eq!(resume_view_lenient(&runinfo)?, before);
    Ok(())
}

/// Keys to their record, `None` when a file it names does not resolve (a miss).
fn resume_view_lenient(runinfo: &RunInfo) -> Result<BTreeMap<TaskKey, Option<String>>, StoreError> {
    let mut checkpoints = Vec::new();
    for id in runinfo.runs()? {
        checkpoints.push(runinfo.load_checkpoint(id)?);
    }
    let keys: BTreeSet<TaskKey> = checkpoints
        .iter()
        .flat_map(|c| (0..c.len()).filter_map(|i| c.key(i)).collect::<Vec<_>>())
        .collect();
    let memo = MemoTable::from_checkpoints(checkpoints);
    Ok(keys
        .into_iter()
        .map(|key| {
            let entry = memo.get(&key).expect("loaded");
            let outputs_ok = entry
                .record()
                .outputs
                .iter()
                .all(|o| entry.blobs().get(&o.digest, o.len).is_ok());
            let resolved = entry.resolve().ok().filter(|_| outputs_ok);
            (
                key,
                resolved.map(|_| format!("{:?}", entry.record().to_record())),
            )
        })
        .collect())
}

#[test]
fn a_crash_at_any_step_loses_nothing() -> TestResult {
    let mut stopped_at = 0usize;
    loop {
        let tmp = tempfile::tempdir()?;
        let runinfo = RunInfo::open(tmp.path().join("runinfo"))?;
        three_runs(&runinfo)?;
        run_with(&runinfo, &[RunId::new(2)], |w| {
            Ok(vec![record(w, 6, b"six")?])
        })?;
        let newest = runinfo.run_path(RunId::new(3)).join("checkpoint");
        let resumed = resume_view(&runinfo)?;
        let (lineage, _) = lineage_view(&newest)?;
        let selection = Selection::Gc {
            keep: Some(1),
            older_than: None,
        };

        // Stop, as a kill would, after the `stopped_at`-th step: no cleanup code runs.
        let mut steps = 0usize;
        let crashed = catch_unwind(AssertUnwindSafe(|| {
            let plan = runinfo.plan_collection(&selection, SystemTime::now())?;
            plan.carry_out_with(summary, &mut |step: Step| {
                if steps == stopped_at {
                    panic!("crash after {step:?}");
                }
                steps += 1;
            })
        }))
        .is_err();
        let when = format!("after crashing at step {stopped_at}");
        assert_same(&resume_view(&runinfo)?, &resumed, &when);
        assert_same(&lineage_view(&newest)?.0, &lineage, &when);

        // The next collection finishes the job and tidies up.
        let runinfo = RunInfo::open(tmp.path().join("runinfo"))?;
        runinfo
            .plan_collection(&selection, SystemTime::now())?
            .carry_out(summary)?;
        let when = format!("after recovering from step {stopped_at}");
        assert_same(&resume_view(&runinfo)?, &resumed, &when);
        let (after, warnings) = lineage_view(&newest)?;
        assert_same(&after, &lineage, &when);
        assert!(warnings.is_empty(), "{warnings:?}");
        assert!(tree(runinfo.path())?.keys().all(|p| !p.contains(".tmp-")));
        assert!(
            runinfo
                .plan_collection(&selection, SystemTime::now())?
                .is_empty(),
            "nothing is left to do after recovering from step {stopped_at}"
        );
        let runs = runinfo.runs()?;
        assert_eq!(
            runs.len(),
            2,
            "the kept run and one compacted run: {runs:?}"
        );
        if !crashed {
            assert!(stopped_at > 8, "every step was visited: {stopped_at}");
            return Ok(());
        }
        stopped_at += 1;
    }
}
