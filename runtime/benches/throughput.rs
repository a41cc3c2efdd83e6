//! Throughput of the engine on the `probes` example app: no-op tasks end to end (library and
//! `wfrun run`), memo hits, CPU-bound tasks on 1 and 2 workers, and a bare sandbox call.
//!
//! ```text
//! cargo bench -p wf-runtime --bench throughput                 # every scenario
//! cargo bench -p wf-runtime --bench throughput -- lib_noops    # scenarios whose name has it
//! ```
//!
//! Settings (environment): `WF_BENCH_REPS` repetitions (default 5), `WF_BENCH_MODULE` a prebuilt
//! `probes.wasm` (default: built here with `build_guest`), `WF_BENCH_CALLS` bare calls per
//! repetition (default 20000), `WF_BENCH_HOST_N` tasks of `lib_host_noops` (default 100000),
//! `WF_BENCH_SPIN` rounds of each CPU-bound task (default 1000000), `WF_BENCH_WORKERS` the
//! worker counts (default `1,2`), `WF_BENCH_WFRUN` the `wfrun` binary (default: the one cargo
//! built beside this benchmark).
//!
//! Every repetition prints one line `scenario=NAME n=.. seconds=.. tasks_per_s=.. others_pct=..`
//! (the format of the Parsl peer's scripts, so its `summarize.py` reads both), then a table of
//! medians with `[min..max]`. Scenarios and worker counts are interleaved within a repetition, so
//! noise from the shared machine falls on all of them alike. `others_pct` is the CPU that other
//! processes used meanwhile, in percent of all cores.
//!
//! This is a benchmark, not a test: without `--bench` (as under `cargo test --all-targets`) it
//! exits at once.

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::time::Instant;

use wf_runtime::{
    BuildOptions, EngineSettings, Input, Limits, LoadedModule, Runner, RunnerConfig, Sandbox,
    TaskKey, build_guest,
};

/// The allocator `wfrun` uses (its default `mimalloc` feature), so the library figures are those
/// of an embedder who makes the same choice.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

type BenchResult<T> = Result<T, Box<dyn std::error::Error>>;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if !args.iter().any(|a| a == "--bench") {
        eprintln!("throughput: a benchmark; run it with `cargo bench --bench throughput`");
        return ExitCode::SUCCESS;
    }
    let filters: Vec<String> = args.into_iter().filter(|a| !a.starts_with('-')).collect();
    match run(&filters) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("throughput: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Settings read from the environment.
struct Settings {
    reps: usize,
    calls: u64,
    host_n: u64,
    spin: u64,
    workers: Vec<usize>,
}

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> BenchResult<T> {
    match std::env::var(name) {
        Ok(text) => text
            .parse()
            .map_err(|_| format!("{name}={text} is not a valid value").into()),
        Err(_) => Ok(default),
    }
}

impl Settings {
    fn from_env() -> BenchResult<Settings> {
        let workers = env_or("WF_BENCH_WORKERS", "1,2".to_owned())?
            .split(',')
            .map(|w| w.trim().parse::<usize>())
            .collect::<Result<Vec<_>, _>>()
            .map_err(|_| "WF_BENCH_WORKERS is a comma-separated list of numbers")?;
        Ok(Settings {
            reps: env_or("WF_BENCH_REPS", 5)?,
            calls: env_or("WF_BENCH_CALLS", 20_000)?,
            host_n: env_or("WF_BENCH_HOST_N", 100_000)?,
            spin: env_or("WF_BENCH_SPIN", 1_000_000)?,
            workers,
        })
    }
}

/// The scenarios, in the order a repetition runs them.
const SCENARIOS: &[&str] = &[
    "sandbox_call",
    "lib_noops",
    "lib_noops_rerun",
    "lib_noops_nomemo",
    "lib_host_noops",
    "cli_noops",
    "cli_noops_resume",
    "cli_start",
    "lib_spin",
];

fn run(filters: &[String]) -> BenchResult<()> {
    let settings = Settings::from_env()?;
    let wanted: Vec<&str> = SCENARIOS
        .iter()
        .copied()
        .filter(|s| filters.is_empty() || filters.iter().any(|f| s.contains(f.as_str())))
        .collect();
    let module_path = probes_module()?;
    let bytes = std::fs::read(&module_path)?;
    let wfrun = std::env::var_os("WF_BENCH_WFRUN")
        .map_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_wfrun")), PathBuf::from);
    eprintln!(
        "# {} reps, workers {:?}, module {}, {} cores, scenarios {}",
        settings.reps,
        settings.workers,
        module_path.display(),
        std::thread::available_parallelism().map_or(1, |n| n.get()),
        wanted.join(" ")
    );

    if std::env::var_os("RUST_BACKTRACE").is_some_and(|v| v != "0") {
        eprintln!(
            "# note: RUST_BACKTRACE is set, so every wasmtime error the engine makes and drops \
             captures a backtrace: slower than a user's default (see BENCHMARKS.md)"
        );
    }
    let scratch = tempfile::tempdir()?;
    // The CLI's fresh runs share one runinfo whose compiled-module cache is warm: every run
    // executes all its tasks (no --resume) but none compiles the module.
    let cli_fresh = scratch.path().join("cli-fresh");
    // The resumed runs load the checkpoint of one seed run (hits are not recorded again, so it
    // does not grow).
    let cli_resume = scratch.path().join("cli-resume");
    if wanted.iter().any(|s| s.starts_with("cli_noops")) {
        for dir in [&cli_fresh, &cli_resume] {
            wfrun_noops(&wfrun, &module_path, dir, 1, false)?;
        }
    }

    let mut lines = Vec::new();
    for rep in 0..settings.reps {
        eprintln!("# repetition {}/{}", rep + 1, settings.reps);
        for scenario in &wanted {
            for &workers in &settings.workers {
                // Starting the process does not depend on the worker count.
                if *scenario == "cli_start" && workers != settings.workers[0] {
                    continue;
                }
                let noise = Noise::start();
                let m = match *scenario {
                    "sandbox_call" => sandbox_call(&bytes, workers, settings.calls)?,
                    "lib_noops" => lib_noops(&bytes, scratch.path(), workers, true, false)?,
                    "lib_noops_rerun" => lib_noops(&bytes, scratch.path(), workers, true, true)?,
                    "lib_noops_nomemo" => lib_noops(&bytes, scratch.path(), workers, false, false)?,
                    "lib_host_noops" => lib_host_noops(&bytes, workers, settings.host_n)?,
                    "cli_noops" => wfrun_noops(&wfrun, &module_path, &cli_fresh, workers, false)?,
                    "cli_noops_resume" => {
                        wfrun_noops(&wfrun, &module_path, &cli_resume, workers, true)?
                    }
                    "cli_start" => cli_start(&wfrun)?,
                    "lib_spin" => lib_spin(&bytes, workers, settings.spin)?,
                    other => return Err(format!("unknown scenario {other}").into()),
                };
                let line = format!(
                    "scenario=wf_{scenario}_j{workers} n={} seconds={:.4} tasks_per_s={:.0} \
                     us_per_task={:.2} cpu_us_per_task={:.1} others_pct={:.0}",
                    m.tasks,
                    m.seconds,
                    m.tasks as f64 / m.seconds,
                    m.seconds * 1e6 / m.tasks as f64,
                    m.cpu_seconds * 1e6 / m.tasks as f64,
                    noise.others_pct()
                );
                println!("{line}");
                lines.push((format!("wf_{scenario}_j{workers}"), m));
            }
        }
    }
    summarize(&lines, &settings.workers);
    Ok(())
}

/// One measurement: `tasks` done in `seconds` of wall-clock time, using `cpu_seconds` of this
/// process and of the children it waited for (counted in ticks of 10 ms: coarse on short runs,
/// but unlike the wall-clock figure it hardly depends on what other processes do).
#[derive(Debug, Clone, Copy)]
struct Measured {
    tasks: u64,
    seconds: f64,
    cpu_seconds: f64,
}

/// Wall-clock and CPU time from `start` to `stop`.
struct Clock {
    wall: Instant,
    cpu: f64,
}

impl Clock {
    fn start() -> Clock {
        Clock {
            wall: Instant::now(),
            cpu: own_cpu_seconds(),
        }
    }

    fn stop(self, tasks: u64) -> Measured {
        Measured {
            tasks,
            seconds: self.wall.elapsed().as_secs_f64(),
            cpu_seconds: own_cpu_seconds() - self.cpu,
        }
    }
}

/// The `probes` module: `WF_BENCH_MODULE`, or built from `apps/probes`.
fn probes_module() -> BenchResult<PathBuf> {
    if let Ok(path) = std::env::var("WF_BENCH_MODULE") {
        return Ok(PathBuf::from(path));
    }
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../apps/probes");
    let built = build_guest(
        &dir,
        &BuildOptions {
            quiet: true,
            ..BuildOptions::default()
        },
    )?;
    built
        .into_iter()
        .find(|p| p.file_name().is_some_and(|n| n == "probes.wasm"))
        .ok_or_else(|| "building apps/probes produced no probes.wasm".into())
}

fn runner(workers: usize, memoize: bool, runinfo: Option<&Path>) -> BenchResult<Runner> {
    let config = RunnerConfig {
        workers,
        memoize,
        ..RunnerConfig::default()
    };
    Ok(Runner::new(config, runinfo)?)
}

fn check(report: &wf_runtime::RunReport, executed: u64, cached: u64) -> BenchResult<()> {
    if !report.ok || report.executed != executed || report.cached != cached {
        return Err(format!(
            "unexpected run: ok {}, {} executed (expected {executed}), {} cached (expected \
             {cached}), error {:?}",
            report.ok, report.executed, report.cached, report.error
        )
        .into());
    }
    Ok(())
}

/// `run_workflow(noops)` in a fresh runner with its own runinfo (memoizing and recording every
/// task), or with `rerun` its second run in the same runner (every task a memo hit).
fn lib_noops(
    bytes: &[u8],
    scratch: &Path,
    workers: usize,
    memoize: bool,
    rerun: bool,
) -> BenchResult<Measured> {
    let runinfo = tempfile::tempdir_in(scratch)?;
    let runner = runner(workers, memoize, Some(runinfo.path()))?;
    let module = runner.load(bytes)?;
    if rerun {
        check(&runner.run_workflow(&module, "noops")?, 10_000, 0)?;
    }
    let clock = Clock::start();
    let report = runner.run_workflow(&module, "noops")?;
    let measured = clock.stop(report.tasks);
    let (executed, cached) = if rerun { (0, 10_000) } else { (10_000, 0) };
    check(&report, executed, cached)?;
    Ok(measured)
}

/// `n` noop tasks submitted by the host through `Session::submit`, then `finish`, in a fresh
/// runner without runinfo: the engine's per-task cost without the guest workflow's host calls.
fn lib_host_noops(bytes: &[u8], workers: usize, n: u64) -> BenchResult<Measured> {
    let runner = runner(workers, true, None)?;
    let module = runner.load(bytes)?;
    let clock = Clock::start();
    let session = runner.start("host noops")?;
    for i in 0..n {
        session.submit(&module, "noop", vec![Input::value(&i)])?;
    }
    let report = session.finish()?;
    let measured = clock.stop(n);
    check(&report, n, 0)?;
    Ok(measured)
}

/// 200 `spin(rounds + i)` tasks (distinct, so all execute) submitted by the host.
fn lib_spin(bytes: &[u8], workers: usize, rounds: u64) -> BenchResult<Measured> {
    const TASKS: u64 = 200;
    let runner = runner(workers, true, None)?;
    let module = runner.load(bytes)?;
    let clock = Clock::start();
    let session = runner.start("spins")?;
    for i in 0..TASKS {
        session.submit(&module, "spin", vec![Input::value(&(rounds + i))])?;
    }
    let report = session.finish()?;
    let measured = clock.stop(TASKS);
    check(&report, TASKS, 0)?;
    Ok(measured)
}

/// `calls` bare `Sandbox::call`s of `noop` (a fresh instance each) on each of `threads` threads
/// sharing one sandbox: no scheduler, no keys, no records.
fn sandbox_call(bytes: &[u8], threads: usize, calls: u64) -> BenchResult<Measured> {
    let sandbox = Sandbox::new(
        EngineSettings::for_workers(Limits::default(), threads),
        None,
    )?;
    let module = sandbox.load(bytes)?;
    let Input::Value(arg) = Input::value(&42u64) else {
        unreachable!("Input::value makes a value");
    };
    // One warm-up call per thread's worth of pool slots, outside the clock.
    call_noops(&sandbox, &module, &arg, 10)?;
    let clock = Clock::start();
    std::thread::scope(|scope| {
        let handles: Vec<_> = (0..threads)
            .map(|_| scope.spawn(|| call_noops(&sandbox, &module, &arg, calls)))
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().map_err(|_| "a call thread panicked")?)
            .collect::<Result<Vec<()>, _>>()
    })?;
    Ok(clock.stop(calls * threads as u64))
}

fn call_noops(
    sandbox: &Sandbox,
    module: &LoadedModule,
    arg: &[u8],
    calls: u64,
) -> Result<(), String> {
    let key = TaskKey([7; 32]);
    for _ in 0..calls {
        let run = sandbox.call(module, "noop", &[arg], &key);
        if run.outcome.as_deref() != Ok(arg) {
            return Err(format!("noop answered {:?}", run.outcome));
        }
    }
    Ok(())
}

/// One `wfrun run probes.wasm --entry noops -j N` process, start to exit.
fn wfrun_noops(
    wfrun: &Path,
    module: &Path,
    runinfo: &Path,
    workers: usize,
    resume: bool,
) -> BenchResult<Measured> {
    let mut command = Command::new(wfrun);
    command
        .arg("run")
        .arg(module)
        .args(["--entry", "noops", "-j", &workers.to_string(), "--runinfo"])
        .arg(runinfo)
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    if resume {
        command.arg("--resume");
    }
    let clock = Clock::start();
    let output = command.output()?;
    let measured = clock.stop(10_000);
    let stderr = String::from_utf8_lossy(&output.stderr);
    let expected = if resume {
        "0 executed, 10000 cached"
    } else {
        "10000 executed, 0 cached"
    };
    if !output.status.success() || !stderr.contains(expected) {
        return Err(format!("wfrun run failed or did not say `{expected}`: {stderr}").into());
    }
    Ok(measured)
}

/// `wfrun --version`: what starting the process costs.
fn cli_start(wfrun: &Path) -> BenchResult<Measured> {
    let clock = Clock::start();
    let status = Command::new(wfrun)
        .arg("--version")
        .stdout(Stdio::null())
        .status()?;
    let measured = clock.stop(1);
    if !status.success() {
        return Err("wfrun --version failed".into());
    }
    Ok(measured)
}

/// CPU time of the whole machine and of this process (and its waited-for children), to tell
/// how much other processes took while a scenario ran.
struct Noise {
    wall: Instant,
    machine: f64,
    own: f64,
}

impl Noise {
    fn start() -> Noise {
        Noise {
            wall: Instant::now(),
            machine: machine_busy_seconds(),
            own: own_cpu_seconds(),
        }
    }

    fn others_pct(&self) -> f64 {
        let wall = self.wall.elapsed().as_secs_f64();
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get()) as f64;
        let others = (machine_busy_seconds() - self.machine) - (own_cpu_seconds() - self.own);
        (100.0 * others / (wall * cores)).max(0.0)
    }
}

/// Clock ticks per second of `/proc` times (USER_HZ, 100 on Linux).
const TICKS: f64 = 100.0;

/// Busy CPU seconds of the machine since boot (`/proc/stat`: all but idle and iowait).
fn machine_busy_seconds() -> f64 {
    let Ok(stat) = std::fs::read_to_string("/proc/stat") else {
        return 0.0;
    };
    let fields: Vec<f64> = stat
        .lines()
        .next()
        .unwrap_or_default()
        .split_whitespace()
        .skip(1)
        .take(8)
        .filter_map(|f| f.parse().ok())
        .collect();
    if fields.len() < 8 {
        return 0.0;
    }
    (fields.iter().sum::<f64>() - fields[3] - fields[4]) / TICKS
}

/// CPU seconds of this process and its reaped children (`/proc/self/stat` fields 14–17).
fn own_cpu_seconds() -> f64 {
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else {
        return 0.0;
    };
    // The command name may hold spaces: count fields after its closing parenthesis.
    let after = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    after
        .split_whitespace()
        .skip(11)
        .take(4)
        .filter_map(|f| f.parse::<f64>().ok())
        .sum::<f64>()
        / TICKS
}

fn median_min_max(values: &mut [f64]) -> (f64, f64, f64) {
    values.sort_by(f64::total_cmp);
    let n = values.len();
    let median = if n % 2 == 1 {
        values[n / 2]
    } else {
        (values[n / 2 - 1] + values[n / 2]) / 2.0
    };
    (median, values[0], values[n - 1])
}

/// Prints the table of medians and, for each scenario, the ratio of its last worker count to its
/// first.
fn summarize(lines: &[(String, Measured)], workers: &[usize]) {
    let mut names: Vec<&str> = Vec::new();
    for (name, _) in lines {
        if !names.contains(&name.as_str()) {
            names.push(name);
        }
    }
    println!();
    println!("# medians [min..max] over the repetitions");
    println!(
        "{:<28} {:>4} {:>28} {:>24} {:>12}",
        "scenario", "runs", "tasks/s", "µs/task", "CPU µs/task"
    );
    let mut medians = std::collections::HashMap::new();
    for name in &names {
        let mut rates: Vec<f64> = lines
            .iter()
            .filter(|(n, _)| n == name)
            .map(|(_, m)| m.tasks as f64 / m.seconds)
            .collect();
        let mut cpu: Vec<f64> = lines
            .iter()
            .filter(|(n, _)| n == name)
            .map(|(_, m)| m.cpu_seconds * 1e6 / m.tasks as f64)
            .collect();
        let runs = rates.len();
        let (median, min, max) = median_min_max(&mut rates);
        let (cpu_median, _, _) = median_min_max(&mut cpu);
        medians.insert(name.to_string(), median);
        println!(
            "{name:<28} {runs:>4} {:>28} {:>24} {cpu_median:>12.1}",
            format!("{median:.0} [{min:.0}..{max:.0}]"),
            format!("{:.2} [{:.2}..{:.2}]", 1e6 / median, 1e6 / max, 1e6 / min),
        );
    }
    if let (Some(first), Some(last)) = (workers.first(), workers.last())
        && first != last
    {
        println!();
        println!("# tasks/s at j{last} over j{first} (ratio of medians)");
        for name in &names {
            if let Some(base) = name.strip_suffix(&format!("_j{first}"))
                && let (Some(a), Some(b)) =
                    (medians.get(*name), medians.get(&format!("{base}_j{last}")))
            {
                println!("{base:<28} {:.2}", b / a);
            }
        }
    }
}
