//! Durations as users write them: `500ms`, `30s`, `5m`, `1h`, plain seconds or `HH:MM:SS`.

use std::time::Duration;

/// A duration that could not be understood.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "`{0}` is not a duration: use a number with a unit (`500ms`, `30s`, `5m`, `1h`), plain \
     seconds (`1.5`) or HH:MM:SS (`01:00:00`)"
)]
pub struct DurationError(String);

/// Parses `500ms`, `30s`, `5m`, `1h`, `1.5` (seconds) or Parsl's `HH:MM:SS`.
pub fn parse_duration(text: &str) -> Result<Duration, DurationError> {
    let bad = || DurationError(text.to_owned());
    let t = text.trim();
    if t.contains(':') {
        let parts: Vec<&str> = t.split(':').collect();
        if parts.len() != 3 {
            return Err(bad());
        }
        let mut seconds = 0u64;
        for (i, part) in parts.iter().enumerate() {
            let value: u64 = part.parse().map_err(|_| bad())?;
            if i > 0 && value >= 60 {
                return Err(bad());
            }
            seconds = seconds
                .checked_mul(60)
                .and_then(|s| s.checked_add(value))
                .ok_or_else(bad)?;
        }
        return Ok(Duration::from_secs(seconds));
    }
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (number, unit) = t.split_at(split);
    let value: f64 = number.parse().map_err(|_| bad())?;
    let scale = match unit.trim() {
        "" | "s" | "sec" | "secs" => 1.0,
        "ms" => 0.001,
        "m" | "min" | "mins" => 60.0,
        "h" | "hr" | "hrs" => 3600.0,
        _ => return Err(bad()),
    };
    Duration::try_from_secs_f64(value * scale).map_err(|_| bad())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_in_every_accepted_form() {
        assert_eq!(parse_duration("30s"), Ok(Duration::from_secs(30)));
        assert_eq!(parse_duration("5m"), Ok(Duration::from_secs(300)));
        assert_eq!(parse_duration("1h"), Ok(Duration::from_secs(3600)));
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_duration("1.5"), Ok(Duration::from_millis(1500)));
        assert_eq!(parse_duration("01:00:00"), Ok(Duration::from_secs(3600)));
        assert_eq!(parse_duration("00:01:30"), Ok(Duration::from_secs(90)));
    }

    #[test]
    fn bad_durations_are_refused() {
        for bad in ["", "s", "5x", "-1s", "1:2", "00:61:00", "1e400", "ms5"] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
    }
}
