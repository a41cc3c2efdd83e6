//! The checkpoint policy a user chooses: parsed from flags, then checked.

use std::collections::BTreeSet;
use std::fmt;
use std::time::Duration;

use super::GroupPolicy;
use crate::config::{DurationError, parse_duration};

/// The mode names [`RawPolicy::mode`] accepts, as in DESIGN §4.
pub const MODE_NAMES: [&str; 6] = [
    "task_exit",
    "periodic",
    "dfk_exit",
    "manual",
    "every_n_finished",
    "instantiated_group",
];

/// When finished tasks' records are written (DESIGN §4). Every mode also writes whatever is
/// pending when the run ends and whenever a checkpoint is asked for explicitly.
#[derive(Debug)]
pub enum Mode {
    /// Record each task as soon as it completes or finally fails; its future resolves only once
    /// the record is durable (Parsl `task_exit`, DESIGN §3.3).
    TaskExit,
    /// Record everything pending once per period (Parsl `periodic`, COMPSs PT).
    Periodic(Duration),
    /// Record only when the run ends, cleanly, on a signal or on an error (Parsl `dfk_exit`).
    DfkExit,
    /// Record only when the workflow calls `checkpoint()` or the host `Runner::checkpoint()`,
    /// and at the end (Parsl `manual`, COMPSs snapshot).
    Manual,
    /// Record after every n finished tasks not yet recorded (COMPSs FT).
    EveryNFinished(u64),
    /// Group every n consecutively submitted tasks; record a group once it is closed (n tasks
    /// joined it, or the run ended) and all its tasks are done (COMPSs ITG).
    InstantiatedGroup(u64),
    /// A user's grouping: record a group once it is closed and all its tasks are done.
    Custom(Box<dyn GroupPolicy>),
}

impl Mode {
    /// The mode's name as a user writes it; `custom` for a [`Mode::Custom`].
    pub fn name(&self) -> &'static str {
        match self {
            Mode::TaskExit => "task_exit",
            Mode::Periodic(_) => "periodic",
            Mode::DfkExit => "dfk_exit",
            Mode::Manual => "manual",
            Mode::EveryNFinished(_) => "every_n_finished",
            Mode::InstantiatedGroup(_) => "instantiated_group",
            Mode::Custom(_) => "custom",
        }
    }
}

/// A checked checkpoint policy: a [`Mode`] whose period and counts are positive, and the apps
/// whose records are never checkpointed (COMPSs `avoid.checkpoint`; still memoized in-run).
#[derive(Debug)]
pub struct PolicyConfig {
    mode: Mode,
    avoid: BTreeSet<String>,
}

impl PolicyConfig {
    /// Checks `mode`: a period must be positive, and so must a count.
    pub fn new(mode: Mode) -> Result<Self, PolicyError> {
        match &mode {
            Mode::Periodic(period) if period.is_zero() => {
                return Err(PolicyError::ZeroPeriod {
                    period: format!("{period:?}"),
                });
            }
            Mode::EveryNFinished(0) | Mode::InstantiatedGroup(0) => {
                return Err(PolicyError::ZeroCount { mode: mode.name() });
            }
            _ => {}
        }
        Ok(Self {
            mode,
            avoid: BTreeSet::new(),
        })
    }

    /// Parses flags such as `--checkpoint-mode periodic --checkpoint-period 01:00:00`; see
    /// [`RawPolicy`].
    pub fn parse(mode: &str, period: Option<&str>, n: Option<u64>) -> Result<Self, PolicyError> {
        RawPolicy {
            mode: mode.to_owned(),
            period: period.map(str::to_owned),
            n,
            avoid: Vec::new(),
        }
        .try_into()
    }

    /// Never checkpoints the records of these apps, in addition to those already avoided.
    pub fn avoiding<S: Into<String>>(mut self, apps: impl IntoIterator<Item = S>) -> Self {
        self.avoid.extend(apps.into_iter().map(Into::into));
        self
    }

    /// The mode.
    pub fn mode(&self) -> &Mode {
        &self.mode
    }

    /// The apps never checkpointed.
    pub fn avoid(&self) -> &BTreeSet<String> {
        &self.avoid
    }

    pub(super) fn into_parts(self) -> (Mode, BTreeSet<String>) {
        (self.mode, self.avoid)
    }
}

/// A checkpoint policy as a user wrote it (flags or a config file), not yet checked. A
/// [`Mode::Custom`] policy is code, so it has no raw form.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RawPolicy {
    /// One of [`MODE_NAMES`]; `-` may stand for `_`.
    pub mode: String,
    /// The period of `periodic`: `30s`, `5m`, `1h` or `HH:MM:SS`. Refused for other modes.
    pub period: Option<String>,
    /// The n of `every_n_finished` and `instantiated_group`. Refused for other modes.
    pub n: Option<u64>,
    /// Apps whose records are never checkpointed.
    pub avoid: Vec<String>,
}

impl TryFrom<RawPolicy> for PolicyConfig {
    type Error = PolicyError;

    fn try_from(raw: RawPolicy) -> Result<Self, PolicyError> {
        let name = raw.mode.trim().replace('-', "_");
        let name = MODE_NAMES
            .iter()
            .find(|known| **known == name)
            .ok_or(PolicyError::UnknownMode { mode: raw.mode })?;
        let period = match (*name, raw.period) {
            ("periodic", None) => return Err(PolicyError::MissingPeriod),
            ("periodic", Some(text)) => Some(parse_duration(&text)?),
            (_, None) => None,
            (mode, Some(period)) => return Err(PolicyError::UnusedPeriod { mode, period }),
        };
        let counted = matches!(*name, "every_n_finished" | "instantiated_group");
        let n = match (counted, raw.n) {
            (true, None) => return Err(PolicyError::MissingCount { mode: name }),
            (false, Some(n)) => return Err(PolicyError::UnusedCount { mode: name, n }),
            (_, n) => n.unwrap_or(0),
        };
        let mode = match *name {
            "task_exit" => Mode::TaskExit,
            "periodic" => Mode::Periodic(period.unwrap_or_default()),
            "dfk_exit" => Mode::DfkExit,
            "manual" => Mode::Manual,
            "every_n_finished" => Mode::EveryNFinished(n),
            _ => Mode::InstantiatedGroup(n),
        };
        Ok(PolicyConfig::new(mode)?.avoiding(raw.avoid))
    }
}

/// Why a checkpoint policy was refused: bad user input, named in the message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PolicyError {
    /// The mode is not one of [`MODE_NAMES`].
    #[error("`{mode}` is not a checkpoint mode: use {}", ModeList)]
    UnknownMode {
        /// What the user wrote.
        mode: String,
    },
    /// `periodic` without a period.
    #[error("checkpoint mode `periodic` needs a period, e.g. `30s`, `5m` or `01:00:00`")]
    MissingPeriod,
    /// The period is not a duration.
    #[error("bad checkpoint period: {0}")]
    BadPeriod(#[from] DurationError),
    /// The period is zero.
    #[error("checkpoint period `{period}` is zero; it must be positive")]
    ZeroPeriod {
        /// The period as given.
        period: String,
    },
    /// A mode that takes no period was given one.
    #[error("checkpoint mode `{mode}` takes no period (got `{period}`); only `periodic` does")]
    UnusedPeriod {
        /// The mode.
        mode: &'static str,
        /// The period given.
        period: String,
    },
    /// A counted mode without its n.
    #[error("checkpoint mode `{mode}` needs a count n")]
    MissingCount {
        /// The mode.
        mode: &'static str,
    },
    /// A counted mode with n = 0.
    #[error("checkpoint mode `{mode}` needs a count n of at least 1, got 0")]
    ZeroCount {
        /// The mode.
        mode: &'static str,
    },
    /// A mode that takes no count was given one.
    #[error(
        "checkpoint mode `{mode}` takes no count (got {n}); only `every_n_finished` and \
         `instantiated_group` do"
    )]
    UnusedCount {
        /// The mode.
        mode: &'static str,
        /// The count given.
        n: u64,
    },
}

/// [`MODE_NAMES`] as prose, for messages.
struct ModeList;

impl fmt::Display for ModeList {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (last, rest) = MODE_NAMES.split_last().expect("there are modes");
        for name in rest {
            write!(f, "`{name}`, ")?;
        }
        write!(f, "or `{last}`")
    }
}
