//! What can go wrong in `runinfo/`: the errors of its operations and the warnings of a load.

use std::io;
use std::path::PathBuf;

use crate::key::{ModuleDigest, TaskKey, ValueDigest};

/// An error of the run directory: runs, the checkpoint log, blobs and summaries.
///
/// The variants fall into three groups, by what the caller can do about them:
/// infrastructure failures (I/O; retry or stop, never memoize), damaged or foreign data on disk
/// (report it and go on without that data, e.g. recompute the task), and bad input from the
/// caller (fix the call).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    // --- Infrastructure ---
    /// An I/O operation on `path` failed.
    #[error("cannot {op} {}: {source}", path.display())]
    Io {
        /// What was being done, e.g. "read" or "create directory".
        op: &'static str,
        /// The file or directory, as the user would name it.
        path: PathBuf,
        /// The operating system's error.
        #[source]
        source: io::Error,
    },
    /// A write to the checkpoint log failed and its file could not be cut back to the last whole
    /// record, so the writer refuses to append after what may be a partial record.
    #[error("{}: an earlier write failed and left the log in an unknown state", path.display())]
    WriterPoisoned {
        /// The log file.
        path: PathBuf,
    },
    /// Every run id has been used.
    #[error("{}: no run id is left", path.display())]
    RunIdsExhausted {
        /// The runinfo root.
        path: PathBuf,
    },

    // --- Damaged or foreign data on disk ---
    /// The file does not start with the checkpoint magic: it is not a wf checkpoint log.
    #[error("{}: not a wf checkpoint log (bad magic at offset 0)", path.display())]
    BadMagic {
        /// The log file.
        path: PathBuf,
    },
    /// The header's checksum does not match: the header is damaged.
    #[error("{}: damaged checkpoint header (checksum mismatch at offset 0)", path.display())]
    DamagedHeader {
        /// The log file.
        path: PathBuf,
    },
    /// The log was written in a format version this build cannot read.
    #[error(
        "{}: checkpoint format version {found} is not supported (this build reads version {supported})",
        path.display()
    )]
    UnsupportedVersion {
        /// The log file.
        path: PathBuf,
        /// The version in the file's header.
        found: u32,
        /// The version this build reads and writes.
        supported: u32,
    },
    /// A record points at a blob that is not there.
    #[error("blob {} is missing", path.display())]
    BlobMissing {
        /// Where the blob should be.
        path: PathBuf,
        /// Its digest.
        digest: ValueDigest,
    },
    /// A checkpoint does not keep the module its records name.
    #[error("module {digest} is not kept in the checkpoint (expected at {})", path.display())]
    ModuleMissing {
        /// Where the module should be.
        path: PathBuf,
        /// Its digest.
        digest: ModuleDigest,
    },
    /// A kept module's content does not have the digest its name says.
    #[error("module {} is damaged: its content does not have digest {expected}", path.display())]
    ModuleDamaged {
        /// The module's file.
        path: PathBuf,
        /// The digest its name says.
        expected: ModuleDigest,
    },
    /// A blob's content does not match the digest or length its record names.
    #[error(
        "blob {} is damaged: expected {expected_len} bytes with digest {expected}, found {found_len} bytes{}",
        path.display(),
        found.map(|d| format!(" with digest {d}")).unwrap_or_default()
    )]
    BlobDamaged {
        /// The blob file.
        path: PathBuf,
        /// The digest the record names.
        expected: ValueDigest,
        /// The length the record names.
        expected_len: u64,
        /// The digest of the content found (not computed when the length already differs).
        found: Option<ValueDigest>,
        /// The length of the content found.
        found_len: u64,
    },
    /// A run summary is not valid JSON for the requested type.
    #[error("{}: bad run summary: {source}", path.display())]
    BadSummary {
        /// The summary file.
        path: PathBuf,
        /// What the JSON parser said.
        #[source]
        source: serde_json::Error,
    },

    // --- Bad input from the caller ---
    /// A name that would not stay inside its directory, or is not of the expected shape.
    #[error("`{name}` is not a valid {what}")]
    InvalidName {
        /// The name as given.
        name: String,
        /// What it was meant to name, e.g. "output file name".
        what: &'static str,
    },
    /// A record is larger than the format allows; large results belong in blobs.
    #[error(
        "{}: the record of task {key} is {len} bytes, over the {max}-byte limit",
        path.display()
    )]
    RecordTooLarge {
        /// The log file.
        path: PathBuf,
        /// The task.
        key: TaskKey,
        /// The encoded length.
        len: usize,
        /// The largest allowed.
        max: usize,
    },
}

impl StoreError {
    pub(crate) fn io(op: &'static str, path: impl Into<PathBuf>) -> impl FnOnce(io::Error) -> Self {
        let path = path.into();
        move |source| StoreError::Io { op, path, source }
    }
}

/// Something wrong found while loading a checkpoint log that did not stop the load.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}: offset {offset}: {problem} ({skipped} bytes skipped)", file.display())]
pub struct LoadWarning {
    /// The log file.
    pub file: PathBuf,
    /// Where the problem starts, in bytes from the start of the file.
    pub offset: u64,
    /// How many bytes were skipped before the next whole record (or the end of the file).
    pub skipped: u64,
    /// What is wrong there.
    pub problem: LoadProblem,
}

impl LoadWarning {
    /// Whether this is the expected aftermath of a crash (a half-written last record) rather than
    /// damage to records that had been written whole.
    pub fn is_torn_tail(&self) -> bool {
        self.problem == LoadProblem::TornTail
    }
}

/// What is wrong with the bytes at a [`LoadWarning`]'s offset.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum LoadProblem {
    /// The file ends inside a record (or inside the header, or in zero bytes): the writer stopped
    /// mid-write. Only records that were never synced are lost.
    #[error("torn tail: the file ends inside a record")]
    TornTail,
    /// No record starts here (the sync marker is missing).
    #[error("no record starts here (sync marker missing)")]
    MissingSyncMarker,
    /// The record's length field is impossible.
    #[error("bad record length {len}{}", if *past_end { " (runs past the end of the file)" } else { " (over the maximum)" })]
    BadLength {
        /// The length the record claims.
        len: u64,
        /// Whether the claimed length runs past the end of the file (rather than over the limit).
        past_end: bool,
    },
    /// The record's checksum does not match its bytes.
    #[error("checksum mismatch: stored {stored:08x}, computed {computed:08x}")]
    BadChecksum {
        /// The checksum in the record.
        stored: u32,
        /// The checksum of the bytes found.
        computed: u32,
    },
    /// The checksum matches but the payload is not a record of this format version.
    #[error("undecodable record: {reason}")]
    Undecodable {
        /// What the decoder said.
        reason: postcard::Error,
    },
    /// The payload decoded but names an output file that would escape its directory.
    #[error("record names an invalid output file `{name}`")]
    InvalidOutputName {
        /// The name found.
        name: String,
    },
}
