//! The checkpoint record: what is remembered about one finished task.
//!
//! Two shapes of the same wire type: [`CheckpointRecord`] owns its data and is what the engine
//! writes; [`RecordRef`] borrows from the bytes of a loaded log and is what a load yields, so a
//! million records cost no allocation each. Field order is the wire order (postcard); changing it
//! or any variant order means a new [`FORMAT_VERSION`](super::format::FORMAT_VERSION).

use serde::{Deserialize, Serialize, Serializer};

use crate::key::{ModuleDigest, TaskKey, ValueDigest};

/// One finished task, as appended to the checkpoint log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CheckpointRecord {
    /// The task's memo key.
    pub key: TaskKey,
    /// The app's name.
    pub app: String,
    /// The module the app lives in.
    pub module: ModuleDigest,
    /// How the task ended.
    pub outcome: Outcome,
    /// Files the task produced, stored as blobs next to the log.
    pub outputs: Vec<OutputFile>,
    /// When the (last) attempt started, in milliseconds since the Unix epoch. For humans only:
    /// nothing decides on it.
    pub started_unix_ms: u64,
    /// How long the last attempt ran, in microseconds.
    pub duration_us: u64,
    /// How many attempts were made (1 when it succeeded at once).
    pub attempts: u32,
    /// What went into the key besides the module and the app, kept so that `wfrun explain` can
    /// say which component changed and `wfrun verify` can re-derive the key and re-execute the
    /// task. Encoded as one nested byte string, so a load skips it without decoding it.
    #[serde(serialize_with = "nested")]
    pub inputs: TaskInputs,
}

/// The inputs of a recorded task (format 2).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct TaskInputs {
    /// Each argument's postcard bytes: inline when small, a blob beside the log otherwise.
    pub args: Vec<Payload>,
    /// The files the task was given to read, by content digest.
    pub files: Vec<ValueDigest>,
    /// The fuel limit it ran under (part of the key).
    pub fuel: Option<u64>,
    /// The user's cache salt (part of the key).
    pub salt: String,
}

/// How a recorded task ended. Only deterministic outcomes are ever recorded: infrastructure
/// failures (I/O, timeouts, cancellation, host OOM) never reach a checkpoint (DESIGN §3.6).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum Outcome {
    /// The task returned a result.
    Ok(Payload),
    /// The guest failed deterministically (recorded only with `cache_failures`).
    Failed {
        /// How it failed.
        kind: GuestFailure,
        /// The message kept with the failure.
        message: String,
    },
}

/// A result's bytes, inline in the record or in a content-addressed blob beside the log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum Payload {
    /// Small results (up to [`INLINE_LIMIT`](super::blobs::INLINE_LIMIT)) live in the record.
    Inline(#[serde(serialize_with = "as_bytes")] Vec<u8>),
    /// Larger ones live in `blobs/<digest hex>` and are written before the record.
    Blob {
        /// blake3 of the bytes, which is also the blob's file name.
        digest: ValueDigest,
        /// The number of bytes.
        len: u64,
    },
}

/// A deterministic guest failure, as recorded. The same task fails the same way on every run and
/// machine, which is what makes recording it sound.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum GuestFailure {
    /// The app returned `Err`.
    AppError,
    /// The app panicked.
    Panic,
    /// The guest trapped.
    Trap,
    /// The task used up its fuel limit.
    FuelExhausted,
    /// The task tried to grow its memory past the memory ceiling. (Kept for the format; no longer
    /// recorded: the ceiling is not part of the key.)
    MemoryLimit,
    /// An argument did not decode as its parameter's type.
    BadInput,
}

/// A file a task produced, stored by content in the checkpoint's blobs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OutputFile {
    /// Its name relative to the task's output directory: `/`-separated normal components only.
    pub name: String,
    /// blake3 of its content, which is also its blob's name.
    pub digest: ValueDigest,
    /// Its length in bytes.
    pub len: u64,
}

fn nested<S: Serializer>(inputs: &TaskInputs, serializer: S) -> Result<S::Ok, S::Error> {
    let bytes = postcard::to_allocvec(inputs).map_err(serde::ser::Error::custom)?;
    serializer.serialize_bytes(&bytes)
}

fn as_bytes<S: Serializer>(bytes: &[u8], serializer: S) -> Result<S::Ok, S::Error> {
    // postcard writes a byte string and a `Vec<u8>` sequence identically (varint length, raw
    // bytes); `serialize_bytes` just does it in one copy, and lets [`PayloadRef`] borrow it back.
    serializer.serialize_bytes(bytes)
}

/// A record borrowed from the bytes of a loaded checkpoint log.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct RecordRef<'a> {
    /// The task's memo key.
    pub key: TaskKey,
    /// The app's name.
    pub app: &'a str,
    /// The module the app lives in.
    pub module: ModuleDigest,
    /// How the task ended.
    #[serde(borrow)]
    pub outcome: OutcomeRef<'a>,
    /// Files the task produced.
    #[serde(borrow)]
    pub outputs: Vec<OutputFileRef<'a>>,
    /// When the last attempt started, in milliseconds since the Unix epoch.
    pub started_unix_ms: u64,
    /// How long the last attempt ran, in microseconds.
    pub duration_us: u64,
    /// How many attempts were made.
    pub attempts: u32,
    /// The encoded [`TaskInputs`]; [`RecordRef::inputs`] decodes them.
    pub inputs: &'a [u8],
}

/// Borrowed [`TaskInputs`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct TaskInputsRef<'a> {
    /// Each argument's bytes, inline or in a blob.
    #[serde(borrow)]
    pub args: Vec<PayloadRef<'a>>,
    /// The files the task was given, by digest.
    pub files: Vec<ValueDigest>,
    /// The fuel limit it ran under.
    pub fuel: Option<u64>,
    /// The user's cache salt.
    pub salt: &'a str,
}

/// A borrowed [`Outcome`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub enum OutcomeRef<'a> {
    /// The task returned a result.
    Ok(#[serde(borrow)] PayloadRef<'a>),
    /// The guest failed deterministically.
    Failed {
        /// How it failed.
        kind: GuestFailure,
        /// The message kept with the failure.
        message: &'a str,
    },
}

/// A borrowed [`Payload`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub enum PayloadRef<'a> {
    /// The result's bytes.
    Inline(&'a [u8]),
    /// The result lives in a blob.
    Blob {
        /// blake3 of the bytes.
        digest: ValueDigest,
        /// The number of bytes.
        len: u64,
    },
}

/// A borrowed [`OutputFile`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub struct OutputFileRef<'a> {
    /// Its name relative to the task's output directory.
    pub name: &'a str,
    /// blake3 of its content.
    pub digest: ValueDigest,
    /// Its length in bytes.
    pub len: u64,
}

impl CheckpointRecord {
    /// A borrowed view of this record, the same shape a load yields, except that its encoded
    /// inputs are left empty (they are not kept encoded; nothing that looks results up needs
    /// them).
    pub fn as_record_ref(&self) -> RecordRef<'_> {
        RecordRef {
            key: self.key,
            app: &self.app,
            module: self.module,
            outcome: match &self.outcome {
                Outcome::Ok(Payload::Inline(bytes)) => OutcomeRef::Ok(PayloadRef::Inline(bytes)),
                Outcome::Ok(Payload::Blob { digest, len }) => OutcomeRef::Ok(PayloadRef::Blob {
                    digest: *digest,
                    len: *len,
                }),
                Outcome::Failed { kind, message } => OutcomeRef::Failed {
                    kind: *kind,
                    message,
                },
            },
            outputs: self
                .outputs
                .iter()
                .map(|o| OutputFileRef {
                    name: &o.name,
                    digest: o.digest,
                    len: o.len,
                })
                .collect(),
            started_unix_ms: self.started_unix_ms,
            duration_us: self.duration_us,
            attempts: self.attempts,
            inputs: &[],
        }
    }
}

impl<'a> RecordRef<'a> {
    /// Decodes the task's inputs. A record whose checksum matched but whose inputs do not decode
    /// was written by a broken writer; the caller reports it.
    pub fn inputs(&self) -> Result<TaskInputsRef<'a>, postcard::Error> {
        postcard::from_bytes(self.inputs)
    }

    /// An owned copy.
    pub fn to_record(&self) -> CheckpointRecord {
        CheckpointRecord {
            key: self.key,
            app: self.app.to_owned(),
            module: self.module,
            outcome: match self.outcome {
                OutcomeRef::Ok(PayloadRef::Inline(bytes)) => {
                    Outcome::Ok(Payload::Inline(bytes.to_vec()))
                }
                OutcomeRef::Ok(PayloadRef::Blob { digest, len }) => {
                    Outcome::Ok(Payload::Blob { digest, len })
                }
                OutcomeRef::Failed { kind, message } => Outcome::Failed {
                    kind,
                    message: message.to_owned(),
                },
            },
            outputs: self
                .outputs
                .iter()
                .map(|o| OutputFile {
                    name: o.name.to_owned(),
                    digest: o.digest,
                    len: o.len,
                })
                .collect(),
            started_unix_ms: self.started_unix_ms,
            duration_us: self.duration_us,
            attempts: self.attempts,
            inputs: self.inputs().map(|i| i.to_owned()).unwrap_or_default(),
        }
    }

    /// The output files, owned.
    pub fn output_files(&self) -> Vec<OutputFile> {
        self.outputs
            .iter()
            .map(|o| OutputFile {
                name: o.name.to_owned(),
                digest: o.digest,
                len: o.len,
            })
            .collect()
    }

    /// The first output file whose name would escape its directory, if any.
    pub(crate) fn invalid_output_name(&self) -> Option<&str> {
        self.outputs
            .iter()
            .map(|o| o.name)
            .find(|name| !is_valid_output_name(name))
    }
}

impl TaskInputsRef<'_> {
    /// An owned copy.
    pub fn to_owned(&self) -> TaskInputs {
        TaskInputs {
            args: self.args.iter().map(PayloadRef::to_payload).collect(),
            files: self.files.clone(),
            fuel: self.fuel,
            salt: self.salt.to_owned(),
        }
    }
}

impl PayloadRef<'_> {
    /// An owned copy.
    pub fn to_payload(&self) -> Payload {
        match *self {
            PayloadRef::Inline(bytes) => Payload::Inline(bytes.to_vec()),
            PayloadRef::Blob { digest, len } => Payload::Blob { digest, len },
        }
    }

    /// The digest of the bytes this stands for (computed for inline bytes).
    pub fn digest(&self) -> ValueDigest {
        match *self {
            PayloadRef::Inline(bytes) => ValueDigest::of(bytes),
            PayloadRef::Blob { digest, .. } => digest,
        }
    }
}

/// Whether `name` is a relative path of normal components: no `..`, `.`, empty component,
/// leading `/`, backslash or NUL, so that joining it under a directory stays inside it on every
/// platform.
pub(crate) fn is_valid_output_name(name: &str) -> bool {
    !name.is_empty()
        && !name.contains(['\\', '\0', ':'])
        && name
            .split('/')
            .all(|part| !part.is_empty() && part != "." && part != "..")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn output_names_stay_inside() {
        for good in ["out.txt", "plots/a.png", "a/b/c", "..a", "a..", ".hidden"] {
            assert!(is_valid_output_name(good), "{good}");
        }
        for bad in [
            "",
            "..",
            ".",
            "../x",
            "a/../b",
            "/etc/passwd",
            "a//b",
            "a/",
            "a\\b",
            "c:x",
            "a\0",
        ] {
            assert!(!is_valid_output_name(bad), "{bad:?}");
        }
    }
}
