//! What the head and the workers write to each other through the exchange store (postcard).

use std::time::Duration;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::key::ValueDigest;
use crate::runinfo::OutputFile;
use crate::sandbox::{Limits, TaskFailure};

/// The engine settings every worker of a run must use (they decide compiled code and limits).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct WorkerSettings {
    pub fuel: Option<u64>,
    pub timeout_ms: Option<u64>,
    pub memory_bytes: u64,
}

impl WorkerSettings {
    pub fn of(limits: &Limits) -> WorkerSettings {
        WorkerSettings {
            fuel: limits.fuel,
            timeout_ms: limits.timeout.map(|t| t.as_millis() as u64),
            memory_bytes: limits.memory_bytes,
        }
    }

    pub fn limits(&self) -> Limits {
        Limits {
            fuel: self.fuel,
            timeout: self.timeout_ms.map(Duration::from_millis),
            memory_bytes: self.memory_bytes,
        }
    }
}

/// One task of a chunk.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct WireTask {
    pub module: [u8; 32],
    pub app: String,
    pub key: [u8; 32],
    pub args: Vec<Vec<u8>>,
    pub uses_files: bool,
    /// The files it may read: digest and length of each blob in the exchange.
    pub files: Vec<([u8; 32], u64)>,
}

/// A file a task wrote, stored in the exchange's blobs.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct WireOutput {
    pub name: String,
    pub digest: [u8; 32],
    pub len: u64,
}

impl From<&OutputFile> for WireOutput {
    fn from(file: &OutputFile) -> Self {
        WireOutput {
            name: file.name.clone(),
            digest: file.digest.0,
            len: file.len,
        }
    }
}

impl From<WireOutput> for OutputFile {
    fn from(file: WireOutput) -> Self {
        OutputFile {
            name: file.name,
            digest: ValueDigest(file.digest),
            len: file.len,
        }
    }
}

/// What came of one task.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct WireResult {
    pub outcome: Result<Vec<u8>, TaskFailure>,
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
    pub fuel_used: Option<u64>,
    pub started_unix_ms: u64,
    pub elapsed_us: u64,
    pub outputs: Vec<WireOutput>,
}

/// The completion record of a chunk: written after all its results.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct WireDone {
    /// How many results the chunk has.
    pub tasks: u32,
}

pub(crate) fn encode<T: Serialize>(value: &T) -> Vec<u8> {
    // Encoding plain data into a Vec cannot fail.
    postcard::to_allocvec(value).unwrap_or_default()
}

pub(crate) fn decode<T: DeserializeOwned>(bytes: &[u8], what: &str) -> Result<T, String> {
    postcard::from_bytes(bytes).map_err(|e| format!("{what} does not decode: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sandbox::FailureKind;

    #[test]
    fn results_round_trip() {
        let result = WireResult {
            outcome: Err(TaskFailure::new(FailureKind::AppError, "no")),
            stdout: b"out".to_vec(),
            stderr: Vec::new(),
            fuel_used: Some(3),
            started_unix_ms: 1,
            elapsed_us: 2,
            outputs: vec![WireOutput {
                name: "a.txt".into(),
                digest: [7; 32],
                len: 5,
            }],
        };
        let back: WireResult = decode(&encode(&result), "a result").expect("decodes");
        assert_eq!(back.outcome, result.outcome);
        assert_eq!(back.outputs[0].name, "a.txt");
        assert!(decode::<WireResult>(&[0xff, 0xff], "a result").is_err());
    }

    #[test]
    fn settings_carry_the_limits() {
        let limits = Limits {
            fuel: Some(10),
            timeout: Some(Duration::from_millis(1500)),
            memory_bytes: 1 << 20,
        };
        assert_eq!(WorkerSettings::of(&limits).limits(), limits);
    }
}
