//! What `submit` accepts for a parameter: a value, a future, or (for `Vec<T>`) many futures.

use postcard_schema::Schema;
use serde::Serialize;
use serde::de::DeserializeOwned;
use wf_abi::ArgSpec;

use crate::{Error, Future};

/// A type that can cross the wire as an app's argument or result: serde both ways (postcard on
/// the wire) and a postcard schema for the app's descriptor.
///
/// Implemented for every type that has the three; there is nothing to implement by hand.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be an app's argument or result",
    label = "needs `Serialize`, `DeserializeOwned` and `postcard_schema::Schema`",
    note = "derive them: `#[derive(Serialize, Deserialize, Schema)]`"
)]
pub trait Wire: Serialize + DeserializeOwned + Schema {}

impl<T: Serialize + DeserializeOwned + Schema> Wire for T {}

/// What `app.submit(..)` accepts for a parameter of type `T`.
///
/// - a `T` or a `&T`: the value itself;
/// - a [`Future<T>`] or a `&Future<T>`: the result of another task, a dataflow dependency;
/// - for a `Vec<T>` parameter, a `Vec<Future<T>>` or a `&[Future<T>]`: fan-in, the results of
///   several tasks in order;
/// - for a `String` parameter, a `&str`.
///
/// The impls cannot overlap: each has a different shape of `Self` relative to `T`, and the
/// ones that could unify would need `T = Future<T>`, which no type satisfies.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be submitted as an argument of type `{T}`",
    label = "expected a `{T}` or a `Future<{T}>`",
    note = "an argument is a value, a `Future` of the parameter's type, or for a `Vec<T>` parameter a `Vec<Future<T>>`"
)]
pub trait IntoArg<T> {
    /// Turns the argument into what the host receives. Used by the code `#[app]` generates.
    #[doc(hidden)]
    fn into_arg(self) -> Arg;
}

/// An argument ready to be submitted: its wire form, or why it has none (a failed dependency or a
/// value that could not be encoded). Only [`IntoArg`] makes one.
#[derive(Debug)]
pub struct Arg {
    pub(crate) spec: Result<ArgSpec, Error>,
}

impl Arg {
    fn value<T: Serialize + ?Sized>(value: &T) -> Self {
        let spec = postcard::to_allocvec(value)
            .map(ArgSpec::Value)
            .map_err(|e| Error::msg(format!("an argument could not be encoded: {e}")));
        Self { spec }
    }
}

impl<T: Wire> IntoArg<T> for T {
    fn into_arg(self) -> Arg {
        Arg::value(&self)
    }
}

impl<T: Wire> IntoArg<T> for &T {
    fn into_arg(self) -> Arg {
        Arg::value(self)
    }
}

impl IntoArg<String> for &str {
    fn into_arg(self) -> Arg {
        Arg::value(self)
    }
}

impl<T: Wire> IntoArg<T> for Future<T> {
    fn into_arg(self) -> Arg {
        Arg { spec: self.spec() }
    }
}

impl<T: Wire> IntoArg<T> for &Future<T> {
    fn into_arg(self) -> Arg {
        Arg { spec: self.spec() }
    }
}

impl<T: Wire> IntoArg<Vec<T>> for Vec<Future<T>> {
    fn into_arg(self) -> Arg {
        self.as_slice().into_arg()
    }
}

impl<T: Wire> IntoArg<Vec<T>> for &Vec<Future<T>> {
    fn into_arg(self) -> Arg {
        self.as_slice().into_arg()
    }
}

impl<T: Wire> IntoArg<Vec<T>> for &[Future<T>] {
    fn into_arg(self) -> Arg {
        Arg {
            spec: Future::fan_in(self),
        }
    }
}

/// The postcard encoding of a sequence whose elements are already encoded: the length as a
/// varint, then the elements back to back. This is how a `Vec<T>` argument is built from the
/// results of several tasks (the host does the same for [`ArgSpec::Futures`]).
#[cfg_attr(target_arch = "wasm32", allow(dead_code))]
pub(crate) fn concat_seq<'a>(len: usize, elements: impl IntoIterator<Item = &'a [u8]>) -> Vec<u8> {
    let mut out = Vec::new();
    let mut rest = len;
    loop {
        let byte = (rest & 0x7f) as u8;
        rest >>= 7;
        if rest == 0 {
            out.push(byte);
            break;
        }
        out.push(byte | 0x80);
    }
    for element in elements {
        out.extend_from_slice(element);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn concat_seq_matches_postcard_vec_encoding() {
        for len in [0usize, 1, 5, 127, 128, 300, 20_000] {
            let values: Vec<String> = (0..len).map(|i| format!("v{i}")).collect();
            let parts: Vec<Vec<u8>> = values
                .iter()
                .map(|v| postcard::to_allocvec(v).expect("a String encodes"))
                .collect();
            let joined = concat_seq(len, parts.iter().map(Vec::as_slice));
            assert_eq!(
                joined,
                postcard::to_allocvec(&values).expect("a Vec encodes"),
                "len {len}"
            );
        }
    }

    fn spec<T, A: IntoArg<T>>(arg: A) -> ArgSpec {
        arg.into_arg().spec.expect("a plain value encodes")
    }

    #[test]
    fn values_and_references_encode_alike() {
        let expected = ArgSpec::Value(vec![0x54]);
        assert_eq!(spec::<i64, _>(42_i64), expected);
        assert_eq!(spec::<i64, _>(&42_i64), expected);
        assert_eq!(
            spec::<String, _>("hi"),
            spec::<String, _>(String::from("hi"))
        );
    }
}
