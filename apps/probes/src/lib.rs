//! Fixtures for the host's tests: each app pokes at one edge of the sandbox.
//!
//! - limits: [`forever`] never returns (wall-clock timeouts, fuel), [`hog`] allocates until the
//!   memory ceiling stops it, [`spin`] burns a known amount of CPU, [`recurse`] overflows the
//!   stack when asked to go deep enough;
//! - determinism: [`clock`] reads the wall and monotonic clocks, [`random`] draws from WASI
//!   `random_get`, [`nan`] and [`nan_payload`] produce NaNs by arithmetic (canonicalization);
//! - isolation: [`ambient`] reports the environment, arguments and files a task can see, and
//!   [`counter`] shows whether state survives from one task to the next;
//! - overhead: [`noop`] does nothing, and the workflows [`noops`] and [`spins`] submit many tasks;
//! - logs: [`chatty`] writes to stdout and stderr;
//! - limits in a run: the workflow [`runaway`] submits [`forever`] beside a [`noop`];
//! - crashes: the workflow [`chain`] runs tasks one by one, printing each, to be killed half-way;
//! - executors: [`pyramid`] is a three-level graph of about 200 tasks whose printed outputs
//!   must not depend on where tasks ran, [`slow_fan`] gives an executor seconds-long tasks to
//!   interrupt, and [`complaint`] runs [`complain`], which logs to stderr and fails.
//! - cross-architecture reruns: the workflow [`floats`] prints the bit patterns of NaN-producing
//!   arithmetic ([`float_edges`], [`nan`], [`nan_payload`]), clock readings and random draws
//!   ([`noisy_mean`], [`clock`], [`random`]) and relaxed SIMD ([`relaxed_lanes`]), which must be the same on every CPU
//!   (`scripts/cross-aarch64.sh`).
//!
//! Natively (`cargo test -p probes`) only the apps that return are exercised.
#![deny(missing_docs)]

use std::hash::BuildHasher;
use std::hint::black_box;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use wf_guest::prelude::*;

/// Loops forever, doing nothing observable: only a timeout or a fuel limit ends it.
#[app]
pub fn forever() -> u64 {
    let mut turns = 0u64;
    loop {
        turns = black_box(turns.wrapping_add(1));
    }
}

/// Allocates chunks of `chunk_kib` KiB and writes to each, keeping them all, until the allocator
/// fails (the module then traps): only a memory ceiling ends it quickly.
#[app]
pub fn hog(chunk_kib: u32) -> u64 {
    let size = (chunk_kib.max(1) as usize) * 1024;
    let mut chunks: Vec<Vec<u8>> = Vec::new();
    loop {
        let mut chunk = vec![0u8; size];
        chunk.fill(0xa5);
        chunks.push(black_box(chunk));
    }
}

/// What the clocks said.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Schema)]
pub struct ClockReading {
    /// `SystemTime::now()` since the Unix epoch, in nanoseconds (0 if before it).
    pub unix_nanos: u64,
    /// How long `Instant` says a short busy loop took, in nanoseconds.
    pub elapsed_nanos: u64,
}

/// Reads the wall clock and times a short busy loop with the monotonic clock. In a deterministic
/// sandbox both are virtual, so the reading is the same on every run.
#[app]
pub fn clock() -> ClockReading {
    let unix_nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX));
    let start = Instant::now();
    black_box(spin.call(10_000));
    let elapsed_nanos = u64::try_from(start.elapsed().as_nanos()).unwrap_or(u64::MAX);
    ClockReading {
        unix_nanos,
        elapsed_nanos,
    }
}

/// Hashes 42 with a fresh `RandomState`, whose keys std draws from WASI `random_get`: the same
/// answer every run only when the host seeds randomness deterministically.
#[app]
pub fn random() -> u64 {
    std::collections::hash_map::RandomState::new().hash_one(42u64)
}

/// What a task could see of the world outside it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Schema)]
pub struct Ambient {
    /// Environment variables, as `KEY=VALUE`.
    pub env: Vec<String>,
    /// Command-line arguments.
    pub args: Vec<String>,
    /// Reading `/etc/passwd`: `read N bytes` or `error: ...`.
    pub etc_passwd: String,
    /// Entries of `/`, or `error: ...` as the only entry.
    pub root: Vec<String>,
    /// Entries of `.`, or `error: ...` as the only entry.
    pub current_dir: Vec<String>,
}

fn list(dir: &str) -> Vec<String> {
    match std::fs::read_dir(dir) {
        Ok(entries) => {
            let mut names: Vec<String> = entries
                .map(|entry| match entry {
                    Ok(entry) => entry.file_name().to_string_lossy().into_owned(),
                    Err(e) => format!("error: {e}"),
                })
                .collect();
            names.sort();
            names
        }
        Err(e) => vec![format!("error: {e}")],
    }
}

/// Reports the environment variables, arguments, `/etc/passwd` and the directories `/` and `.`
/// as the task sees them. A sandboxed task should see nothing.
#[app]
pub fn ambient() -> Ambient {
    Ambient {
        env: std::env::vars_os()
            .map(|(k, v)| format!("{}={}", k.to_string_lossy(), v.to_string_lossy()))
            .collect(),
        args: std::env::args_os()
            .map(|a| a.to_string_lossy().into_owned())
            .collect(),
        etc_passwd: match std::fs::read("/etc/passwd") {
            Ok(bytes) => format!("read {} bytes", bytes.len()),
            Err(e) => format!("error: {e}"),
        },
        root: list("/"),
        current_dir: list("."),
    }
}

/// Returns 0/0 computed at run time: a NaN whose sign and payload the hardware picks (x86 gives
/// a negative one) unless the host canonicalizes NaNs.
#[app]
pub fn nan() -> f64 {
    let (numerator, denominator) = (black_box(0.0f64), black_box(0.0f64));
    numerator / denominator
}

/// Returns `f64::from_bits(bits) + 0.0` computed at run time: for a NaN `bits`, whether the
/// payload survives depends on the hardware unless the host canonicalizes NaNs.
#[app]
pub fn nan_payload(bits: u64) -> f64 {
    black_box(f64::from_bits(bits)) + black_box(0.0)
}

static CALLS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// Counts its own calls in a static and returns the count: 1 every time when each task gets a
/// fresh instance, as the host promises.
#[app]
pub fn counter() -> u64 {
    CALLS.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1
}

/// Returns its input: the cheapest possible task.
#[app]
pub fn noop(x: u64) -> u64 {
    x
}

/// Runs `n` rounds of a multiply-xorshift chain and returns the final state: CPU time that grows
/// linearly with `n` and that the optimizer cannot skip.
#[app]
pub fn spin(n: u64) -> u64 {
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    for round in 0..n {
        state ^= state >> 29;
        state = state
            .wrapping_mul(0xbf58_476d_1ce4_e5b9)
            .wrapping_add(round);
    }
    state
}

/// Writes `lines` numbered lines to stdout and one to stderr; returns `lines`.
#[app]
pub fn chatty(lines: u32) -> u32 {
    for line in 0..lines {
        println!("stdout line {line}");
    }
    eprintln!("stderr: wrote {lines} lines");
    lines
}

/// How many tasks [`noops`] submits.
pub const NOOPS: u64 = 10_000;

/// Submits [`NOOPS`] `noop` tasks and checks their sum: per-task overhead, end to end.
#[workflow]
pub fn noops() -> Result<()> {
    let futures: Vec<Future<u64>> = (0..NOOPS).map(|i| noop.submit(i)).collect();
    let mut sum = 0;
    for future in &futures {
        sum += future.get()?;
    }
    if sum != NOOPS * (NOOPS - 1) / 2 {
        return Err(Error::msg(format!("the noops summed to {sum}")));
    }
    println!("{NOOPS} noop tasks, sum {sum}");
    Ok(())
}

/// How many tasks [`spins`] submits, and the rounds each spins.
pub const SPINS: (u64, u64) = (200, 2_000_000);

/// Submits [`SPINS`] CPU-bound `spin` tasks with distinct inputs (so none is a cache hit of
/// another) and waits for them all: parallel throughput on CPU-bound work.
#[workflow]
pub fn spins() -> Result<()> {
    let (tasks, rounds) = SPINS;
    let futures: Vec<Future<u64>> = (0..tasks).map(|i| spin.submit(rounds + i)).collect();
    let mut mix = 0u64;
    for future in &futures {
        mix ^= future.get()?;
    }
    println!("{tasks} spin tasks of about {rounds} rounds, mix {mix:016x}");
    Ok(())
}

/// Submits a [`forever`] task beside a quick [`noop`] and waits for both: a run that only a
/// per-task limit (`--timeout`, `--fuel`) can end, in which the other task still succeeds.
/// Not run natively: there nothing would stop `forever`.
#[workflow]
pub fn runaway() -> Result<()> {
    let stuck = forever.submit();
    let quick = noop.submit(7);
    println!("noop answered {}", quick.get()?);
    println!("forever returned after {} turns", stuck.get()?);
    Ok(())
}

/// How many tasks [`chain`] runs, one after another.
pub const CHAIN: u64 = 200;

/// Runs [`CHAIN`] `spin` tasks one after another and prints `done I RESULT` as each resolves: a
/// run to kill half-way, after which every task it printed must be reused, not run again.
#[workflow]
pub fn chain() -> Result<()> {
    for i in 0..CHAIN {
        let result = spin.submit(1_000_000 + i).get()?;
        println!("done {i} {result}");
    }
    Ok(())
}

/// Writes `why` to stderr, then fails with it: a failing task whose log must reach the user.
#[app]
pub fn complain(why: String) -> Result<u64, String> {
    eprintln!("complain: about to fail because {why}");
    Err(format!("complained: {why}"))
}

/// How many tasks each level of [`pyramid`] has: leaves, groups of leaves, the top.
pub const PYRAMID: (u64, u64, u64) = (160, 40, 1);

/// A three-level graph of [`PYRAMID`] tasks: `spin` leaves, a `fold` of each group of four, and
/// one `fold` of the groups; prints every group's value and the top's.
#[workflow]
pub fn pyramid() -> Result<()> {
    let (leaves, groups, _) = PYRAMID;
    let per_group = leaves / groups;
    let leaves: Vec<Future<u64>> = (0..leaves).map(|i| spin.submit(10_000 + i)).collect();
    let groups: Vec<Future<u64>> = leaves
        .chunks(per_group as usize)
        .map(|group| fold.submit(group.to_vec()))
        .collect();
    let top = fold.submit(groups.clone());
    for (i, group) in groups.iter().enumerate() {
        println!("group {i} {:016x}", group.get()?);
    }
    println!("top {:016x}", top.get()?);
    Ok(())
}

/// Folds values into one, order-sensitively.
#[app]
pub fn fold(values: Vec<u64>) -> u64 {
    values.iter().fold(0xcbf2_9ce4_8422_2325u64, |acc, v| {
        (acc ^ v).wrapping_mul(0x0100_0000_01b3)
    })
}

/// How many tasks [`slow_fan`] submits, and the rounds each spins (on the order of a second).
pub const SLOW_FAN: (u64, u64) = (8, 200_000_000);

/// [`SLOW_FAN`] seconds-long `spin` tasks side by side: a run to interrupt while they execute.
#[workflow]
pub fn slow_fan() -> Result<()> {
    let (tasks, rounds) = SLOW_FAN;
    let futures: Vec<Future<u64>> = (0..tasks).map(|i| spin.submit(rounds + i)).collect();
    for (i, future) in futures.iter().enumerate() {
        println!("slow {i} {:016x}", future.get()?);
    }
    Ok(())
}

/// Runs [`complain`]: a workflow whose one task fails after logging.
#[workflow]
pub fn complaint() -> Result<()> {
    println!("{}", complain.submit("the test asked".to_owned()).get()?);
    Ok(())
}

/// Recurses `depth` calls deep, each frame holding a small array, and returns a checksum: deep
/// enough, it overflows the native stack and traps, at a depth that depends on the CPU
/// architecture's frame sizes (README: what is not reproducible).
#[app]
pub fn recurse(depth: u32) -> u64 {
    fn down(depth: u32) -> u64 {
        let frame = black_box([u64::from(depth); 8]);
        if depth == 0 {
            return frame[0];
        }
        black_box(down(depth - 1)).wrapping_add(frame.iter().sum::<u64>())
    }
    down(depth)
}

/// NaN payloads to feed [`float_edges`]: a signalling NaN with a payload, a negative quiet NaN
/// with one, and the canonical NaN.
pub const NAN_PAYLOADS: [u64; 3] = [
    0x7ff4_0000_0000_1234,
    0xfff8_dead_beef_0001,
    0x7ff8_0000_0000_0000,
];

/// Computes, from `seed` and `payload` at run time, the results where CPUs disagree unless the
/// engine pins them down: NaNs made by 0/0, ∞−∞, √−1, ∞·0 and libm's domain errors, a NaN
/// payload pushed through arithmetic, f32 NaNs widened, min/max, fused multiply-add, overflow,
/// subnormals, saturating conversions and a long rounding-sensitive sum. Returns the bit
/// patterns (f32 results widened to their bits), so that equal means bit-identical.
#[app]
// `x - x` is deliberate: arithmetic that makes a NaN (from ∞) or a zero at run time.
#[allow(clippy::eq_op)]
pub fn float_edges(seed: u64, payload: u64) -> Vec<u64> {
    let x = black_box(seed as f64 * 0.37 - 1.3);
    let zero = black_box(0.0f64);
    let inf = black_box(f64::INFINITY);
    let nan_in = black_box(f64::from_bits(payload));
    let xf = black_box(x as f32);
    let mut sum = 0.0f64;
    for k in 1..=1_000u32 {
        sum += black_box(x) / f64::from(k);
    }
    let results = [
        (x - x) / zero,
        inf - inf,
        (-x.abs() - 1.0).sqrt(),
        inf * zero,
        (-x.abs() - 1.0).ln(),
        (x.abs() + 2.0).asin(),
        nan_in + x,
        nan_in * -x,
        nan_in.mul_add(x, 1.0),
        x.mul_add(x, -1.0 / 3.0),
        f64::from((xf - xf) / 0.0f32),
        f64::from(f32::from_bits(black_box(0x7fa0_0001)) * xf),
        nan_in.min(x),
        nan_in.max(x),
        x.min(-x),
        (x.abs() * 1e308) * 10.0,
        f64::MIN_POSITIVE / 3.0 * x,
        x.sin() * x.exp() / x.cosh(),
        x.powf(0.5),
        x.atan2(zero),
        sum,
        0.1 + black_box(0.2),
    ];
    let mut bits: Vec<u64> = results.iter().map(|r| r.to_bits()).collect();
    // Saturating float-to-integer conversions of NaN, ∞ and an ordinary value.
    bits.push(((x - x) / zero) as i64 as u64);
    bits.push((inf * x.signum()) as i32 as u64);
    bits.push((x * 1e3) as i64 as u64);
    bits
}

/// The clock readings, random draws and float result of one [`noisy_mean`] task.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Schema)]
pub struct NoisyMean {
    /// `SystemTime::now()` since the Unix epoch, in nanoseconds, at the start.
    pub unix_nanos: u64,
    /// What `Instant` measured over the draws, in nanoseconds.
    pub elapsed_nanos: u64,
    /// The first random draw.
    pub first_draw: u64,
    /// Bits of the mean of the draws mapped to [0, 1), then divided by the elapsed time (NaN
    /// when no draw was made: 0/0).
    pub mean_bits: u64,
}

/// Draws `samples` random numbers from WASI `random_get` (through std's `RandomState`), reads
/// the wall and monotonic clocks around them, and returns the readings with the bits of a
/// float computed from all of them.
#[app]
pub fn noisy_mean(samples: u32) -> NoisyMean {
    let unix_nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX));
    let start = Instant::now();
    let mut first_draw = 0;
    let mut total = 0.0f64;
    for i in 0..samples {
        let draw = std::collections::hash_map::RandomState::new().hash_one(i);
        if i == 0 {
            first_draw = draw;
        }
        // The top 53 bits as a fraction in [0, 1).
        total += (draw >> 11) as f64 / (1u64 << 53) as f64;
    }
    let elapsed_nanos = u64::try_from(start.elapsed().as_nanos()).unwrap_or(u64::MAX);
    let mean = total / f64::from(samples);
    NoisyMean {
        unix_nanos,
        elapsed_nanos,
        first_draw,
        mean_bits: (mean / (elapsed_nanos as f64 * 1e-9)).to_bits(),
    }
}

/// Pools the results of [`float_edges`] tasks element-wise: sums, smallest and largest of each
/// position (NaNs included, so they propagate), as bits.
#[app]
pub fn pool_edges(results: Vec<Vec<u64>>) -> Vec<u64> {
    let width = results.iter().map(Vec::len).max().unwrap_or(0);
    let mut pooled = Vec::with_capacity(width * 3);
    for i in 0..width {
        let column = results
            .iter()
            .filter_map(|r| r.get(i))
            .map(|&b| f64::from_bits(b));
        let (sum, low, high) = column.fold(
            (0.0f64, f64::INFINITY, f64::NEG_INFINITY),
            |(sum, low, high), v| (sum + v, low.min(v), high.max(v)),
        );
        pooled.extend([sum.to_bits(), low.to_bits(), high.to_bits()]);
    }
    pooled
}

/// Runs wasm's relaxed-SIMD float instructions, whose results the wasm spec lets each CPU choose
/// (fused or unfused multiply-add, NaN and −0 handling of min/max, out-of-range truncation),
/// and plain SIMD NaN arithmetic, on lanes made from `x`; returns the lanes' bits. The engine's
/// deterministic relaxed SIMD must make them the same everywhere. Natively, scalar equivalents.
#[app]
pub fn relaxed_lanes(x: f32) -> Vec<u32> {
    lanes::compute(black_box(x))
}

#[cfg(target_arch = "wasm32")]
// `x - x` is deliberate: arithmetic that makes a NaN (from ∞) or a zero at run time.
#[allow(clippy::eq_op)]
mod lanes {
    use core::arch::wasm32::*;

    /// The instructions exist in every engine that enables relaxed SIMD, as wf's does: a module
    /// that uses them fails validation elsewhere rather than misbehaving.
    #[target_feature(enable = "simd128,relaxed-simd")]
    pub(crate) fn compute(x: f32) -> Vec<u32> {
        let a = f32x4(x, -x, f32::NAN, 1e30);
        let b = f32x4(x / 3.0, 0.0, -0.0, 1e10);
        let c = f32x4_splat(-1.0 / 3.0);
        let results = [
            f32x4_relaxed_madd(a, b, c),
            f32x4_relaxed_nmadd(a, b, c),
            f32x4_relaxed_min(a, b),
            f32x4_relaxed_max(b, a),
            f32x4_div(f32x4_sub(a, a), f32x4_splat(0.0)),
            i32x4_relaxed_trunc_f32x4(f32x4_mul(a, b)),
            f32x4_sqrt(f32x4_neg(f32x4_abs(a))),
        ];
        let mut bits = Vec::with_capacity(results.len() * 4);
        for v in results {
            bits.extend([
                u32x4_extract_lane::<0>(v),
                u32x4_extract_lane::<1>(v),
                u32x4_extract_lane::<2>(v),
                u32x4_extract_lane::<3>(v),
            ]);
        }
        bits
    }
}

#[cfg(not(target_arch = "wasm32"))]
// `x - x` is deliberate: arithmetic that makes a NaN (from ∞) or a zero at run time.
#[allow(clippy::eq_op)]
mod lanes {
    pub(crate) fn compute(x: f32) -> Vec<u32> {
        let a = [x, -x, f32::NAN, 1e30];
        let b = [x / 3.0, 0.0, -0.0, 1e10];
        let c = -1.0f32 / 3.0;
        let map = |f: &dyn Fn(f32, f32) -> f32| -> Vec<u32> {
            a.iter().zip(b).map(|(&a, b)| f(a, b).to_bits()).collect()
        };
        let mut bits = Vec::new();
        bits.extend(map(&|a, b| a.mul_add(b, c)));
        bits.extend(map(&|a, b| (-a).mul_add(b, c)));
        bits.extend(map(&|a, b| a.min(b)));
        bits.extend(map(&|a, b| b.max(a)));
        bits.extend(map(&|a, _| (a - a) / 0.0));
        bits.extend(map(&|a, b| f32::from_bits((a * b) as i32 as u32)));
        bits.extend(map(&|a, _| (-a.abs()).sqrt()));
        bits
    }
}

/// Floating-point edge cases, NaNs, clocks and random numbers, in tasks and in the workflow
/// itself, printed as bit patterns: the output must be byte-identical on every CPU
/// architecture, and a rerun from a checkpoint written on another one must reuse every task.
#[workflow]
pub fn floats() -> Result<()> {
    let edges: Vec<Future<Vec<u64>>> = (0..4u64)
        .flat_map(|seed| NAN_PAYLOADS.map(|payload| float_edges.submit(seed, payload)))
        .collect();
    let noisy: Vec<Future<NoisyMean>> = [0u32, 1, 100, 10_000]
        .into_iter()
        .map(|samples| noisy_mean.submit(samples))
        .collect();
    let pooled = pool_edges.submit(&edges);
    let quotient = nan.submit();
    let payloads: Vec<Future<f64>> = NAN_PAYLOADS
        .into_iter()
        .map(|bits| nan_payload.submit(bits))
        .collect();
    let reading = clock.submit();
    let hashed = random.submit();
    let lanes: Vec<Future<Vec<u32>>> = [0.7f32, -2.5, 3e20]
        .into_iter()
        .map(|x| relaxed_lanes.submit(x))
        .collect();

    for (i, edge) in edges.iter().enumerate() {
        let hex: Vec<String> = edge.get()?.iter().map(|b| format!("{b:016x}")).collect();
        println!("edges {i:>2}: {}", hex.join(" "));
    }
    let hex: Vec<String> = pooled.get()?.iter().map(|b| format!("{b:016x}")).collect();
    println!("pooled: {}", hex.join(" "));
    for n in &noisy {
        let n = n.get()?;
        println!(
            "noisy: unix {} elapsed {} first {:016x} mean {:016x}",
            n.unix_nanos, n.elapsed_nanos, n.first_draw, n.mean_bits
        );
    }
    println!("nan: {:016x}", quotient.get()?.to_bits());
    for p in &payloads {
        println!("nan_payload: {:016x}", p.get()?.to_bits());
    }
    for l in &lanes {
        let hex: Vec<String> = l.get()?.iter().map(|b| format!("{b:08x}")).collect();
        println!("lanes: {}", hex.join(" "));
    }
    let reading = reading.get()?;
    println!(
        "clock: unix {} elapsed {}; random {:016x}",
        reading.unix_nanos,
        reading.elapsed_nanos,
        hashed.get()?
    );
    // The workflow's own clock and randomness are virtual too.
    let own_clock = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let own_draw = std::collections::hash_map::RandomState::new().hash_one(7u64);
    println!("workflow: unix {own_clock} random {own_draw:016x}");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cheap_apps_answer() {
        assert_eq!(noop.call(7), 7);
        assert_eq!(spin.call(0), 0x9e37_79b9_7f4a_7c15);
        assert_ne!(spin.call(1_000), spin.call(1_001));
        assert_eq!(chatty.call(2), 2);
        assert_ne!(fold.call(vec![1, 2]), fold.call(vec![2, 1]));
        assert!(complain.call("no reason".to_owned()).is_err());
    }

    #[test]
    fn nans_are_nans() {
        assert!(nan.call().is_nan());
        assert!(nan_payload.call(0x7ff4_0000_0000_1234).is_nan());
        assert_eq!(nan_payload.call(1.5f64.to_bits()), 1.5);
    }

    #[test]
    fn natively_the_world_is_visible() {
        // Not sandboxed here: the probes simply report what they find.
        let seen = ambient.call();
        assert!(!seen.args.is_empty());
        assert!(clock.call().unix_nanos > 0);
        let _ = random.call();
    }

    #[test]
    fn float_edges_make_nans() {
        let bits = float_edges.call(3, NAN_PAYLOADS[0]);
        assert!(f64::from_bits(bits[0]).is_nan());
        assert!(f64::from_bits(bits[1]).is_nan());
        assert_eq!(bits.len(), 25);
        assert_eq!(bits, float_edges.call(3, NAN_PAYLOADS[0]));
        let pooled = pool_edges.call(vec![bits.clone(), bits]);
        assert_eq!(pooled.len(), 75);
        assert!(f64::from_bits(noisy_mean.call(0).mean_bits).is_nan());
        assert_eq!(relaxed_lanes.call(0.7).len(), 28);
        // Frames of 2, 1 and 0, each adding eight copies of its depth.
        assert_eq!(recurse.call(2), 16 + 8);
        floats().expect("floats runs natively");
    }

    #[test]
    fn the_overhead_workflows_run_natively() {
        noops().expect("noops");
        let (tasks, _) = SPINS;
        assert_eq!(tasks, 200);
    }
}
