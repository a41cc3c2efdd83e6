//! The files of a run: every file a task may be given, by content digest, and where its bytes
//! are (a granted input directory, or the blobs of a checkpoint).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use super::backend::Job;
use crate::key::ValueDigest;
use crate::runinfo::{BlobDir, InputDirs, OutputFile, RunHandle};
use crate::sandbox::Preopen;

/// Where a file's bytes are.
#[derive(Debug, Clone)]
enum Source {
    /// A file of a granted input directory, by the name the workflow used.
    Input(String),
    /// A blob of a checkpoint.
    Blob(BlobDir, u64),
}

/// The files known to a run, shared by the core (which registers them) and the workers (which
/// give them to tasks).
pub(crate) struct FileTable {
    inputs: InputDirs,
    sources: Mutex<HashMap<ValueDigest, Source>>,
    run: Option<Arc<RunHandle>>,
    /// Where output files are stored: the run's checkpoint blobs.
    blobs: Option<BlobDir>,
}

impl FileTable {
    pub fn new(
        inputs: InputDirs,
        run: Option<Arc<RunHandle>>,
        blobs: Option<BlobDir>,
    ) -> FileTable {
        FileTable {
            inputs,
            sources: Mutex::default(),
            run,
            blobs,
        }
    }

    fn sources(&self) -> std::sync::MutexGuard<'_, HashMap<ValueDigest, Source>> {
        self.sources
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Reads input file `name` from the granted directories and registers it.
    pub fn register_input(&self, name: &str) -> Result<wf_abi::FileRef, String> {
        let bytes = self.inputs.read(name)?;
        let digest = ValueDigest::of(&bytes);
        self.sources()
            .entry(digest)
            .or_insert_with(|| Source::Input(name.to_owned()));
        Ok(wf_abi::FileRef {
            digest: digest.0,
            len: bytes.len() as u64,
        })
    }

    /// Registers files stored as blobs of `blobs` (a task's outputs, executed or reused).
    pub fn register_outputs(&self, outputs: &[OutputFile], blobs: &BlobDir) {
        if outputs.is_empty() {
            return;
        }
        let mut sources = self.sources();
        for output in outputs {
            sources
                .entry(output.digest)
                .or_insert_with(|| Source::Blob(blobs.clone(), output.len));
        }
    }

    /// Whether `digest` is a file of this run.
    pub fn knows(&self, digest: &ValueDigest) -> bool {
        self.sources().contains_key(digest)
    }

    /// The bytes of a registered file, checked against its digest.
    pub fn bytes(&self, digest: &ValueDigest) -> Result<Vec<u8>, String> {
        let source = self.sources().get(digest).cloned();
        let bytes = match source {
            Some(Source::Input(name)) => self.inputs.read(&name)?,
            Some(Source::Blob(blobs, len)) => blobs.get(digest, len).map_err(|e| e.to_string())?,
            None => return Err(format!("file {digest} is not a file of this run")),
        };
        if ValueDigest::of(&bytes) != *digest {
            return Err(format!("file {digest} changed since the workflow named it"));
        }
        Ok(bytes)
    }

    /// Prepares the directories of a task that takes or makes files.
    pub fn prepare(&self, job: &Job) -> Result<Vec<Preopen>, String> {
        let Some(run) = &self.run else {
            return Err("apps that take or make files need a runinfo directory".to_owned());
        };
        let dirs = run.task_file_dirs(&job.key).map_err(|e| e.to_string())?;
        for digest in job.files.iter() {
            dirs.place(digest, &self.bytes(digest)?)
                .map_err(|e| e.to_string())?;
        }
        Ok(vec![
            Preopen {
                host: dirs.input.clone(),
                guest: wf_abi::GUEST_INPUT_DIR,
                writable: false,
            },
            Preopen {
                host: dirs.output.clone(),
                guest: wf_abi::GUEST_OUTPUT_DIR,
                writable: true,
            },
        ])
    }

    /// Stores what a task wrote to its output directory.
    pub fn collect(&self, job: &Job) -> Result<Vec<OutputFile>, String> {
        let (Some(run), Some(blobs)) = (&self.run, &self.blobs) else {
            return Ok(Vec::new());
        };
        let dirs = run
            .existing_task_file_dirs(&job.key)
            .map_err(|e| e.to_string())?;
        let outputs = dirs.collect_outputs(blobs).map_err(|e| e.to_string())?;
        self.register_outputs(&outputs, blobs);
        Ok(outputs)
    }

    /// Copies file `digest` into `to` (the blobs of another process's exchange); answers its
    /// length.
    pub fn export(&self, digest: &ValueDigest, to: &BlobDir) -> Result<u64, String> {
        let bytes = self.bytes(digest)?;
        to.put(&bytes).map_err(|e| e.to_string())?;
        Ok(bytes.len() as u64)
    }

    /// Copies files a task wrote elsewhere (into `from`) into the run's blobs and registers them.
    pub fn import_outputs(&self, outputs: &[OutputFile], from: &BlobDir) -> Result<(), String> {
        let Some(blobs) = &self.blobs else {
            return Err("apps that take or make files need a runinfo directory".to_owned());
        };
        for output in outputs {
            let bytes = from
                .get(&output.digest, output.len)
                .map_err(|e| e.to_string())?;
            blobs.put(&bytes).map_err(|e| e.to_string())?;
        }
        self.register_outputs(outputs, blobs);
        Ok(())
    }
}
