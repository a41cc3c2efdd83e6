//! The events: each `on_<event>` moves tasks between states and says what to do next.

use std::collections::hash_map::Entry;
use std::sync::Arc;

use super::machine::{InFlight, State, Task};
use super::{
    Action, ArgSource, FailureCause, LookupAnswer, Resolution, Scheduler, SubmitError, TaskArgs,
    TaskId, TaskSpec,
};
use crate::key::TaskKey;

impl Scheduler {
    /// A workflow submitted `spec`: gives it the next id. It is looked up at once when its
    /// dependencies have all resolved, and fails at once when one of them has failed.
    pub fn on_submit(
        &mut self,
        spec: TaskSpec,
        out: &mut Vec<Action>,
    ) -> Result<TaskId, SubmitError> {
        let id = TaskId(self.tasks.len() as u64);
        let mut missing = 0;
        let mut failed_dependency = None;
        for &dependency in spec.args.iter().flat_map(ArgSource::dependencies) {
            match self.tasks.get(dependency.index()).map(|t| &t.state) {
                None => return Err(SubmitError::UnknownTask { dependency }),
                Some(State::Resolved { .. }) => {}
                Some(State::Failed { .. }) => {
                    failed_dependency.get_or_insert(dependency);
                }
                Some(_) => missing += 1,
            }
        }
        self.counts.submitted += 1;
        let TaskSpec {
            app,
            args,
            cache,
            max_retries,
        } = spec;
        let mut task = Task {
            app,
            cache,
            max_retries,
            dependants: Vec::new(),
            state: State::Waiting {
                args: Vec::new(),
                missing: 0,
            },
        };
        if let Some(dependency) = failed_dependency {
            self.tasks.push(task);
            let (reason, root) = self.dependency_failure(dependency);
            self.fail(id, reason, FailureCause::Dependency { root }, out);
        } else if missing == 0 {
            self.tasks.push(task);
            self.make_ready(id, args, out);
        } else {
            for &dependency in args.iter().flat_map(ArgSource::dependencies) {
                let dep = &mut self.tasks[dependency.index()];
                if !matches!(dep.state, State::Resolved { .. }) {
                    dep.dependants.push(id);
                }
            }
            task.state = State::Waiting { args, missing };
            self.tasks.push(task);
        }
        Ok(id)
    }

    /// The executor computed `task`'s key and consulted the memo table. A hit resolves (or
    /// fails) it; a miss runs it, unless an identical memoizable task is running already, in
    /// which case it takes that task's outcome. Hits for a task that is not memoizable are
    /// treated as misses.
    pub fn on_lookup_done(
        &mut self,
        task: TaskId,
        key: TaskKey,
        answer: LookupAnswer,
        out: &mut Vec<Action>,
    ) {
        let Some(t) = self.tasks.get_mut(task.index()) else {
            return;
        };
        let State::LookingUp { args } = &t.state else {
            return;
        };
        let args = args.clone();
        let cache = t.cache;
        match answer {
            LookupAnswer::Hit(result) if cache => self.resolve(task, result, Resolution::Memo, out),
            LookupAnswer::HitFailure(reason) if cache => {
                self.fail(task, reason.into(), FailureCause::Memo, out)
            }
            _ if !cache => self.start(task, key, args, 1, out),
            _ => match self.in_flight.entry(key) {
                Entry::Occupied(mut entry) => {
                    let leader = entry.get().leader;
                    entry.get_mut().followers.push(task);
                    self.tasks[task.index()].state = State::Sharing { with: leader };
                }
                Entry::Vacant(entry) => {
                    entry.insert(InFlight {
                        leader: task,
                        followers: Vec::new(),
                    });
                    self.start(task, key, args, 1, out);
                }
            },
        }
    }

    /// A worker ran `task` and it returned `result`. Identical tasks waiting on it resolve too.
    pub fn on_finished(&mut self, task: TaskId, result: Vec<u8>, out: &mut Vec<Action>) {
        let Some(State::Running { key, attempt, .. }) =
            self.tasks.get(task.index()).map(|t| &t.state)
        else {
            return;
        };
        let (key, attempts) = (*key, *attempt);
        self.counts.running -= 1;
        self.resolve(task, result, Resolution::Executed { attempts }, out);
        if let Some(entry) = self.take_in_flight(&key, task) {
            for follower in entry.followers {
                if matches!(self.tasks[follower.index()].state, State::Sharing { .. }) {
                    let result = self.result(task).expect("just resolved").to_vec();
                    self.resolve(follower, result, Resolution::Shared { with: task }, out);
                }
            }
        }
    }

    /// A run of `task` failed with `reason`. It is retried while attempts remain; after the
    /// last, it fails together with its descendants and the identical tasks waiting on it.
    pub fn on_failed(&mut self, task: TaskId, reason: &str, out: &mut Vec<Action>) {
        let Some(t) = self.tasks.get_mut(task.index()) else {
            return;
        };
        let max_retries = t.max_retries;
        let State::Running { key, args, attempt } = &mut t.state else {
            return;
        };
        if *attempt <= max_retries {
            *attempt += 1;
            self.counts.attempts += 1;
            out.push(Action::Run {
                task,
                key: *key,
                args: args.clone(),
                attempt: *attempt,
            });
            return;
        }
        let (key, attempts) = (*key, *attempt);
        self.counts.running -= 1;
        let reason: Arc<str> = reason.into();
        self.fail(task, reason.clone(), FailureCause::Own { attempts }, out);
        if let Some(entry) = self.take_in_flight(&key, task) {
            let shared: Arc<str> = format!("identical task {task} failed: {reason}").into();
            for follower in entry.followers {
                if matches!(self.tasks[follower.index()].state, State::Sharing { .. }) {
                    self.fail(
                        follower,
                        shared.clone(),
                        FailureCause::Identical { with: task },
                        out,
                    );
                }
            }
        }
    }

    /// The workflow or the user gave up on `task`: it fails as cancelled, with its descendants.
    /// A running task is aborted; if identical tasks were waiting on it, the first of them runs
    /// in its place. Does nothing to a task that has ended.
    pub fn on_cancel(&mut self, task: TaskId, out: &mut Vec<Action>) {
        let Some(t) = self.tasks.get(task.index()) else {
            return;
        };
        match &t.state {
            State::Resolved { .. } | State::Failed { .. } => return,
            State::Running { key, args, .. } => {
                let (key, args) = (*key, args.clone());
                out.push(Action::Abort { task });
                self.counts.running -= 1;
                self.promote_follower(key, task, args, out);
            }
            State::Waiting { .. } | State::LookingUp { .. } | State::Sharing { .. } => {}
        }
        self.fail(task, "cancelled".into(), FailureCause::Cancelled, out);
    }

    /// Hands `task` to a worker.
    fn start(
        &mut self,
        task: TaskId,
        key: TaskKey,
        args: TaskArgs,
        attempt: u32,
        out: &mut Vec<Action>,
    ) {
        self.counts.running += 1;
        self.counts.attempts += 1;
        out.push(Action::Run {
            task,
            key,
            args: args.clone(),
            attempt,
        });
        self.tasks[task.index()].state = State::Running { key, args, attempt };
    }

    /// The in-flight entry of `key` if `task` leads it.
    fn take_in_flight(&mut self, key: &TaskKey, task: TaskId) -> Option<InFlight> {
        match self.in_flight.get(key) {
            Some(entry) if entry.leader == task => self.in_flight.remove(key),
            _ => None,
        }
    }

    /// `leader` stops running: the first identical task still waiting runs in its place.
    fn promote_follower(
        &mut self,
        key: TaskKey,
        leader: TaskId,
        args: TaskArgs,
        out: &mut Vec<Action>,
    ) {
        let Some(entry) = self.take_in_flight(&key, leader) else {
            return;
        };
        let mut followers = entry.followers;
        followers.retain(|f| matches!(self.tasks[f.index()].state, State::Sharing { .. }));
        if followers.is_empty() {
            return;
        }
        let next = followers.remove(0);
        for &f in &followers {
            self.tasks[f.index()].state = State::Sharing { with: next };
        }
        self.in_flight.insert(
            key,
            InFlight {
                leader: next,
                followers,
            },
        );
        // Equal keys mean equal arguments, so the leader's serve the follower.
        self.start(next, key, args, 1, out);
    }
}
