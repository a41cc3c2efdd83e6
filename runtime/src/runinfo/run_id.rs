//! Run ids and their directory names: `000`, `001`, …, `999`, `1000`, …

use std::fmt;
use std::str::FromStr;

/// The number of a run, named by its directory under `runinfo/`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RunId(u32);

impl RunId {
    /// The first run.
    pub const FIRST: RunId = RunId(0);

    /// The run numbered `n`.
    pub fn new(n: u32) -> Self {
        RunId(n)
    }

    /// Its number.
    pub fn get(self) -> u32 {
        self.0
    }

    /// The run after this one, unless the ids are used up.
    pub fn next(self) -> Option<RunId> {
        self.0.checked_add(1).map(RunId)
    }
}

/// At least three digits, zero-padded: `007`, `999`, `1000`.
impl fmt::Display for RunId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:03}", self.0)
    }
}

/// A string that is not the directory name of a run.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not a run id: expected a run directory name such as 000, 042 or 1000")]
pub struct ParseRunIdError(String);

/// Accepts exactly the names [`Display`](fmt::Display) produces: ASCII digits only (so never
/// `..`, `/` or a sign), at least three, and no extra leading zero. Each run has one name.
impl FromStr for RunId {
    type Err = ParseRunIdError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || ParseRunIdError(s.to_owned());
        if s.len() < 3 || !s.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad());
        }
        if s.len() > 3 && s.starts_with('0') {
            return Err(bad());
        }
        s.parse::<u32>().map(RunId).map_err(|_| bad())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_grow_past_999() {
        for (n, name) in [
            (0, "000"),
            (7, "007"),
            (42, "042"),
            (999, "999"),
            (1000, "1000"),
        ] {
            assert_eq!(RunId::new(n).to_string(), name);
            assert_eq!(name.parse::<RunId>(), Ok(RunId::new(n)));
        }
        assert!(RunId::new(999) < RunId::new(1000));
        assert_eq!(RunId::new(u32::MAX).next(), None);
    }

    #[test]
    fn only_canonical_names_parse() {
        for bad in [
            "",
            "1",
            "01",
            "0001",
            "0999",
            "..",
            "../000",
            "000/..",
            "00/1",
            "/000",
            "-001",
            "+001",
            "1e3",
            "００１",
            "000 ",
            " 000",
            "99999999999",
        ] {
            assert!(bad.parse::<RunId>().is_err(), "{bad:?}");
        }
    }
}
