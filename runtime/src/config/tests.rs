use std::path::{Path, PathBuf};
use std::time::Duration;

use super::error::line_column;
use super::*;

fn parse(text: &str) -> Result<Config, ConfigError> {
    Config::parse(text, Path::new("conf/wf.toml"))
}

/// Parses `text`, which must be refused; returns (line, column, key, message).
fn refused(text: &str) -> (usize, usize, Option<String>, String) {
    match parse(text) {
        Ok(config) => panic!("accepted {text:?} as {config:?}"),
        Err(ConfigError::Invalid {
            path,
            line,
            column,
            key,
            message,
        }) => {
            assert_eq!(path, Path::new("conf/wf.toml"));
            (line, column, key, message)
        }
        Err(other) => panic!("{other}"),
    }
}

/// Asserts `text` is refused at `line:column`, for `key`, with a message holding `expected`,
/// and that the printed error says all of it.
fn assert_refused(text: &str, line: usize, column: usize, key: &str, expected: &str) {
    let (l, c, k, message) = refused(text);
    assert_eq!((l, c, k.as_deref()), (line, column, Some(key)), "{message}");
    assert!(message.contains(expected), "`{expected}` not in: {message}");
    let printed = parse(text).expect_err("refused").to_string();
    assert!(
        printed.starts_with(&format!("conf/wf.toml:{line}:{column}: `{key}`: ")),
        "{printed}"
    );
}

#[test]
fn an_empty_file_is_the_defaults() {
    let config = parse("# nothing set\n").expect("parses");
    assert_eq!(
        config,
        Config {
            source: Some(PathBuf::from("conf/wf.toml")),
            runinfo: PathBuf::from("runinfo"),
            ..Config::default()
        }
    );
    assert_eq!(Config::default().runinfo, Path::new("runinfo"));
}

#[test]
fn the_example_file_parses_and_sets_what_it_says() {
    let text = include_str!("../../../wf.example.toml");
    let config = Config::parse(text, Path::new("/project/wf.toml")).expect("the example parses");
    let expected = Config {
        source: Some(PathBuf::from("/project/wf.toml")),
        entry: "main".into(),
        workers: Some(4),
        runinfo: PathBuf::from("/project/runinfo"),
        memoize: true,
        salt: String::new(),
        cache_failures: false,
        resume: true,
        checkpoint_files: vec![PathBuf::from("/project/archive/003/checkpoint")],
        input_dirs: vec![PathBuf::from("/project/data")],
        output_dir: Some(PathBuf::from("/project/results")),
        checkpoint: crate::RawPolicy {
            mode: "periodic".into(),
            period: Some("30s".into()),
            n: None,
            avoid: vec!["plot".into()],
        },
        retries: 1,
        app_retries: [("fetch".to_owned(), 3)].into(),
        limits: crate::Limits {
            fuel: None,
            timeout: Some(Duration::from_secs(600)),
            memory_bytes: 2048 << 20,
        },
    };
    assert_eq!(config, expected);
}

#[test]
fn every_key_is_read() {
    let text = r#"
        entry = "other"
        workers = 2
        runinfo = "/abs/store"
        memoize = false
        salt = "fresh"
        cache_failures = true
        resume = true
        checkpoint_files = ["a/checkpoint", "/b/checkpoint"]
        input_dirs = ["in"]
        output_dir = "out"
        [checkpoint]
        mode = "every-n-finished"
        n = 10
        avoid = ["x", "y"]
        [limits]
        fuel = 1000
        timeout = "01:00:00"
        memory = 64
        [retries]
        default = 2
        apps = { flaky = 5 }
    "#;
    let config = parse(text).expect("parses");
    assert_eq!(config.entry, "other");
    assert_eq!(config.workers, Some(2));
    assert_eq!(config.runinfo, Path::new("/abs/store"), "absolute stays");
    assert!(!config.memoize);
    assert_eq!(config.salt, "fresh");
    assert!(config.cache_failures && config.resume);
    assert_eq!(
        config.checkpoint_files,
        [Path::new("conf/a/checkpoint"), Path::new("/b/checkpoint")]
    );
    assert_eq!(config.input_dirs, [Path::new("conf/in")]);
    assert_eq!(config.output_dir.as_deref(), Some(Path::new("conf/out")));
    assert_eq!(config.checkpoint.mode, "every-n-finished");
    assert_eq!(config.checkpoint.n, Some(10));
    assert_eq!(config.checkpoint.avoid, ["x", "y"]);
    assert_eq!(config.limits.fuel, Some(1000));
    assert_eq!(config.limits.timeout, Some(Duration::from_secs(3600)));
    assert_eq!(config.limits.memory_bytes, 64 << 20);
    assert_eq!(config.retries, 2);
    assert_eq!(config.app_retries.get("flaky"), Some(&5));

    let runner = config.runner_config();
    assert_eq!(runner.workers, 2);
    assert!(!runner.memoize);
    assert_eq!(runner.salt, "fresh");
    assert_eq!(runner.input_dirs, [Path::new("conf/in")]);
    assert_eq!(runner.checkpoint, config.checkpoint);
    assert_eq!(runner.limits, config.limits);
    assert_eq!(runner.retries, 2);
    assert!(runner.cache_failures);
}

#[test]
fn paths_are_relative_to_the_files_directory() {
    let text = "runinfo = \"store\"\n";
    let at = |file: &str| {
        Config::parse(text, Path::new(file))
            .expect("parses")
            .runinfo
    };
    assert_eq!(at("wf.toml"), Path::new("store"));
    assert_eq!(at("/etc/proj/wf.toml"), Path::new("/etc/proj/store"));
    assert_eq!(at("../up/wf.toml"), Path::new("../up/store"));
}

#[test]
fn unknown_keys_are_named_with_their_line() {
    assert_refused(
        "workers = 2\nwrokers = 3\n",
        2,
        1,
        "wrokers",
        "unknown field `wrokers`",
    );
    assert_refused(
        "[limits]\nfuel = 5\n  fule = 6\n",
        3,
        3,
        "limits.fule",
        "expected one of `fuel`, `timeout`, `memory`",
    );
    assert_refused(
        "[checkpoint]\nperiodic = \"5s\"\n",
        2,
        1,
        "checkpoint.periodic",
        "unknown field",
    );
    assert_refused(
        "[retries]\nflaky = 3\n",
        2,
        1,
        "retries.flaky",
        "unknown field",
    );
    assert_refused(
        "[cluster]\nnodes = 3\n",
        1,
        2,
        "cluster",
        "unknown field `cluster`",
    );
}

#[test]
fn values_of_the_wrong_type_are_named_with_their_line() {
    assert_refused("\nworkers = \"four\"\n", 2, 11, "workers", "invalid type");
    assert_refused("resume = 1\n", 1, 10, "resume", "invalid type");
    assert_refused("[retries]\ndefault = -1\n", 2, 11, "retries.default", "-1");
    assert_refused(
        "[retries.apps]\nflaky = \"x\"\n",
        2,
        9,
        "retries.apps.flaky",
        "invalid type",
    );
    assert_refused(
        "input_dirs = \"data\"\n",
        1,
        14,
        "input_dirs",
        "invalid type",
    );
    assert_refused("limits = 5\n", 1, 10, "limits", "invalid type");
}

#[test]
fn bad_values_are_named_with_their_line() {
    assert_refused(
        "workers = 0\n",
        1,
        11,
        "workers",
        "0 is out of range: use 1 to 1024",
    );
    assert_refused("workers = 5000\n", 1, 11, "workers", "use 1 to 1024");
    assert_refused("entry = \" \"\n", 1, 9, "entry", "must name a workflow");
    assert_refused("runinfo = \"\"\n", 1, 11, "runinfo", "an empty path");
    assert_refused(
        "input_dirs = [\"a\", \"\"]\n",
        1,
        20,
        "input_dirs",
        "an empty path",
    );
    assert_refused(
        "[limits]\nmemory = 0\n",
        2,
        10,
        "limits.memory",
        "use 1 to 4096",
    );
    assert_refused(
        "[limits]\ntimeout = \"soon\"\n",
        2,
        11,
        "limits.timeout",
        "`soon` is not a duration",
    );
    assert_refused(
        "[retries.apps]\n\"\" = 1\n",
        2,
        1,
        "retries.apps",
        "an app name is empty",
    );
}

#[test]
fn bad_checkpoint_settings_are_named_with_their_line() {
    let cases = [
        (
            "mode = \"sometimes\"\n",
            2,
            8,
            "checkpoint.mode",
            "`sometimes` is not a checkpoint mode",
        ),
        (
            "mode = \"periodic\"\nperiod = \"5x\"\n",
            3,
            10,
            "checkpoint.period",
            "`5x` is not a duration",
        ),
        (
            "mode = \"periodic\"\n",
            2,
            8,
            "checkpoint.mode",
            "needs a period",
        ),
        (
            "mode = \"periodic\"\nperiod = \"0s\"\n",
            3,
            10,
            "checkpoint.period",
            "is zero",
        ),
        (
            "period = \"5s\"\n",
            2,
            10,
            "checkpoint.period",
            "`task_exit` takes no period",
        ),
        (
            "mode = \"every_n_finished\"\n",
            2,
            8,
            "checkpoint.mode",
            "needs a count n",
        ),
        (
            "mode = \"instantiated_group\"\nn = 0\n",
            3,
            5,
            "checkpoint.n",
            "at least 1",
        ),
        (
            "mode = \"manual\"\nn = 4\n",
            3,
            5,
            "checkpoint.n",
            "takes no count",
        ),
        (
            "avoid = [\"\"]\n",
            2,
            10,
            "checkpoint.avoid",
            "an app name is empty",
        ),
    ];
    for (body, line, column, key, expected) in cases {
        assert_refused(
            &format!("[checkpoint]\n{body}"),
            line,
            column,
            key,
            expected,
        );
    }
}

#[test]
fn toml_syntax_errors_give_the_line_and_no_key() {
    let (line, column, key, message) = refused("workers = 2\nsalt = \"open\n");
    assert_eq!((line, key), (2, None), "{message}");
    assert!(column >= 8, "{column}");
    assert!(message.starts_with("not valid TOML: "), "{message}");
    let (line, _, key, message) = refused("[limits]\n[limits]\n");
    assert_eq!((line, key), (2, None), "{message}");
}

#[test]
fn a_missing_file_is_a_read_error_naming_it() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let missing = tmp.path().join("nope.toml");
    let error = Config::load(&missing).expect_err("missing");
    assert!(matches!(error, ConfigError::Read { .. }), "{error:?}");
    assert!(error.to_string().contains("nope.toml"), "{error}");
    assert_eq!(
        Config::load_if_present(&missing).expect("absent is fine"),
        None
    );
    // A directory where the file should be is not "absent".
    assert!(Config::load_if_present(tmp.path()).is_err());
    std::fs::write(&missing, "workers = 3\n").expect("write");
    let config = Config::load_if_present(&missing)
        .expect("reads")
        .expect("present");
    assert_eq!(config.workers, Some(3));
    assert_eq!(config.source.as_deref(), Some(missing.as_path()));
}

#[test]
fn lines_and_columns_count_characters() {
    let text = "a\nbé = 1\n\nc";
    assert_eq!(line_column(text, 0), (1, 1));
    assert_eq!(line_column(text, 2), (2, 1));
    assert_eq!(line_column(text, 5), (2, 3), "é is one column");
    assert_eq!(
        line_column(text, 4),
        (2, 2),
        "inside a character: its start"
    );
    assert_eq!(line_column(text, text.len()), (4, 2));
    assert_eq!(line_column(text, 999), (4, 2));
}

#[test]
fn the_readme_example_parses() {
    let readme = include_str!("../../../README.md");
    let start = readme.find("```toml\n").expect("README has a TOML example") + "```toml\n".len();
    let end = start + readme[start..].find("```").expect("closed");
    let config = Config::parse(&readme[start..end], Path::new("wf.toml")).expect("parses");
    assert_eq!(config.workers, Some(4));
    assert_eq!(config.checkpoint.period.as_deref(), Some("30s"));
    assert_eq!(config.app_retries.get("fetch"), Some(&3));
}
