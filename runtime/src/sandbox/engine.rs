//! The one wasmtime engine of a process, configured for determinism and fast instantiation, and
//! the settings that decide it.

use std::fmt::Write as _;
use std::hash::{Hash, Hasher};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use wasmtime::{
    Config, Enabled, Engine, InstanceAllocationStrategy, Linker, PoolingAllocationConfig,
};

use super::failure::LimitsInForce;
use super::host::{TaskState, add_host_functions};

/// The wasmtime release this engine is built on; part of the compiled-artifact key.
const WASMTIME_RELEASE: &str = "48.0.8";

/// How often the epoch advances when a timeout is in force.
pub(crate) const EPOCH_TICK: Duration = Duration::from_millis(10);

/// Per-task limits (DESIGN §6).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Limits {
    /// Fuel per task (deterministic; part of the task key). `None`: unmetered.
    pub fuel: Option<u64>,
    /// Wall-clock timeout per task (never memoized). `None`: no timeout.
    pub timeout: Option<Duration>,
    /// The most linear memory a task may use, in bytes.
    pub memory_bytes: u64,
}

impl Limits {
    /// The default memory ceiling: 1 GiB.
    pub const DEFAULT_MEMORY_BYTES: u64 = 1 << 30;

    pub(crate) fn in_force(&self) -> LimitsInForce {
        LimitsInForce {
            fuel: self.fuel,
            timeout: self.timeout,
            memory_bytes: self.memory_bytes,
        }
    }
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            fuel: None,
            timeout: None,
            memory_bytes: Self::DEFAULT_MEMORY_BYTES,
        }
    }
}

/// Settings of the engine. Fuel metering and epoch interruption cost 2–2.6× on tight loops, so
/// they are compiled in only when a run asks for a fuel limit or a timeout (DESIGN §7).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct EngineSettings {
    /// The per-task limits.
    pub limits: Limits,
    /// How many instances may be alive at once: tasks in flight, workflows, and modules being
    /// loaded (loading instantiates a module once to read its apps). Each is a slot of the
    /// pooling allocator that reserves about 4 GiB of address space when the engine starts, so
    /// size it by the work, as [`for_workers`](Self::for_workers) does. When every slot is in
    /// use, a further task or workflow fails at once with an infrastructure failure (never
    /// recorded) that says so; it does not wait.
    pub max_instances: u32,
}

impl EngineSettings {
    /// Slots beyond one per worker: the workflow instance, a module being loaded while tasks
    /// run, and room for an embedder's second workflow.
    pub const SPARE_INSTANCES: u32 = 4;

    /// Settings for `workers` tasks at once: one slot per worker plus
    /// [`SPARE_INSTANCES`](Self::SPARE_INSTANCES).
    pub fn for_workers(limits: Limits, workers: usize) -> EngineSettings {
        let workers = u32::try_from(workers.max(1)).unwrap_or(u32::MAX);
        EngineSettings {
            limits,
            max_instances: workers.saturating_add(Self::SPARE_INSTANCES),
        }
    }
}

impl Default for EngineSettings {
    /// Default limits and one slot per core (the default worker count) plus the spares.
    fn default() -> Self {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        EngineSettings::for_workers(Limits::default(), cores)
    }
}

/// Identifies everything about the engine that could change compiled code or its behaviour:
/// the compiled-artifact cache is keyed by it, because wasmtime 48 loads artifacts compiled
/// under another NaN-canonicalization setting without complaint (DESIGN §7).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct EngineFingerprint(pub [u8; 32]);

impl EngineFingerprint {
    /// A short lowercase hex form for file names.
    pub fn short_hex(&self) -> String {
        let mut s = String::with_capacity(32);
        for byte in &self.0[..16] {
            let _ = write!(s, "{byte:02x}");
        }
        s
    }
}

/// Feeds `Hash` implementations into blake3.
struct Blake3Hasher(blake3::Hasher);

impl Hasher for Blake3Hasher {
    fn finish(&self) -> u64 {
        let bytes = self.0.finalize();
        u64::from_le_bytes(bytes.as_bytes()[..8].try_into().expect("8 of 32 bytes"))
    }

    fn write(&mut self, bytes: &[u8]) {
        self.0.update(bytes);
    }
}

/// The engine, its linker (WASI and the wf host functions, built once: about 45 µs) and, when a
/// timeout is in force, the thread that advances the epoch.
pub(crate) struct EngineHandle {
    pub engine: Engine,
    pub linker: Linker<TaskState>,
    pub settings: EngineSettings,
    pub fingerprint: EngineFingerprint,
    ticker: Option<(Arc<AtomicBool>, JoinHandle<()>)>,
}

impl EngineHandle {
    pub fn new(settings: EngineSettings) -> wasmtime::Result<Self> {
        let config = engine_config(&settings);
        let engine = Engine::new(&config)?;
        let mut linker = Linker::new(&engine);
        wasmtime_wasi::p1::add_to_linker_sync(&mut linker, |state: &mut TaskState| {
            state.wasi.ctx()
        })?;
        add_host_functions(&mut linker)?;
        let fingerprint = fingerprint(&engine, &settings);
        let ticker = settings
            .limits
            .timeout
            .is_some()
            .then(|| start_ticker(engine.clone()));
        Ok(EngineHandle {
            engine,
            linker,
            settings,
            fingerprint,
            ticker,
        })
    }
}

impl Drop for EngineHandle {
    fn drop(&mut self) {
        if let Some((stop, handle)) = self.ticker.take() {
            stop.store(true, Ordering::Relaxed);
            let _ = handle.join();
        }
    }
}

fn start_ticker(engine: Engine) -> (Arc<AtomicBool>, JoinHandle<()>) {
    let stop = Arc::new(AtomicBool::new(false));
    let stop_seen = stop.clone();
    let handle = std::thread::Builder::new()
        .name("wf-epoch".into())
        .spawn(move || {
            while !stop_seen.load(Ordering::Relaxed) {
                std::thread::sleep(EPOCH_TICK);
                engine.increment_epoch();
            }
        })
        .expect("spawning the epoch thread: the OS refused a thread");
    (stop, handle)
}

/// Every code-affecting choice `engine_config` makes; change it together with that function.
const COMPILED_KNOBS: &str = "nan_canonicalization=on threads=off relaxed_simd=deterministic \
    opt=default stack=default";

fn engine_config(settings: &EngineSettings) -> Config {
    let mut config = Config::new();
    // Determinism (DESIGN §3.2): canonical NaNs and relaxed SIMD pinned down. Threads need no
    // switch: wasmtime is built without its `threads` feature, so shared memories are refused.
    config
        .cranelift_nan_canonicalization(true)
        .wasm_relaxed_simd(true)
        .relaxed_simd_deterministic(true)
        .consume_fuel(settings.limits.fuel.is_some())
        .epoch_interruption(settings.limits.timeout.is_some())
        .parallel_compilation(true);

    // Fast instantiation: a pool of slots with copy-on-write memory images, pages kept resident
    // between tasks and reset with PAGEMAP_SCAN where the kernel has it (DESIGN §6, §7). The
    // pool is sized by the run, not fixed: every slot reserves 4 GiB plus guard pages of address
    // space up front, and under qemu user-mode emulation (scripts/cross-aarch64.sh) the engine's
    // start costs time and memory in proportion to the reservation (256 slots: about 30 s and
    // 6 GiB of resident memory there).
    let mut pool = PoolingAllocationConfig::default();
    let memory = usize::try_from(settings.limits.memory_bytes).unwrap_or(usize::MAX);
    pool.total_core_instances(settings.max_instances)
        .total_memories(settings.max_instances)
        .total_tables(settings.max_instances)
        .total_stacks(settings.max_instances)
        .max_memory_size(memory.min(4 << 30))
        .linear_memory_keep_resident(2 << 20)
        .table_keep_resident(64 << 10)
        .pagemap_scan(Enabled::Auto);
    config.allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
    config
}

fn fingerprint(engine: &Engine, settings: &EngineSettings) -> EngineFingerprint {
    let mut hasher = Blake3Hasher(blake3::Hasher::new_derive_key("wf 2026 engine fingerprint"));
    WASMTIME_RELEASE.hash(&mut hasher);
    std::env::consts::ARCH.hash(&mut hasher);
    engine.precompile_compatibility_hash().hash(&mut hasher);
    // Our own knobs, including those wasmtime does not check when it loads an artifact. (Not
    // `Config`'s Debug form: it prints hash maps, whose order changes from process to process.)
    COMPILED_KNOBS.hash(&mut hasher);
    settings.limits.fuel.is_some().hash(&mut hasher);
    settings.limits.timeout.is_some().hash(&mut hasher);
    EngineFingerprint(*hasher.0.finalize().as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_pool_has_a_slot_per_worker_and_the_spares() {
        let slots = |workers| EngineSettings::for_workers(Limits::default(), workers).max_instances;
        assert_eq!(slots(2), 2 + EngineSettings::SPARE_INSTANCES);
        assert_eq!(slots(0), slots(1), "a run has at least one worker");
        assert_eq!(slots(usize::MAX), u32::MAX);
    }

    #[test]
    fn fingerprint_follows_metering_settings() {
        let plain = EngineHandle::new(EngineSettings::default()).expect("engine");
        let again = EngineHandle::new(EngineSettings::default()).expect("engine");
        assert_eq!(plain.fingerprint, again.fingerprint);
        let fueled = EngineHandle::new(EngineSettings {
            limits: Limits {
                fuel: Some(1000),
                ..Limits::default()
            },
            ..EngineSettings::default()
        })
        .expect("engine");
        assert_ne!(plain.fingerprint, fueled.fingerprint);
        // The amount of fuel is not compiled in: only whether metering is on.
        let more_fuel = EngineHandle::new(EngineSettings {
            limits: Limits {
                fuel: Some(2000),
                ..Limits::default()
            },
            ..EngineSettings::default()
        })
        .expect("engine");
        assert_eq!(fueled.fingerprint, more_fuel.fingerprint);
    }
}
