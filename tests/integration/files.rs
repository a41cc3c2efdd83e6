//! Files: inputs by content from granted directories, outputs stored by digest and restored on
//! a cache hit.

use std::path::Path;

use wf_runtime::{Input, OutputDir, RunReport, Runner, RunnerConfig, TaskStatusReport};

fn runner(runinfo: &Path, input_dirs: Vec<std::path::PathBuf>) -> Runner {
    let config = RunnerConfig {
        input_dirs,
        ..RunnerConfig::default()
    };
    Runner::new(config, Some(runinfo)).expect("runner")
}

fn count_corpus(runner: &Runner) -> (RunReport, String) {
    let module = runner
        .load(&wf_tests::module_bytes("wordfreq"))
        .expect("loads");
    let session = runner.start("count a file").expect("session");
    let counts = session
        .submit(
            &module,
            "count_file",
            vec![Input::InputFile("corpus.txt".into())],
        )
        .expect("submit");
    let other = session
        .submit(
            &module,
            "generate",
            vec![Input::value(&1u32), Input::value(&10u32)],
        )
        .expect("submit");
    let counts: std::collections::BTreeMap<String, u64> = session.get(counts).expect("counts");
    session.get::<String>(other).expect("generate");
    let report = session.finish().expect("finish");
    (report, format!("{counts:?}"))
}

#[test]
fn keys_hold_content_not_paths() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let (a, b) = (tmp.path().join("a"), tmp.path().join("elsewhere/b"));
    std::fs::create_dir_all(&a).expect("mkdir");
    std::fs::create_dir_all(&b).expect("mkdir");
    std::fs::write(a.join("corpus.txt"), "the cat and the hat").expect("write");
    let runinfo = tmp.path().join("runinfo");

    let first = runner(&runinfo, vec![a.clone()]);
    let (report, counts) = count_corpus(&first);
    assert_eq!(report.executed, 2);
    assert!(counts.contains("\"the\": 2"), "{counts}");
    let key = report.task_list[0].key.clone();

    // Moved to another directory: the same content, the same key. (A new runner shares no
    // memory with the first, so equal keys come from content addressing alone.)
    std::fs::rename(a.join("corpus.txt"), b.join("corpus.txt")).expect("move");
    let (report, _) = count_corpus(&runner(&runinfo, vec![b.clone()]));
    assert_eq!(report.task_list[0].key, key);
    // And the same runner reuses the result: a hit.
    std::fs::copy(b.join("corpus.txt"), a.join("corpus.txt")).expect("copy back");
    let (report, _) = count_corpus(&first);
    assert_eq!(report.task_list[0].status, TaskStatusReport::Cached);

    // One byte edited: exactly the task that reads it has a new key.
    std::fs::write(b.join("corpus.txt"), "the cat and the bat").expect("edit");
    let edited = runner(&runinfo, vec![b.clone()]);
    let (report, counts) = count_corpus(&edited);
    assert_ne!(report.task_list[0].key, key);
    assert!(counts.contains("\"bat\": 1"), "{counts}");
}

#[test]
fn output_files_flow_downstream_and_a_cache_hit_restores_them() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let runner = runner(&tmp.path().join("runinfo"), Vec::new());
    let module = runner
        .load(&wf_tests::module_bytes("wordfreq"))
        .expect("loads");

    let export = |dir: &str| {
        let session = runner.start("files").expect("session");
        session.run_workflow(&module, "files").expect("workflow");
        let out = OutputDir::create(&tmp.path().join(dir)).expect("output dir");
        let written = session.export_outputs(&out).expect("export");
        (session.finish().expect("finish"), written)
    };
    let (first, written) = export("out1");
    assert!(first.ok);
    assert_eq!(written.len(), 9, "8 chunks and the report: {written:?}");
    assert!(
        first
            .task_list
            .iter()
            .all(|t| t.status == TaskStatusReport::Executed)
    );

    let (second, written_again) = export("out2");
    assert_eq!(second.executed, 0, "all hits: {second:?}");
    assert_eq!(written_again.len(), 9);
    for name in ["top-words.txt", "chunk-3.txt"] {
        let a = std::fs::read(tmp.path().join("out1").join(name)).expect("first");
        let b = std::fs::read(tmp.path().join("out2").join(name)).expect("second");
        assert_eq!(a, b, "{name} restored from the cache");
    }
    let report = std::fs::read_to_string(tmp.path().join("out2/top-words.txt")).expect("report");
    assert!(report.starts_with("400000 words"), "{report}");
}

#[test]
fn input_names_are_confined_to_granted_directories() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let data = tmp.path().join("data");
    std::fs::create_dir_all(&data).expect("mkdir");
    std::fs::write(tmp.path().join("secret.txt"), "s").expect("write");
    let runner = runner(&tmp.path().join("runinfo"), vec![data]);
    let module = runner
        .load(&wf_tests::module_bytes("wordfreq"))
        .expect("loads");
    let session = runner.start("escape").expect("session");
    for name in ["../secret.txt", "/etc/passwd", "missing.txt"] {
        let err = session
            .submit(&module, "count_file", vec![Input::InputFile(name.into())])
            .expect_err("refused");
        assert!(!err.to_string().is_empty());
    }
    session.finish().expect("finish");
}
