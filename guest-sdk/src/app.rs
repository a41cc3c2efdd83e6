//! The generic half of an app: what the code `#[app]` generates calls to decode arguments, encode
//! the answer and describe itself.

use std::fmt::Display;

use postcard_schema::schema::owned::OwnedNamedType;
use serde::Serialize;
use serde::de::DeserializeOwned;
use wf_abi::{
    AppDescriptor, ParamDescriptor, STATUS_APP_ERROR, STATUS_BAD_INPUT, STATUS_OK, TypeDescriptor,
};

use crate::arg::Wire;

/// One app of a module. `#[app]` implements it for the unit struct it generates; the methods users
/// call (`call`, `submit`, `descriptor`) are inherent methods of that struct.
///
/// Every bounded use of a parameter or result type goes through this trait or [`ParamAt`], so a
/// type that cannot cross the wire is reported once, where the associated type is defined.
pub trait App {
    /// The app's name: the function's name, and the suffix of its exports.
    const NAME: &'static str;
    /// How many parameters it takes.
    const ARITY: usize;
    /// The result type as written (`T` of `Result<T, E>`), for the descriptor.
    const OUTPUT_RUST: &'static str;
    /// Whether the function returns a `Result`.
    const FALLIBLE: bool;
    /// Whether the host may memoize its results.
    const CACHE: bool;
    /// The type of a successful result (`T` of `Result<T, E>`).
    type Output: Wire;
    /// Decodes the arguments, runs the function and encodes its answer. The arity was checked.
    fn run(args: &[&[u8]]) -> Result<Answer, Answer>;
    /// The descriptors of its parameters, in order (built with [`param`]).
    fn params() -> Vec<ParamDescriptor>;
}

/// Parameter `I` of an app.
pub trait ParamAt<const I: usize> {
    /// Its name in the source.
    const NAME: &'static str;
    /// Its type as written.
    const RUST: &'static str;
    /// Its type.
    type Ty: Wire;
}

/// The answer of one call: a status code from `wf_abi` and the output that goes with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    /// [`STATUS_OK`], [`STATUS_APP_ERROR`] or [`STATUS_BAD_INPUT`].
    pub status: i32,
    /// The encoded result, or a UTF-8 message.
    pub output: Vec<u8>,
}

impl Answer {
    fn message(status: i32, message: impl Display) -> Self {
        Self {
            status,
            output: message.to_string().into_bytes(),
        }
    }

    /// The output read as a message (for error answers).
    pub fn message_text(&self) -> String {
        String::from_utf8_lossy(&self.output).into_owned()
    }
}

/// Runs app `A` on encoded arguments, checking their number first.
pub fn run_call<A: App>(args: &[&[u8]]) -> Answer {
    if args.len() != A::ARITY {
        return Answer::message(
            STATUS_BAD_INPUT,
            format_args!(
                "app `{}` takes {} argument(s), the call has {}",
                A::NAME,
                A::ARITY,
                args.len()
            ),
        );
    }
    match A::run(args) {
        Ok(answer) | Err(answer) => answer,
    }
}

/// Decodes parameter `I` of app `A`.
pub fn decode_param<A: ParamAt<I>, const I: usize>(args: &[&[u8]]) -> Result<A::Ty, Answer> {
    decode_arg(args, I, A::NAME)
}

/// Decodes argument `index`, named `name`, as a `T`; a [`STATUS_BAD_INPUT`] answer naming the
/// parameter when it is not one.
fn decode_arg<T: DeserializeOwned>(args: &[&[u8]], index: usize, name: &str) -> Result<T, Answer> {
    let bytes = args.get(index).ok_or_else(|| {
        Answer::message(
            STATUS_BAD_INPUT,
            format_args!("argument `{name}` (#{index}) is missing"),
        )
    })?;
    match postcard::take_from_bytes::<T>(bytes) {
        Ok((value, [])) => Ok(value),
        Ok((_, rest)) => Err(Answer::message(
            STATUS_BAD_INPUT,
            format_args!(
                "argument `{name}` ({}) could not be decoded: {} byte(s) left over",
                std::any::type_name::<T>(),
                rest.len()
            ),
        )),
        Err(e) => Err(Answer::message(
            STATUS_BAD_INPUT,
            format_args!(
                "argument `{name}` ({}) could not be decoded: {e}",
                std::any::type_name::<T>()
            ),
        )),
    }
}

/// The answer of an infallible app: its encoded result.
pub fn answer_value<A: App>(value: &A::Output) -> Answer {
    encode_answer(value)
}

fn encode_answer<T: Serialize>(value: &T) -> Answer {
    match postcard::to_allocvec(value) {
        Ok(output) => Answer {
            status: STATUS_OK,
            output,
        },
        Err(e) => Answer::message(
            STATUS_APP_ERROR,
            format_args!("the result could not be encoded: {e}"),
        ),
    }
}

/// The answer of a fallible app: its encoded `Ok`, or its `Err`'s message.
pub fn answer_result<A: App, E: Display>(result: Result<A::Output, E>) -> Answer {
    match result {
        Ok(value) => encode_answer(&value),
        Err(error) => Answer::message(STATUS_APP_ERROR, error),
    }
}

fn type_descriptor<T: Wire>(rust: &str) -> TypeDescriptor {
    TypeDescriptor {
        rust: rust.to_owned(),
        schema: OwnedNamedType::from(T::SCHEMA),
    }
}

/// The descriptor of parameter `I` of app `A`.
pub fn param<A: ParamAt<I>, const I: usize>() -> ParamDescriptor {
    ParamDescriptor {
        name: A::NAME.to_owned(),
        ty: type_descriptor::<A::Ty>(A::RUST),
    }
}

/// What the module says about app `A`.
pub fn descriptor<A: App>() -> AppDescriptor {
    AppDescriptor {
        name: A::NAME.to_owned(),
        params: A::params(),
        output: type_descriptor::<A::Output>(A::OUTPUT_RUST),
        fallible: A::FALLIBLE,
        cache: A::CACHE,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decode_names_the_parameter() {
        let short = [5u8, b'a'];
        let args: [&[u8]; 1] = [&short];
        let answer = decode_arg::<String>(&args, 0, "name").expect_err("5 bytes announced, 1 sent");
        assert_eq!(answer.status, STATUS_BAD_INPUT);
        assert_eq!(
            answer.message_text(),
            "argument `name` (alloc::string::String) could not be decoded: \
             Hit the end of buffer, expected more data"
        );

        let answer = decode_arg::<u8>(&args, 0, "x").expect_err("trailing bytes");
        assert_eq!(
            answer.message_text(),
            "argument `x` (u8) could not be decoded: 1 byte(s) left over"
        );

        let answer = decode_arg::<u8>(&args, 1, "y").expect_err("missing");
        assert_eq!(answer.message_text(), "argument `y` (#1) is missing");
    }

    #[test]
    fn fallible_answers_carry_the_message() {
        struct Probe;
        impl App for Probe {
            const NAME: &'static str = "probe";
            const ARITY: usize = 0;
            const OUTPUT_RUST: &'static str = "u8";
            const FALLIBLE: bool = true;
            const CACHE: bool = true;
            type Output = u8;
            fn run(_: &[&[u8]]) -> Result<Answer, Answer> {
                Ok(answer_result::<Self, _>(Ok::<u8, &str>(7)))
            }
            fn params() -> Vec<ParamDescriptor> {
                Vec::new()
            }
        }
        let answer = answer_result::<Probe, _>(Err("no luck"));
        assert_eq!(answer.status, STATUS_APP_ERROR);
        assert_eq!(answer.message_text(), "no luck");
        assert_eq!(run_call::<Probe>(&[]).output, vec![7]);
        assert_eq!(
            run_call::<Probe>(&[&[1]]).message_text(),
            "app `probe` takes 0 argument(s), the call has 1"
        );
        assert_eq!(descriptor::<Probe>().output.rust, "u8");
    }
}
