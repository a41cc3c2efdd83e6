//! How an ending travels: a result wakes dependants, a failure fails descendants.

use std::mem;
use std::sync::Arc;

use super::fan_in::assemble;
use super::machine::State;
use super::{Action, ArgSource, FailureCause, Resolution, Scheduler, TaskId};

impl Scheduler {
    /// All of `task`'s dependencies resolved: assemble its arguments and look it up.
    pub(super) fn make_ready(&mut self, task: TaskId, args: Vec<ArgSource>, out: &mut Vec<Action>) {
        let tasks = &self.tasks;
        let args = assemble(args, |id| match &tasks[id.index()].state {
            State::Resolved { result, .. } => result,
            _ => unreachable!("a ready task's dependencies have all resolved"),
        });
        let t = &mut self.tasks[task.index()];
        out.push(Action::Lookup {
            task,
            args: args.clone(),
            cache: t.cache,
        });
        t.state = State::LookingUp { args };
    }

    /// `task` ends with `result`; each dependant whose last missing dependency this was becomes
    /// ready.
    pub(super) fn resolve(
        &mut self,
        task: TaskId,
        result: Vec<u8>,
        how: Resolution,
        out: &mut Vec<Action>,
    ) {
        let t = &mut self.tasks[task.index()];
        let dependants = mem::take(&mut t.dependants);
        t.state = State::Resolved { result, how };
        self.counts.resolved += 1;
        match how {
            Resolution::Executed { .. } => self.counts.executed += 1,
            Resolution::Memo => self.counts.cached += 1,
            Resolution::Shared { .. } => self.counts.shared += 1,
        }
        out.push(Action::Resolved { task, how });
        for dependant in dependants {
            // A dependant that is no longer waiting was failed by another dependency or cancelled.
            let State::Waiting { args, missing } = &mut self.tasks[dependant.index()].state else {
                continue;
            };
            *missing -= 1;
            if *missing == 0 {
                let args = mem::take(args);
                self.make_ready(dependant, args, out);
            }
        }
    }

    /// `task` ends without a result, and so does every descendant that has not ended yet. Each
    /// task fails at most once, so a whole cascade costs O(edges).
    pub(super) fn fail(
        &mut self,
        task: TaskId,
        reason: Arc<str>,
        cause: FailureCause,
        out: &mut Vec<Action>,
    ) {
        // Descendants name the task where the failure started, not the chain that led to them;
        // they share one reason, formatted only if there is a descendant.
        let (mut descendant_reason, root) = match cause {
            FailureCause::Dependency { root } => (Some(reason.clone()), root),
            _ => (None, task),
        };
        let root_reason = reason.clone();
        let mut stack = mem::take(&mut self.scratch);
        stack.clear();
        stack.push(task);
        let mut first = Some((reason, cause));
        while let Some(id) = stack.pop() {
            let (reason, cause) = match first.take() {
                Some(own) => own,
                // Only a task still waiting can have an unresolved dependency.
                None if matches!(self.tasks[id.index()].state, State::Waiting { .. }) => {
                    let reason = descendant_reason
                        .get_or_insert_with(|| self.dependency_reason(root, &root_reason));
                    (reason.clone(), FailureCause::Dependency { root })
                }
                None => continue,
            };
            let t = &mut self.tasks[id.index()];
            stack.extend(mem::take(&mut t.dependants));
            t.state = State::Failed {
                reason: reason.clone(),
                cause,
            };
            self.counts.failed += 1;
            out.push(Action::Failed {
                task: id,
                reason,
                cause,
            });
        }
        self.scratch = stack;
    }

    /// The reason and root a task submitted after `dependency` failed inherits.
    pub(super) fn dependency_failure(&self, dependency: TaskId) -> (Arc<str>, TaskId) {
        match &self.tasks[dependency.index()].state {
            State::Failed {
                reason,
                cause: FailureCause::Dependency { root },
            } => (reason.clone(), *root),
            State::Failed { reason, .. } => {
                (self.dependency_reason(dependency, reason), dependency)
            }
            _ => unreachable!("called for a failed dependency"),
        }
    }

    fn dependency_reason(&self, root: TaskId, reason: &str) -> Arc<str> {
        let app = &self.tasks[root.index()].app;
        format!("dependency task {root} (`{app}`) failed: {reason}").into()
    }
}
