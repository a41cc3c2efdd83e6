//! `wfrun build`: compiles a guest crate to wasm32-wasip1 with cargo, reproducibly.
//!
//! Reproducible means the same source gives byte-identical modules wherever it is checked out:
//! every absolute path that could reach the binary (the workspace, cargo's registry, the target
//! directory, where build scripts write) is remapped to a fixed prefix.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// The target guests are built for.
pub const GUEST_TARGET: &str = "wasm32-wasip1";

/// Why a guest crate could not be built.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BuildError {
    /// There is no `Cargo.toml` where the crate was expected.
    #[error("no Cargo.toml in {0}: give the directory of a guest crate")]
    NoManifest(PathBuf),
    /// A tool could not be started.
    #[error("could not run `{tool}`: {source}")]
    Spawn {
        /// The tool (`cargo`, `rustup`).
        tool: String,
        /// Why.
        source: std::io::Error,
    },
    /// The wasm target is missing and could not be installed.
    #[error(
        "the {GUEST_TARGET} target is not installed and `rustup target add {GUEST_TARGET}` failed"
    )]
    TargetInstall,
    /// `cargo metadata` failed or said something unexpected.
    #[error("`cargo metadata` failed for {manifest}: {detail}")]
    Metadata {
        /// The manifest.
        manifest: PathBuf,
        /// What went wrong.
        detail: String,
    },
    /// cargo reported a compile error (its diagnostics were shown on stderr).
    #[error("cargo build failed for {0} (see the errors above)")]
    Cargo(PathBuf),
    /// The build produced no module.
    #[error(
        "building {0} produced no .wasm module: is it a library with crate-type = [\"cdylib\"]?"
    )]
    NoModule(PathBuf),
}

/// What to build and where.
#[derive(Debug, Clone, Default)]
pub struct BuildOptions {
    /// The cargo target directory (default: the workspace's `target/`).
    pub target_dir: Option<PathBuf>,
    /// Tell cargo to be quiet (diagnostics are still shown).
    pub quiet: bool,
}

/// Builds the guest crate in `crate_dir` in release mode for wasm32-wasip1 and returns the paths
/// of the modules it produced. Installs the target with rustup when it is missing (saying so on
/// stderr).
pub fn build_guest(crate_dir: &Path, options: &BuildOptions) -> Result<Vec<PathBuf>, BuildError> {
    let manifest = crate_dir.join("Cargo.toml");
    if !manifest.is_file() {
        return Err(BuildError::NoManifest(crate_dir.to_path_buf()));
    }
    ensure_target_installed()?;
    let metadata = cargo_metadata(&manifest)?;
    let target_dir = options
        .target_dir
        .clone()
        .unwrap_or_else(|| metadata.target_dir.clone());

    let mut remaps = vec![format!(
        "--remap-path-prefix={}=/wf",
        metadata.workspace_root.display()
    )];
    if let Some(cargo_home) = cargo_home() {
        remaps.push(format!(
            "--remap-path-prefix={}=/cargo",
            cargo_home.display()
        ));
    }
    // Last, so it wins over the workspace prefix when the target directory lies inside it.
    let absolute_target = std::path::absolute(&target_dir).unwrap_or(target_dir.clone());
    remaps.push(format!(
        "--remap-path-prefix={}=/target",
        absolute_target.display()
    ));

    let mut cargo = Command::new(cargo_bin());
    cargo
        .args([
            "build",
            "--release",
            "--target",
            GUEST_TARGET,
            "--message-format=json-render-diagnostics",
        ])
        .arg("--manifest-path")
        .arg(&manifest)
        .arg("--target-dir")
        .arg(&target_dir)
        .env("CARGO_ENCODED_RUSTFLAGS", remaps.join("\u{1f}"))
        .env_remove("RUSTFLAGS")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    if options.quiet {
        cargo.arg("--quiet");
    }
    let mut child = cargo.spawn().map_err(|source| BuildError::Spawn {
        tool: "cargo".into(),
        source,
    })?;
    let mut modules = Vec::new();
    if let Some(stdout) = child.stdout.take() {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            modules.extend(wasm_artifacts(&line));
        }
    }
    let status = child.wait().map_err(|source| BuildError::Spawn {
        tool: "cargo".into(),
        source,
    })?;
    if !status.success() {
        return Err(BuildError::Cargo(crate_dir.to_path_buf()));
    }
    // Only the crate asked for, not dependencies that happen to be cdylibs too.
    let wanted: Vec<PathBuf> = modules
        .iter()
        .filter(|(id_manifest, _)| *id_manifest == metadata.package_manifest)
        .map(|(_, p)| p.clone())
        .collect();
    let modules = if wanted.is_empty() {
        modules.into_iter().map(|(_, p)| p).collect()
    } else {
        wanted
    };
    if modules.is_empty() {
        return Err(BuildError::NoModule(crate_dir.to_path_buf()));
    }
    Ok(modules)
}

fn cargo_bin() -> String {
    std::env::var("CARGO").unwrap_or_else(|_| "cargo".into())
}

fn cargo_home() -> Option<PathBuf> {
    std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".cargo")))
        .and_then(|p| std::fs::canonicalize(p).ok())
}

/// (the manifest of the package that made it, the module's path) for each `.wasm` a cargo JSON
/// message announces.
fn wasm_artifacts(line: &str) -> Vec<(PathBuf, PathBuf)> {
    let Ok(message) = serde_json::from_str::<serde_json::Value>(line) else {
        return Vec::new();
    };
    if message["reason"] != "compiler-artifact" {
        return Vec::new();
    }
    let manifest = message["manifest_path"]
        .as_str()
        .map(PathBuf::from)
        .unwrap_or_default();
    message["filenames"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|f| f.as_str())
        .filter(|f| f.ends_with(".wasm"))
        .map(|f| (manifest.clone(), PathBuf::from(f)))
        .collect()
}

struct Metadata {
    workspace_root: PathBuf,
    target_dir: PathBuf,
    package_manifest: PathBuf,
}

fn cargo_metadata(manifest: &Path) -> Result<Metadata, BuildError> {
    let output = Command::new(cargo_bin())
        .args([
            "metadata",
            "--format-version=1",
            "--no-deps",
            "--manifest-path",
        ])
        .arg(manifest)
        .output()
        .map_err(|source| BuildError::Spawn {
            tool: "cargo".into(),
            source,
        })?;
    let fail = |detail: String| BuildError::Metadata {
        manifest: manifest.to_path_buf(),
        detail,
    };
    if !output.status.success() {
        return Err(fail(
            String::from_utf8_lossy(&output.stderr).trim().to_owned(),
        ));
    }
    let value: serde_json::Value =
        serde_json::from_slice(&output.stdout).map_err(|e| fail(e.to_string()))?;
    let path = |key: &str| {
        value[key]
            .as_str()
            .map(PathBuf::from)
            .ok_or_else(|| fail(format!("no `{key}` in its output")))
    };
    let canonical = std::fs::canonicalize(manifest).unwrap_or_else(|_| manifest.to_path_buf());
    Ok(Metadata {
        workspace_root: path("workspace_root")?,
        target_dir: path("target_directory")?,
        package_manifest: canonical,
    })
}

fn ensure_target_installed() -> Result<(), BuildError> {
    let sysroot_has_target = Command::new("rustc")
        .args(["--print", "target-libdir", "--target", GUEST_TARGET])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| PathBuf::from(String::from_utf8_lossy(&o.stdout).trim()).is_dir())
        .unwrap_or(false);
    if sysroot_has_target {
        return Ok(());
    }
    eprintln!(
        "wfrun: the {GUEST_TARGET} target is missing; installing it with `rustup target add {GUEST_TARGET}`"
    );
    let status = Command::new("rustup")
        .args(["target", "add", GUEST_TARGET])
        .status()
        .map_err(|source| BuildError::Spawn {
            tool: "rustup".into(),
            source,
        })?;
    if status.success() {
        Ok(())
    } else {
        Err(BuildError::TargetInstall)
    }
}
