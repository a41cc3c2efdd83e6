//! Estimates π by Monte Carlo, the main example of wf.
//!
//! `main` fans out [`TASKS`] `sample(seed, n)` tasks, each throwing `n` darts at the unit square
//! with its own explicit seed, then fans in with `estimate(tallies)`. Because every task gets its
//! seed as an argument and draws from a PRNG written here, the run is reproducible to the bit, so
//! a rerun is all cache hits. `sweep` repeats the experiment at growing sample sizes and reduces
//! each level's replicates to a spread, showing the error shrink like 1/√n.
#![deny(missing_docs)]

use wf_guest::prelude::*;

/// How many `sample` tasks `main` runs.
pub const TASKS: u64 = 16;
/// How many darts each of `main`'s tasks throws: the whole run is about a second of CPU time
/// (160 million darts at about 6 ns each in wasm).
pub const DARTS_PER_TASK: u64 = 10_000_000;
/// The seed `main` derives its tasks' seeds from.
pub const SEED: u64 = 2026;

/// What one `sample` task saw.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Schema)]
pub struct Tally {
    /// Darts that fell inside the quarter circle.
    pub inside: u64,
    /// Darts thrown.
    pub thrown: u64,
}

/// An estimate of π from some tallies.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, Schema)]
pub struct Estimate {
    /// The estimate, 4 × inside / thrown.
    pub pi: f64,
    /// Its standard error, 4 × √(p(1 − p)/n).
    pub std_error: f64,
    /// Darts thrown in all.
    pub thrown: u64,
}

/// The spread of several independent estimates at one sample size (one level of the sweep).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, Schema)]
pub struct Spread {
    /// Darts per estimate.
    pub darts: u64,
    /// How many estimates.
    pub replicates: u64,
    /// Their mean.
    pub mean: f64,
    /// Their sample standard deviation.
    pub std_dev: f64,
    /// |mean − π|.
    pub abs_error: f64,
}

/// SplitMix64 (Steele, Lea, Flood 2014): a tiny, fast generator whose whole state is its seed, so
/// a task's stream depends on nothing but its arguments.
#[derive(Debug, Clone)]
pub struct SplitMix64(u64);

impl SplitMix64 {
    /// A generator starting from `seed`.
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A float uniform in [0, 1), from the top 53 bits.
    pub fn next_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }
}

/// The seed of task `index` of an experiment seeded with `base`: far apart streams.
pub fn task_seed(base: u64, index: u64) -> u64 {
    SplitMix64::new(base ^ index.wrapping_mul(0xd1b5_4a32_d192_ed03)).next_u64()
}

/// Throws `n` darts at the unit square and counts those inside the quarter circle.
#[app]
pub fn sample(seed: u64, n: u64) -> Tally {
    let mut rng = SplitMix64::new(seed);
    let mut inside = 0;
    for _ in 0..n {
        let (x, y) = (rng.next_f64(), rng.next_f64());
        if x * x + y * y < 1.0 {
            inside += 1;
        }
    }
    Tally { inside, thrown: n }
}

/// Pools the tallies into one estimate of π. Fails when no dart was thrown.
#[app]
pub fn estimate(tallies: Vec<Tally>) -> Result<Estimate, String> {
    let inside: u64 = tallies.iter().map(|t| t.inside).sum();
    let thrown: u64 = tallies.iter().map(|t| t.thrown).sum();
    if thrown == 0 {
        return Err("no darts were thrown".to_owned());
    }
    let p = inside as f64 / thrown as f64;
    Ok(Estimate {
        pi: 4.0 * p,
        std_error: 4.0 * (p * (1.0 - p) / thrown as f64).sqrt(),
        thrown,
    })
}

/// Reduces independent estimates made with `darts` darts each to their spread.
#[app]
pub fn spread(darts: u64, estimates: Vec<Estimate>) -> Spread {
    let n = estimates.len() as f64;
    let mean = estimates.iter().map(|e| e.pi).sum::<f64>() / n.max(1.0);
    let variance =
        estimates.iter().map(|e| (e.pi - mean).powi(2)).sum::<f64>() / (n - 1.0).max(1.0);
    Spread {
        darts,
        replicates: estimates.len() as u64,
        mean,
        std_dev: variance.sqrt(),
        abs_error: (mean - std::f64::consts::PI).abs(),
    }
}

/// Fans out [`TASKS`] seeded `sample` tasks, fans in with `estimate`, prints the estimate.
#[workflow]
pub fn main() -> Result<()> {
    let tallies: Vec<Future<Tally>> = (0..TASKS)
        .map(|i| sample.submit(task_seed(SEED, i), DARTS_PER_TASK))
        .collect();
    let pi = estimate.submit(tallies).get()?;
    println!(
        "pi ≈ {:.6} ± {:.6} ({} darts in {TASKS} tasks; error {:.2e})",
        pi.pi,
        pi.std_error,
        pi.thrown,
        (pi.pi - std::f64::consts::PI).abs()
    );
    Ok(())
}

/// The sample sizes of the sweep and how many replicates each level gets.
pub const SWEEP_DARTS: [u64; 5] = [1_000, 10_000, 100_000, 1_000_000, 4_000_000];
/// Replicates per level of the sweep.
pub const SWEEP_REPLICATES: u64 = 4;

/// A parameter sweep: at each sample size, [`SWEEP_REPLICATES`] independent estimates (each
/// from two `sample` tasks), reduced to their spread; prints one line per level.
#[workflow]
pub fn sweep() -> Result<()> {
    let levels: Vec<Future<Spread>> = SWEEP_DARTS
        .iter()
        .enumerate()
        .map(|(level, &darts)| {
            let estimates: Vec<Future<Estimate>> = (0..SWEEP_REPLICATES)
                .map(|replicate| {
                    let base = SEED + 1_000 * level as u64 + 10 * replicate;
                    let halves = vec![
                        sample.submit(task_seed(base, 0), darts / 2),
                        sample.submit(task_seed(base, 1), darts - darts / 2),
                    ];
                    estimate.submit(halves)
                })
                .collect();
            spread.submit(darts, estimates)
        })
        .collect();
    println!(
        "{:>10} {:>10} {:>10} {:>10}",
        "darts", "mean", "std dev", "|error|"
    );
    for level in &levels {
        let s = level.get()?;
        println!(
            "{:>10} {:>10.6} {:>10.6} {:>10.2e}",
            s.darts, s.mean, s.std_dev, s.abs_error
        );
    }
    checkpoint();
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_generator_is_reproducible_and_uniform() {
        let mut a = SplitMix64::new(7);
        let mut b = SplitMix64::new(7);
        let xs: Vec<f64> = (0..10_000).map(|_| a.next_f64()).collect();
        assert!(xs.iter().all(|&x| (0.0..1.0).contains(&x)));
        assert_eq!(xs[0], b.next_f64());
        let mean = xs.iter().sum::<f64>() / xs.len() as f64;
        assert!((mean - 0.5).abs() < 0.01, "{mean}");
        // Pinned so a change to the generator (and so to every cached result) is noticed.
        assert_eq!(SplitMix64::new(0).next_u64(), 0xe220_a839_7b1d_cdaf);
    }

    #[test]
    fn samples_depend_only_on_their_arguments() {
        assert_eq!(sample.call(1, 10_000), sample.call(1, 10_000));
        assert_ne!(sample.call(1, 10_000), sample.call(2, 10_000));
        assert_eq!(
            sample.call(5, 0),
            Tally {
                inside: 0,
                thrown: 0
            }
        );
    }

    #[test]
    fn the_estimate_is_close_to_pi() {
        let tallies: Vec<Tally> = (0..4)
            .map(|i| sample.call(task_seed(1, i), 50_000))
            .collect();
        let e = estimate.call(tallies).expect("darts were thrown");
        assert_eq!(e.thrown, 200_000);
        assert!(
            (e.pi - std::f64::consts::PI).abs() < 5.0 * e.std_error,
            "{e:?}"
        );
        assert!(estimate.call(vec![]).is_err());
    }

    #[test]
    fn the_workflow_fans_out_and_in() {
        let tallies: Vec<Future<Tally>> = (0..3)
            .map(|i| sample.submit(task_seed(9, i), 1_000))
            .collect();
        let e = estimate.submit(&tallies).get().expect("the tasks succeed");
        assert_eq!(e.thrown, 3_000);
        let failed = estimate.submit(Vec::<Tally>::new()).get();
        assert_eq!(
            failed.expect_err("nothing thrown").message(),
            "app `estimate` failed: no darts were thrown"
        );
    }

    #[test]
    fn spread_of_identical_estimates_is_zero() {
        let e = Estimate {
            pi: 3.0,
            std_error: 0.1,
            thrown: 10,
        };
        let s = spread.call(10, vec![e, e, e]);
        assert_eq!((s.replicates, s.mean, s.std_dev), (3, 3.0, 0.0));
    }
}
