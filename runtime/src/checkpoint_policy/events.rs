//! The events: each `on_<event>` says which pending records to write or drop now.

use std::mem;
use std::time::Duration;

use super::machine::Trigger;
use super::{CheckpointPolicy, Decision};
use crate::scheduler::TaskId;

impl CheckpointPolicy {
    /// The workflow submitted `task` of `app`. Only grouping modes care: the task joins its
    /// group, which then waits for it. Cannot write anything, as the task has not ended.
    pub fn on_submit(&mut self, task: TaskId, app: &str) {
        if let Trigger::Groups(groups) = &mut self.trigger
            && !self.ended.contains(task)
            && !groups.is_member(task)
        {
            groups.join(task, app);
        }
    }

    /// `task` of `app` ended — with a result, or with a final failure that is memoized — and
    /// its record is pending. An avoided app's record is dropped at once; otherwise the mode
    /// decides whether it is written now. In `periodic` mode a deadline that passed before
    /// `now` writes too, as if ticked.
    pub fn on_finished(&mut self, task: TaskId, app: &str, now: Duration) -> Decision {
        let mut decision = Decision::default();
        if !self.ended.insert(task) {
            return decision;
        }
        let seq = if self.avoid.contains(app) {
            decision.drop.push(task);
            None
        } else {
            let seq = self.next_seq;
            self.next_seq += 1;
            self.pending.insert(seq, task);
            Some(seq)
        };
        // Either everything pending is due, or only these records (a completed group).
        let due = match &mut self.trigger {
            _ if self.exited => Due::All,
            Trigger::EachTask => Due::All,
            Trigger::Period { period, deadline } => Due::all_if(advance(deadline, *period, now)),
            Trigger::Nothing => Due::Some(Vec::new()),
            Trigger::EveryN(n) => Due::all_if(self.pending.len() as u64 >= *n),
            Trigger::Groups(groups) => match groups.on_done(task, seq) {
                // Never submitted, so in no group: it stands alone.
                None => Due::Some(seq.into_iter().collect()),
                Some(group) => Due::Some(group),
            },
        };
        match due {
            Due::All => self.write_all(&mut decision),
            Due::Some(seqs) => self.write(seqs, &mut decision),
        }
        decision
    }

    /// `task` ended with a result it did not compute (a memo hit, or an identical task ran in
    /// its place), so there is nothing new to record; it counts as done for its group.
    pub fn on_reused(&mut self, task: TaskId) -> Decision {
        self.on_ended_without_record(task)
    }

    /// `task` ended with nothing to record: a failure that is not memoized (an infrastructure
    /// failure, cancellation, a failed dependency, or any failure without `cache_failures`),
    /// or a result of an app that is not memoized. It counts as done for its group.
    pub fn on_unrecorded(&mut self, task: TaskId) -> Decision {
        self.on_ended_without_record(task)
    }

    /// Time passed: in `periodic` mode, at or after the deadline, everything pending is
    /// written and the next deadline is the first one after `now` on the period's grid.
    pub fn on_tick(&mut self, now: Duration) -> Decision {
        let mut decision = Decision::default();
        if let Trigger::Period { period, deadline } = &mut self.trigger
            && advance(deadline, *period, now)
        {
            self.write_all(&mut decision);
        }
        decision
    }

    /// The workflow called `checkpoint()` or the host `Runner::checkpoint()`: everything
    /// pending is written, in every mode. The number written is what `checkpoint()` answers.
    pub fn on_manual(&mut self) -> Decision {
        let mut decision = Decision::default();
        self.write_all(&mut decision);
        decision
    }

    /// The run ended, cleanly, on a signal or on an error: everything pending is written and
    /// every group is closed. Tasks reported as finished later are written at once.
    pub fn on_exit(&mut self) -> Decision {
        self.exited = true;
        if let Trigger::Groups(groups) = &mut self.trigger {
            groups.close_all();
        }
        self.on_manual()
    }

    fn on_ended_without_record(&mut self, task: TaskId) -> Decision {
        let mut decision = Decision::default();
        if self.ended.insert(task)
            && let Trigger::Groups(groups) = &mut self.trigger
            && let Some(group) = groups.on_done(task, None)
        {
            self.write(group, &mut decision);
        }
        decision
    }

    /// Writes the pending records with these sequence numbers, ascending.
    fn write(&mut self, seqs: Vec<u64>, decision: &mut Decision) {
        decision
            .write
            .extend(seqs.iter().filter_map(|seq| self.pending.remove(seq)));
    }

    fn write_all(&mut self, decision: &mut Decision) {
        decision
            .write
            .extend(mem::take(&mut self.pending).into_values());
        if let Trigger::Groups(groups) = &mut self.trigger {
            groups.forget_pending();
        }
    }
}

/// Which pending records an event makes due.
enum Due {
    All,
    /// These, by sequence number.
    Some(Vec<u64>),
}

impl Due {
    fn all_if(all: bool) -> Self {
        if all { Due::All } else { Due::Some(Vec::new()) }
    }
}

/// Whether `deadline` has come by `now`; if so, moves it to the first point after `now` on
/// the grid `deadline + k * period`, so that late ticks do not drift nor write twice in a row.
fn advance(deadline: &mut Duration, period: Duration, now: Duration) -> bool {
    if now < *deadline {
        return false;
    }
    let late = (now - *deadline).as_nanos() % period.as_nanos().max(1);
    let late = Duration::from_nanos(u64::try_from(late).unwrap_or(u64::MAX));
    *deadline = now.saturating_add(period.saturating_sub(late));
    true
}
