//! Group commit: finished tasks' records are appended and fsynced by one thread, in batches, and
//! only then are the tasks resolved (DESIGN §3.3: completed ⇒ durable in `task_exit` mode).

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Weak};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender};

use super::core::Shared;
use crate::key::ModuleDigest;
use crate::runinfo::{CheckpointRecord, CheckpointWriter, Outcome};
use crate::sandbox::LoadedModule;
use crate::scheduler::TaskId;

/// The most records one batch commits; more wait for the next fsync.
const MAX_BATCH: usize = 4096;

/// A batch smaller than this waits a little for more records while tasks are still running
/// (they will finish soon): each fsync costs the same whatever it carries, and on a busy run
/// hundreds of tiny batches cost more CPU than the tasks themselves.
const LINGER_BATCH: usize = 256;

/// The longest a batch waits for more records. It waits at most as long as the last commit
/// took, so a record's latency stays within about twice an fsync.
const MAX_LINGER: Duration = Duration::from_millis(1);

/// A finished task whose record must be durable before it resolves.
pub(crate) struct Pending {
    pub task: TaskId,
    pub result: Vec<u8>,
    /// The task's arguments, kept with its record (inline or as blobs).
    pub args: Arc<[Vec<u8>]>,
    pub record: CheckpointRecord,
    /// Whether the task resolves only once this record is durable (`task_exit`).
    pub resolve: bool,
}

/// What the committer thread is told.
pub(crate) enum Message {
    Commit(Box<Pending>),
    /// A module whose tasks may be recorded: its bytes go into the checkpoint before the first
    /// record that names it.
    Module(LoadedModule),
    /// Stop after committing everything queued before this message.
    Stop,
}

/// The handle the core keeps.
pub(crate) struct Committer {
    tx: Sender<Message>,
    thread: Option<JoinHandle<()>>,
}

impl Committer {
    /// Starts the thread; it resolves committed tasks in `shared` (held weakly: the committer
    /// must not keep a finished run alive).
    pub fn start(writer: CheckpointWriter, shared: Weak<Shared>) -> Committer {
        let (tx, rx) = crossbeam_channel::unbounded();
        let thread = std::thread::Builder::new()
            .name("wf-commit".into())
            .spawn(move || run(writer, &rx, &shared))
            .expect("spawning the commit thread: the OS refused a thread");
        Committer {
            tx,
            thread: Some(thread),
        }
    }

    /// Makes `module`'s bytes available for the checkpoint (sent before any of its records).
    pub fn keep_module(&self, module: &LoadedModule) {
        let _ = self.tx.send(Message::Module(module.clone()));
    }

    pub fn send(&self, pending: Pending) {
        // The thread lives until `stop`, so this cannot fail before then.
        let _ = self.tx.send(Message::Commit(Box::new(pending)));
    }

    /// Commits what is queued and ends the thread.
    pub fn stop(&mut self) {
        let _ = self.tx.send(Message::Stop);
        if let Some(thread) = self.thread.take() {
            // The commit thread holds the run for a moment while it asks whether tasks are
            // running and while it resolves a batch: if the session was dropped meanwhile, the
            // run — and this handle — end on that thread, which then reads the `Stop` just sent
            // and ends by itself. It must not join itself.
            if thread.thread().id() != std::thread::current().id() {
                let _ = thread.join();
            }
        }
    }
}

impl Drop for Committer {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The modules of a run, and which of them the checkpoint holds already.
#[derive(Default)]
struct Modules {
    known: HashMap<ModuleDigest, LoadedModule>,
    stored: HashSet<ModuleDigest>,
}

impl Modules {
    /// Writes the module a record names into the checkpoint, once, before the record: a
    /// checkpoint holds exactly the modules its records need (`wfrun verify` re-executes them),
    /// and a run that records nothing writes none.
    fn store_for(
        &mut self,
        writer: &CheckpointWriter,
        record: &CheckpointRecord,
    ) -> Result<(), crate::runinfo::StoreError> {
        if self.stored.contains(&record.module) {
            return Ok(());
        }
        if let Some(module) = self.known.get(&record.module) {
            writer.blobs().put_module(&record.module, module.bytes())?;
        }
        self.stored.insert(record.module);
        Ok(())
    }
}

/// Files one message; answers whether it says to stop.
fn receive(message: Message, batch: &mut Vec<Pending>, modules: &mut Modules) -> bool {
    match message {
        Message::Commit(pending) => batch.push(*pending),
        Message::Module(module) => {
            modules.known.insert(module.digest(), module);
        }
        Message::Stop => return true,
    }
    false
}

/// Files the messages already queued, up to a full batch.
fn drain(
    rx: &Receiver<Message>,
    batch: &mut Vec<Pending>,
    modules: &mut Modules,
    stopping: &mut bool,
) {
    while batch.len() < MAX_BATCH {
        match rx.try_recv() {
            Ok(message) => *stopping |= receive(message, batch, modules),
            Err(_) => break,
        }
    }
}

fn run(mut writer: CheckpointWriter, rx: &Receiver<Message>, shared: &Weak<Shared>) {
    // Make the new run durable now (its log's header, its directory, its entry in the runinfo),
    // here rather than on the workflow's path: the first batch then waits for one fsync, not
    // four. A failure is retried by the first commit, and reported at the end if none comes.
    let mut unsynced = writer.sync().err();
    let mut batch: Vec<Pending> = Vec::new();
    let mut modules = Modules::default();
    let mut stopping = false;
    let mut last_commit = Duration::ZERO;
    while !stopping {
        match rx.recv() {
            Ok(message) => stopping |= receive(message, &mut batch, &mut modules),
            Err(_) => stopping = true,
        }
        // Everything that arrived while the last fsync ran goes into this one.
        drain(rx, &mut batch, &mut modules, &mut stopping);
        if !stopping
            && !batch.is_empty()
            && batch.len() < LINGER_BATCH
            && shared
                .upgrade()
                .is_some_and(|shared| shared.tasks_running())
        {
            // Sleep, then take what came: a receiver blocked on the channel is woken by every
            // send (a futex wake on the worker's side, a context switch on this one), a
            // sleeping one by none.
            std::thread::sleep(last_commit.min(MAX_LINGER));
            drain(rx, &mut batch, &mut modules, &mut stopping);
        }
        if batch.is_empty() {
            if stopping && let (Some(e), Some(shared)) = (unsynced.take(), shared.upgrade()) {
                shared.on_committed(Vec::new(), 0, Some(e));
            }
            continue;
        }
        unsynced = None;
        let began = Instant::now();
        let error = commit(&mut writer, &mut modules, &mut batch).err();
        last_commit = began.elapsed();
        let Some(shared) = shared.upgrade() else {
            return;
        };
        let count = batch.len() as u64;
        shared.on_committed(
            std::mem::take(&mut batch),
            if error.is_none() { count } else { 0 },
            error,
        );
    }
}

/// Stores modules not stored yet and large results as blobs, appends the records, fsyncs once.
fn commit(
    writer: &mut CheckpointWriter,
    modules: &mut Modules,
    batch: &mut [Pending],
) -> Result<(), crate::runinfo::StoreError> {
    for pending in batch.iter_mut() {
        modules.store_for(writer, &pending.record)?;
        if let Outcome::Ok(payload) = &mut pending.record.outcome {
            *payload = writer.payload(&pending.result)?;
        }
        pending.record.inputs.args = pending
            .args
            .iter()
            .map(|arg| writer.payload(arg))
            .collect::<Result<_, _>>()?;
    }
    writer.append(batch.iter().map(|p| &p.record))?;
    writer.sync()
}
