//! Tests of `runinfo/` against a real filesystem: runs, the log on disk, blobs, the memo table.
//! The pure format (every cut, every flip) is tested in `format.rs`.

use std::collections::HashSet;
use std::path::Path;
use std::process::{Command, Stdio};

use super::*;
use crate::key::{ModuleDigest, TaskKey, ValueDigest};

type TestResult = Result<(), Box<dyn std::error::Error>>;

fn record(key: u8, result: &[u8]) -> CheckpointRecord {
    CheckpointRecord {
        key: TaskKey([key; 32]),
        app: "slow_double".to_owned(),
        module: ModuleDigest([0xaa; 32]),
        outcome: Outcome::Ok(Payload::Inline(result.to_vec())),
        outputs: vec![],
        started_unix_ms: 1_700_000_000_000 + u64::from(key),
        duration_us: 10,
        attempts: 1,
        inputs: TaskInputs {
            args: vec![Payload::Inline(vec![key])],
            ..TaskInputs::default()
        },
    }
}

fn owned(checkpoint: &LoadedCheckpoint) -> Vec<CheckpointRecord> {
    checkpoint.records().map(|r| r.to_record()).collect()
}

/// A run with `records` committed to its checkpoint; returns the run's id.
fn run_with(runinfo: &RunInfo, records: &[CheckpointRecord]) -> Result<RunId, StoreError> {
    let mut run = runinfo.create_run()?;
    let mut writer = run
        .take_checkpoint_writer()
        .expect("a new run has its writer");
    writer.commit(records)?;
    Ok(run.id())
}

#[test]
fn create_run_lays_out_a_locked_run() -> TestResult {
    let tmp = tempfile::tempdir()?;
    let root = tmp.path().join("runinfo");
    let runinfo = RunInfo::open(&root)?;
    let first = runinfo.create_run()?;
    assert_eq!(first.id().to_string(), "000");
    for path in [
        "000/checkpoint/log.wfck",
        "000/checkpoint/blobs",
        "000/tasks",
        "000/run.lock",
    ] {
        assert!(root.join(path).exists(), "{path}");
    }
    let second = runinfo.create_run()?;
    assert_eq!(second.id().to_string(), "001");
    assert_eq!(runinfo.runs()?, vec![RunId::new(0), RunId::new(1)]);

    assert!(runinfo.is_live(first.id())?);
    drop(first);
    assert!(!runinfo.is_live(RunId::new(0))?);
    // The writer keeps its run live after the handle is gone.
    let mut second = second;
    let writer = second.take_checkpoint_writer();
    assert!(second.take_checkpoint_writer().is_none());
    drop(second);
    assert!(runinfo.is_live(RunId::new(1))?);
    drop(writer);
    assert!(!runinfo.is_live(RunId::new(1))?);
    // A fresh run's log loads as empty.
    let loaded = runinfo.load_checkpoint(RunId::new(0))?;
    assert!(loaded.is_empty() && loaded.warnings().is_empty());
    Ok(())
}

#[test]
fn runs_are_listed_in_numeric_order() -> TestResult {
    let tmp = tempfile::tempdir()?;
    for dir in ["999", "1000", "000", "0001", "abc", "12", "01000"] {
        std::fs::create_dir(tmp.path().join(dir))?;
    }
    std::fs::write(tmp.path().join("005"), b"a file, not a run")?;
    let runinfo = RunInfo::open(tmp.path())?;
    assert_eq!(
        runinfo.runs()?,
        vec![RunId::new(0), RunId::new(999), RunId::new(1000)]
    );
    let next = runinfo.create_run()?;
    assert_eq!(next.id().to_string(), "1001");
    Ok(())
}

#[test]
fn concurrent_threads_never_collide() -> TestResult {
    let tmp = tempfile::tempdir()?;
    let root = tmp.path().to_owned();
    let threads: Vec<_> = (0..8)
        .map(|_| {
            let root = root.clone();
            std::thread::spawn(move || -> Result<Vec<RunId>, StoreError> {
                let runinfo = RunInfo::open(&root)?;
                (0..10)
                    .map(|_| runinfo.create_run().map(|run| run.id()))
                    .collect()
            })
        })
        .collect();
    let mut ids = Vec::new();
    for thread in threads {
        ids.extend(thread.join().map_err(|_| "thread panicked")??);
    }
    let unique: HashSet<_> = ids.iter().copied().collect();
    assert_eq!(unique.len(), 80);
    assert_eq!(
        RunInfo::open(&root)?.runs()?,
        (0..80).map(RunId::new).collect::<Vec<_>>()
    );
    Ok(())
}

const CHILD_ROOT: &str = "WF_RUNINFO_TEST_CHILD_ROOT";

/// Not a test on its own: the body of each process of `concurrent_processes_never_collide`.
#[test]
#[ignore = "run as a child process by concurrent_processes_never_collide"]
fn child_allocates_runs() -> TestResult {
    let Some(root) = std::env::var_os(CHILD_ROOT) else {
        return Ok(());
    };
    let runinfo = RunInfo::open(Path::new(&root))?;
    for _ in 0..10 {
        let run = runinfo.create_run()?;
        println!("allocated {}", run.id());
    }
    Ok(())
}

#[test]
fn concurrent_processes_never_collide() -> TestResult {
    let tmp = tempfile::tempdir()?;
    let exe = std::env::current_exe()?;
    let children = (0..4)
        .map(|_| {
            Command::new(&exe)
                .args([
                    "runinfo::tests::child_allocates_runs",
                    "--exact",
                    "--ignored",
                    "--nocapture",
                ])
                .env(CHILD_ROOT, tmp.path())
                .stdout(Stdio::piped())
                .spawn()
        })
        .collect::<Result<Vec<_>, _>>()?;
    let mut ids = Vec::new();
    for child in children {
        let output = child.wait_with_output()?;
        assert!(output.status.success());
        for line in String::from_utf8(output.stdout)?.lines() {
            if let Some(id) = line.strip_prefix("allocated ") {
                ids.push(id.parse::<RunId>()?);
            }
        }
    }
    assert_eq!(ids.len(), 40);
    let unique: HashSet<_> = ids.iter().copied().collect();
    assert_eq!(unique.len(), 40);
    Ok(())
}

#[test]
fn records_round_trip_through_disk() -> TestResult {
    let tmp = tempfile::tempdir()?;
    let runinfo = RunInfo::open(tmp.path())?;
    let mut run = runinfo.create_run()?;
    let mut writer = run.take_checkpoint_writer().expect("new run");
    let big = vec![3u8; INLINE_LIMIT * 2];
    let mut with_blob = record(2, b"");
    with_blob.outcome = Outcome::Ok(writer.payload(&big)?);
    let failed = CheckpointRecord {
        outcome: Outcome::Failed {
            kind: GuestFailure::Trap,
            message: "unreachable".to_owned(),
        },
        ..record(3, b"")
    };
    let mut with_file = record(4, b"x");
    let digest = writer.blobs().put(b"file content")?;
    with_file.outputs.push(OutputFile {
        name: "out/a.txt".to_owned(),
        digest,
        len: 12,
    });
    let records = vec![record(1, b"\x08"), with_blob, failed, with_file];
    assert_eq!(writer.append(&records[..2])?, 2);
    assert_eq!((writer.records_written(), writer.records_synced()), (2, 0));
    writer.commit(&records[2..])?;
    assert_eq!((writer.records_written(), writer.records_synced()), (4, 4));

    let loaded = runinfo.load_checkpoint(run.id())?;
    assert_eq!(owned(&loaded), records);
    assert!(loaded.warnings().is_empty());
    for (i, r) in records.iter().enumerate() {
        assert_eq!(loaded.key(i), Some(r.key));
    }
    let memo = MemoTable::from_checkpoints([loaded]);
    let hit = memo.get(&TaskKey([2; 32])).expect("recorded");
    assert_eq!(hit.resolve()?, Resolved::Ok(big.into()));
    let failure = memo.get(&TaskKey([3; 32])).expect("recorded");
    assert_eq!(
        failure.resolve()?,
        Resolved::Failed {
            kind: GuestFailure::Trap,
            message: "unreachable"
        }
    );
    let file = memo.get(&TaskKey([4; 32])).expect("recorded");
    assert_eq!(file.blobs().get(&digest, 12)?, b"file content");
    Ok(())
}

#[test]
fn torn_tail_on_disk_costs_only_the_last_record() -> TestResult {
    let tmp = tempfile::tempdir()?;
    let runinfo = RunInfo::open(tmp.path())?;
    let records: Vec<_> = (0..5).map(|i| record(i, &[i; 10])).collect();
    let id = run_with(&runinfo, &records)?;
    let log = runinfo.run_path(id).join("checkpoint/log.wfck");
    let len = std::fs::metadata(&log)?.len();
    std::fs::File::options()
        .write(true)
        .open(&log)?
        .set_len(len - 3)?;
    let loaded = runinfo.load_checkpoint(id)?;
    assert_eq!(owned(&loaded), records[..4]);
    assert_eq!(loaded.warnings().len(), 1);
    let warning = &loaded.warnings()[0];
    assert!(warning.is_torn_tail());
    assert_eq!(warning.file, log);
    Ok(())
}

#[test]
fn damaged_record_on_disk_is_reported_with_its_offset() -> TestResult {
    let tmp = tempfile::tempdir()?;
    let runinfo = RunInfo::open(tmp.path())?;
    let records: Vec<_> = (0..5).map(|i| record(i, &[i; 10])).collect();
    let id = run_with(&runinfo, &records)?;
    let offset = runinfo
        .load_checkpoint(id)?
        .record_offset(2)
        .expect("5 records");
    let log = runinfo.run_path(id).join("checkpoint/log.wfck");
    let mut bytes = std::fs::read(&log)?;
    bytes[offset as usize + 20] ^= 0x40;
    std::fs::write(&log, &bytes)?;

    let loaded = runinfo.load_checkpoint(id)?;
    let expected: Vec<_> = records
        .iter()
        .filter(|r| r.key != TaskKey([2; 32]))
        .cloned()
        .collect();
    assert_eq!(owned(&loaded), expected);
    assert_eq!(loaded.warnings().len(), 1);
    let warning = &loaded.warnings()[0];
    assert_eq!((warning.offset, &warning.file), (offset, &log));
    assert!(matches!(warning.problem, LoadProblem::BadChecksum { .. }));
    let message = warning.to_string();
    assert!(message.contains("log.wfck") && message.contains(&format!("offset {offset}")));
    Ok(())
}

#[test]
fn bad_header_is_an_error_naming_the_file() -> TestResult {
    let tmp = tempfile::tempdir()?;
    let runinfo = RunInfo::open(tmp.path())?;
    let id = run_with(&runinfo, &[record(1, b"a")])?;
    let log = runinfo.run_path(id).join("checkpoint/log.wfck");
    let mut bytes = std::fs::read(&log)?;
    bytes[0] = b'{';
    std::fs::write(&log, &bytes)?;
    let err = runinfo.load_checkpoint(id).expect_err("bad magic");
    assert!(
        matches!(&err, StoreError::BadMagic { path } if *path == log),
        "{err}"
    );
    assert!(err.to_string().contains(&log.display().to_string()));

    bytes[0] = 0x89;
    bytes[9] = 7; // version 0x0701 with a stale header checksum
    std::fs::write(&log, &bytes)?;
    assert!(matches!(
        runinfo.load_checkpoint(id),
        Err(StoreError::DamagedHeader { .. })
    ));
    Ok(())
}

#[test]
fn most_recent_entry_wins() -> TestResult {
    let tmp = tempfile::tempdir()?;
    let runinfo = RunInfo::open(tmp.path())?;
    run_with(
        &runinfo,
        &[record(1, b"old"), record(2, b"old"), record(3, b"old")],
    )?;
    run_with(
        &runinfo,
        &[record(2, b"mid"), record(3, b"mid"), record(3, b"mid2")],
    )?;
    run_with(&runinfo, &[record(3, b"new")])?;
    let checkpoints = runinfo
        .runs()?
        .into_iter()
        .map(|id| runinfo.load_checkpoint(id))
        .collect::<Result<Vec<_>, _>>()?;
    let mut memo = MemoTable::from_checkpoints(checkpoints);
    let value = |memo: &MemoTable, key: u8| -> Result<Vec<u8>, StoreError> {
        match memo.get(&TaskKey([key; 32])).expect("recorded").resolve()? {
            Resolved::Ok(bytes) => Ok(bytes.into_owned()),
            Resolved::Failed { .. } => Ok(b"failed".to_vec()),
        }
    };
    assert_eq!(memo.len(), 3);
    assert_eq!(value(&memo, 1)?, b"old");
    assert_eq!(value(&memo, 2)?, b"mid");
    assert_eq!(value(&memo, 3)?, b"new");
    assert!(memo.get(&TaskKey([4; 32])).is_none());
    assert_eq!(
        memo.get(&TaskKey([2; 32])).expect("recorded").source(),
        runinfo.run_path(RunId::new(1)).join("checkpoint")
    );

    // A task finished in this run replaces what the checkpoints said.
    let mut run = runinfo.create_run()?;
    let writer = run.take_checkpoint_writer().expect("new run");
    memo.insert(record(1, b"this run"), writer.blobs());
    assert_eq!(value(&memo, 1)?, b"this run");
    Ok(())
}

fn copy_dir(from: &Path, to: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        if entry.file_type()?.is_dir() {
            copy_dir(&entry.path(), &to.join(entry.file_name()))?;
        } else {
            std::fs::copy(entry.path(), to.join(entry.file_name()))?;
        }
    }
    Ok(())
}

/// DESIGN §3.7: a checkpoint directory copied elsewhere loads with every blob hit intact.
#[test]
fn relocated_checkpoint_still_resolves_every_blob() -> TestResult {
    let tmp = tempfile::tempdir()?;
    let runinfo = RunInfo::open(tmp.path().join("runinfo"))?;
    let mut run = runinfo.create_run()?;
    let mut writer = run.take_checkpoint_writer().expect("new run");
    let mut expected = Vec::new();
    for i in 0..4u8 {
        let bytes = vec![i; INLINE_LIMIT + 1 + usize::from(i)];
        let mut r = record(i, b"");
        r.outcome = Outcome::Ok(writer.payload(&bytes)?);
        writer.append([&r])?;
        expected.push((r.key, bytes));
    }
    writer.sync()?;
    drop(writer);
    let original = run.checkpoint_path();
    drop(run);

    let moved = tmp.path().join("elsewhere/deeper/checkpoint");
    copy_dir(&original, &moved)?;
    std::fs::remove_dir_all(tmp.path().join("runinfo"))?;

    let loaded = load_checkpoint_dir(&moved)?;
    assert!(loaded.warnings().is_empty());
    let memo = MemoTable::from_checkpoints([loaded]);
    for (key, bytes) in expected {
        let entry = memo.get(&key).expect("recorded");
        assert_eq!(entry.source(), moved);
        assert_eq!(entry.resolve()?, Resolved::Ok(bytes.into()));
    }
    Ok(())
}

#[test]
fn missing_or_tampered_blob_is_a_reported_miss() -> TestResult {
    let tmp = tempfile::tempdir()?;
    let runinfo = RunInfo::open(tmp.path())?;
    let mut run = runinfo.create_run()?;
    let mut writer = run.take_checkpoint_writer().expect("new run");
    let bytes = vec![9u8; INLINE_LIMIT + 10];
    let mut r = record(1, b"");
    r.outcome = Outcome::Ok(writer.payload(&bytes)?);
    writer.commit([&r])?;
    let blob = writer.blobs().blob_path(&ValueDigest::of(&bytes));

    let mut tampered = bytes.clone();
    tampered[5] ^= 1;
    std::fs::write(&blob, &tampered)?;
    let memo = MemoTable::from_checkpoints([runinfo.load_checkpoint(run.id())?]);
    let entry = memo.get(&r.key).expect("recorded");
    assert!(matches!(entry.resolve(), Err(StoreError::BlobDamaged { path, .. }) if path == blob));
    std::fs::remove_file(&blob)?;
    assert!(matches!(entry.resolve(), Err(StoreError::BlobMissing { path, .. }) if path == blob));
    Ok(())
}

#[test]
fn names_that_would_escape_are_rejected() -> TestResult {
    for name in ["..", "../000", "000/../001", "/tmp", "./000"] {
        assert!(name.parse::<RunId>().is_err(), "{name}");
    }
    let tmp = tempfile::tempdir()?;
    let runinfo = RunInfo::open(tmp.path())?;
    let mut run = runinfo.create_run()?;
    let mut writer = run.take_checkpoint_writer().expect("new run");
    let mut bad = record(1, b"");
    bad.outputs.push(OutputFile {
        name: "../../etc/passwd".to_owned(),
        digest: ValueDigest::of(b""),
        len: 0,
    });
    let good = record(2, b"");
    let err = writer
        .append([&good, &bad])
        .expect_err("escaping output name");
    assert!(matches!(err, StoreError::InvalidName { .. }), "{err}");
    // The call appended nothing, not even its good record.
    assert_eq!(writer.records_written(), 0);

    // A record with such a name that reached the disk anyway is skipped, with a warning.
    let mut frames = Vec::new();
    format::encode_frame(&good, &mut frames).map_err(|len| format!("too large: {len}"))?;
    format::encode_frame(&bad, &mut frames).map_err(|len| format!("too large: {len}"))?;
    drop(writer);
    let log = run.checkpoint_path().join("log.wfck");
    let mut file = std::fs::OpenOptions::new().append(true).open(&log)?;
    std::io::Write::write_all(&mut file, &frames)?;
    let loaded = runinfo.load_checkpoint(run.id())?;
    assert_eq!(owned(&loaded), vec![good]);
    assert!(matches!(
        loaded.warnings(),
        [LoadWarning {
            problem: LoadProblem::InvalidOutputName { .. },
            ..
        }]
    ));
    Ok(())
}

#[test]
fn task_logs_and_summary() -> TestResult {
    let tmp = tempfile::tempdir()?;
    let runinfo = RunInfo::open(tmp.path())?;
    let run = runinfo.create_run()?;
    let key = TaskKey([0x5e; 32]);
    for chunk in ["hello ", "world\n"] {
        let mut log = run.task_log(&key, LogStream::Stdout)?;
        std::io::Write::write_all(&mut log, chunk.as_bytes())?;
    }
    run.task_log(&key, LogStream::Stderr)?;
    let tasks = run.path().join("tasks");
    assert_eq!(
        std::fs::read_to_string(tasks.join(format!("{key}.stdout")))?,
        "hello world\n"
    );
    assert!(tasks.join(format!("{key}.stderr")).exists());

    assert_eq!(runinfo.read_summary::<serde_json::Value>(run.id())?, None);
    run.write_summary(&serde_json::json!({ "tasks": 1 }))?;
    run.write_summary(&serde_json::json!({ "tasks": 2, "hits": 1 }))?;
    assert_eq!(
        runinfo.read_summary::<serde_json::Value>(run.id())?,
        Some(serde_json::json!({ "tasks": 2, "hits": 1 }))
    );
    // The summary is not fsynced: a machine crash may leave it empty, which reads as none.
    std::fs::write(run.path().join("summary.json"), b"")?;
    assert_eq!(runinfo.read_summary::<serde_json::Value>(run.id())?, None);
    let leftovers: Vec<_> = std::fs::read_dir(run.path())?
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().starts_with(".tmp"))
        .collect();
    assert!(leftovers.is_empty());
    Ok(())
}

/// Reports the time and peak memory of loading 1,000,000 records. Run in release:
/// `cargo test --release -p wf-runtime --lib runinfo::tests::load_a_million -- --ignored --nocapture`
#[test]
#[ignore = "a measurement; run in release"]
fn load_a_million_records() -> TestResult {
    const N: u32 = 1_000_000;
    let tmp = tempfile::tempdir()?;
    let runinfo = RunInfo::open(tmp.path())?;
    let mut run = runinfo.create_run()?;
    let mut writer = run.take_checkpoint_writer().expect("new run");
    let mut r = record(0, &7i64.to_le_bytes());
    for i in 0..N {
        r.key.0[..4].copy_from_slice(&i.to_le_bytes());
        writer.append([&r])?;
    }
    writer.sync()?;
    drop(writer);
    let log_len = std::fs::metadata(run.checkpoint_path().join("log.wfck"))?.len();

    // Reset the peak-RSS mark so that it measures the load alone.
    std::fs::write("/proc/self/clear_refs", "5")?;
    let rss_before = vm_kib("VmRSS:")?;
    let start = std::time::Instant::now();
    let loaded = runinfo.load_checkpoint(run.id())?;
    let load_time = start.elapsed();
    let peak = vm_kib("VmHWM:")?;
    assert_eq!(loaded.len(), N as usize);
    let start = std::time::Instant::now();
    let memo = MemoTable::from_checkpoints([loaded]);
    let memo_time = start.elapsed();
    assert_eq!(memo.len(), N as usize);
    println!(
        "log {:.1} MB: load_checkpoint {:.0} ms, peak +{:.0} MB; memo table {:.0} ms, total peak {:.0} MB",
        log_len as f64 / 1e6,
        load_time.as_secs_f64() * 1e3,
        (peak - rss_before) as f64 / 1024.0,
        memo_time.as_secs_f64() * 1e3,
        vm_kib("VmHWM:")? as f64 / 1024.0,
    );
    Ok(())
}

fn vm_kib(field: &str) -> Result<u64, Box<dyn std::error::Error>> {
    let status = std::fs::read_to_string("/proc/self/status")?;
    let line = status
        .lines()
        .find(|l| l.starts_with(field))
        .ok_or("no such field")?;
    Ok(line.split_whitespace().nth(1).ok_or("bad line")?.parse()?)
}
