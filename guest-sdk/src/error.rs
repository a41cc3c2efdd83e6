//! The one error type a workflow sees.

use std::fmt;

/// A failure seen by a workflow: a task that failed (its error message, its panic, or a failed
/// dependency), a value that could not be encoded or decoded, or a refused submission.
///
/// Any `std::error::Error` converts into it, so `?` works on the usual error types inside a
/// workflow. Like `anyhow::Error`, it does not implement `std::error::Error` itself; that is what
/// makes the blanket conversion possible.
#[derive(Clone)]
pub struct Error {
    message: String,
}

/// `std::result::Result` with [`Error`] as its default error type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// An error carrying `message`.
    pub fn msg(message: impl fmt::Display) -> Self {
        Self {
            message: message.to_string(),
        }
    }

    /// The message, as the host or the failed task gave it.
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Error").field(&self.message).finish()
    }
}

impl<E: std::error::Error + Send + Sync + 'static> From<E> for Error {
    /// Keeps the error's message and the messages of its sources, joined with `: `.
    fn from(error: E) -> Self {
        let mut message = error.to_string();
        let mut source = error.source();
        while let Some(cause) = source {
            message.push_str(": ");
            message.push_str(&cause.to_string());
            source = cause.source();
        }
        Self { message }
    }
}

/// The message of an [`Error`] as a `std::error::Error`, for the boxed conversions.
#[derive(Debug)]
struct Message(String);

impl fmt::Display for Message {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Message {}

impl From<Error> for Box<dyn std::error::Error + Send + Sync + 'static> {
    /// So `?` works in functions returning `Result<_, Box<dyn Error + Send + Sync>>`.
    fn from(error: Error) -> Self {
        Box::new(Message(error.message))
    }
}

impl From<Error> for Box<dyn std::error::Error + 'static> {
    /// So `?` works in functions returning `Result<_, Box<dyn Error>>`.
    fn from(error: Error) -> Self {
        Box::new(Message(error.message))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug)]
    struct Outer(std::io::Error);

    impl fmt::Display for Outer {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("outer")
        }
    }

    impl std::error::Error for Outer {
        fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
            Some(&self.0)
        }
    }

    #[test]
    fn conversion_keeps_the_source_chain() {
        let error = Error::from(Outer(std::io::Error::other("inner")));
        assert_eq!(error.message(), "outer: inner");
        assert_eq!(format!("{error:?}"), r#"Error("outer: inner")"#);
    }

    #[test]
    fn converts_into_boxed_std_errors() {
        fn boxed() -> std::result::Result<(), Box<dyn std::error::Error>> {
            Err(Error::msg("no luck"))?
        }
        assert_eq!(
            boxed().map_err(|e| e.to_string()),
            Err("no luck".to_owned())
        );
    }

    #[test]
    fn question_mark_converts_std_errors() {
        fn parse(s: &str) -> Result<i32> {
            Ok(s.parse::<i32>()?)
        }
        assert_eq!(parse("12").ok(), Some(12));
        assert_eq!(
            parse("x").err().map(|e| e.to_string()),
            Some("invalid digit found in string".to_owned())
        );
    }
}
