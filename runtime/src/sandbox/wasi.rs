//! WASI preview 1 with no ambient authority: no environment, arguments, preopened directories or
//! network; virtual clocks; randomness seeded from the task key (DESIGN §3.2).

use std::convert::Infallible;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use wasmtime_wasi::p1::WasiP1Ctx;
use wasmtime_wasi::p2::pipe::MemoryOutputPipe;
use wasmtime_wasi::{FsPerms, HostMonotonicClock, HostWallClock, WasiCtxBuilder};

use crate::key::TaskKey;

/// How much a task may print on each of stdout and stderr; writing more traps the guest.
pub(crate) const OUTPUT_CAPACITY: usize = 16 << 20;

/// The wall clock every guest sees starts at 2000-01-01T00:00:00Z.
const VIRTUAL_EPOCH: Duration = Duration::from_secs(946_684_800);
/// Each reading of a virtual clock advances it by this much, so elapsed times are positive and
/// the same on every run.
const TICK_NANOS: u64 = 1_000;

/// A clock that advances by a fixed step at every reading, independent of real time.
#[derive(Default)]
struct VirtualClock {
    readings: AtomicU64,
}

impl VirtualClock {
    fn next(&self) -> u64 {
        self.readings
            .fetch_add(1, Ordering::Relaxed)
            .saturating_mul(TICK_NANOS)
    }
}

impl HostWallClock for VirtualClock {
    fn resolution(&self) -> Duration {
        Duration::from_nanos(TICK_NANOS)
    }

    fn now(&self) -> Duration {
        VIRTUAL_EPOCH + Duration::from_nanos(self.next())
    }
}

impl HostMonotonicClock for VirtualClock {
    fn resolution(&self) -> u64 {
        TICK_NANOS
    }

    fn now(&self) -> u64 {
        self.next()
    }
}

/// An endless stream of bytes from blake3's extendable output, keyed by the task key: the same
/// task reads the same "random" bytes on every run and machine, different tasks different ones.
struct KeyedRandom(blake3::OutputReader);

impl KeyedRandom {
    fn new(key: &TaskKey, stream: &str) -> Self {
        let mut hasher = blake3::Hasher::new_derive_key("wf 2026 guest randomness");
        hasher.update(&key.0).update(stream.as_bytes());
        KeyedRandom(hasher.finalize_xof())
    }
}

impl rand_core::TryRng for KeyedRandom {
    type Error = Infallible;

    fn try_next_u32(&mut self) -> Result<u32, Infallible> {
        let mut buf = [0; 4];
        self.0.fill(&mut buf);
        Ok(u32::from_le_bytes(buf))
    }

    fn try_next_u64(&mut self) -> Result<u64, Infallible> {
        let mut buf = [0; 8];
        self.0.fill(&mut buf);
        Ok(u64::from_le_bytes(buf))
    }

    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Infallible> {
        self.0.fill(dst);
        Ok(())
    }
}

/// The captured output of one guest.
pub(crate) struct CapturedOutput {
    pub stdout: MemoryOutputPipe,
    pub stderr: MemoryOutputPipe,
}

impl CapturedOutput {
    pub fn take(self) -> (Vec<u8>, Vec<u8>) {
        (
            self.stdout.contents().to_vec(),
            self.stderr.contents().to_vec(),
        )
    }
}

/// Where a guest's stdout and stderr go.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Stdio {
    /// Captured in memory, for a task's log.
    Capture,
    /// The host's own stdout and stderr: a workflow's output goes to the user's terminal.
    Inherit,
}

/// A host directory a task sees at a fixed guest path.
#[derive(Debug, Clone)]
pub struct Preopen {
    /// The host directory (prepared by the runinfo store).
    pub host: std::path::PathBuf,
    /// Where the guest sees it (`/wf/in`, `/wf/out`).
    pub guest: &'static str,
    /// Whether the guest may create and write files there.
    pub writable: bool,
}

/// A guest's WASI context, built on its first WASI call: most tasks make none (an app that only
/// computes on its arguments), and building one — clocks, two seeded random streams, output
/// pipes — is a good share of what a small task costs. Built late or early, it is the same
/// context: its clocks start at their first reading and its randomness at the start of the
/// streams `seed` gives.
pub(crate) struct LazyWasi {
    seed: TaskKey,
    stdio: Stdio,
    /// Boxed: a context is large, and the state holding this is moved into and out of its store
    /// on every task.
    built: Option<Box<(WasiP1Ctx, Option<CapturedOutput>)>>,
}

impl LazyWasi {
    /// A context for a guest with no host directories, built when first used.
    pub fn new(seed: TaskKey, stdio: Stdio) -> Self {
        LazyWasi {
            seed,
            stdio,
            built: None,
        }
    }

    /// A context with host directories, built now: giving a directory can fail, and that is
    /// reported before the guest starts, not at its first file access.
    pub fn with_preopens(
        seed: TaskKey,
        stdio: Stdio,
        preopens: &[Preopen],
    ) -> Result<Self, String> {
        let built = guest_wasi(&seed, stdio, preopens)?;
        Ok(LazyWasi {
            seed,
            stdio,
            built: Some(Box::new(built)),
        })
    }

    /// The context, built now if the guest had not used WASI yet.
    pub fn ctx(&mut self) -> &mut WasiP1Ctx {
        let (seed, stdio) = (self.seed, self.stdio);
        &mut self
            .built
            .get_or_insert_with(|| {
                Box::new(guest_wasi(&seed, stdio, &[]).unwrap_or_else(|_| {
                    unreachable!("a context without host directories cannot fail to build")
                }))
            })
            .0
    }

    /// Whether the guest used WASI (the context was built).
    #[cfg(test)]
    pub fn is_built(&self) -> bool {
        self.built.is_some()
    }

    /// What the guest wrote to its captured stdout and stderr (empty if it never used WASI or
    /// its output was not captured).
    pub fn into_output(self) -> (Vec<u8>, Vec<u8>) {
        self.built
            .and_then(|built| built.1)
            .map(CapturedOutput::take)
            .unwrap_or_default()
    }
}

/// A WASI context for one guest: nothing ambient, everything that varies derived from `seed`,
/// and only the directories in `preopens`.
fn guest_wasi(
    seed: &TaskKey,
    stdio: Stdio,
    preopens: &[Preopen],
) -> Result<(WasiP1Ctx, Option<CapturedOutput>), String> {
    let mut builder = WasiCtxBuilder::new();
    for preopen in preopens {
        let perms = if preopen.writable {
            FsPerms::ReadWrite
        } else {
            FsPerms::ReadOnly
        };
        builder
            .preopened_dir(&preopen.host, preopen.guest, perms)
            .map_err(|e| format!("could not give the task {}: {e:#}", preopen.guest))?;
    }
    builder
        .wall_clock(VirtualClock::default())
        .monotonic_clock(VirtualClock::default())
        .secure_random(KeyedRandom::new(seed, "secure"))
        .insecure_random(KeyedRandom::new(seed, "insecure"))
        .insecure_random_seed(u128::from_le_bytes(
            seed.0[..16].try_into().expect("16 of 32 bytes"),
        ))
        .allow_tcp(false)
        .allow_udp(false)
        .allow_ip_name_lookup(false);
    let captured = match stdio {
        Stdio::Capture => {
            let out = CapturedOutput {
                stdout: MemoryOutputPipe::new(OUTPUT_CAPACITY),
                stderr: MemoryOutputPipe::new(OUTPUT_CAPACITY),
            };
            builder
                .stdout(out.stdout.clone())
                .stderr(out.stderr.clone());
            Some(out)
        }
        Stdio::Inherit => {
            builder.inherit_stdout().inherit_stderr();
            None
        }
    };
    Ok((builder.build_p1(), captured))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand_core::Rng;

    #[test]
    fn virtual_clock_advances_by_ticks() {
        let clock = VirtualClock::default();
        assert_eq!(HostMonotonicClock::now(&clock), 0);
        assert_eq!(HostMonotonicClock::now(&clock), TICK_NANOS);
        assert_eq!(
            HostWallClock::now(&clock),
            VIRTUAL_EPOCH + Duration::from_nanos(2 * TICK_NANOS)
        );
    }

    #[test]
    fn a_lazy_context_is_built_on_first_use_only() {
        let mut wasi = LazyWasi::new(TaskKey([3; 32]), Stdio::Capture);
        assert!(!wasi.is_built());
        let _ = wasi.ctx();
        assert!(wasi.is_built());
        assert_eq!(wasi.into_output(), (Vec::new(), Vec::new()));
        let unused = LazyWasi::new(TaskKey([3; 32]), Stdio::Capture);
        assert_eq!(unused.into_output(), (Vec::new(), Vec::new()));
    }

    #[test]
    fn keyed_random_depends_on_the_key_only() {
        let a = TaskKey([1; 32]);
        let b = TaskKey([2; 32]);
        let draw = |key: &TaskKey| KeyedRandom::new(key, "secure").next_u64();
        assert_eq!(draw(&a), draw(&a));
        assert_ne!(draw(&a), draw(&b));
    }
}
