//! Turning argument sources into argument bytes.

use super::{ArgSource, TaskArgs, TaskId};

/// The postcard encoding of a `Vec<T>` whose elements are already encoded: the element count
/// as an unsigned LEB128 varint, then the elements back to back. This is exactly what
/// `postcard::to_allocvec(&vec)` produces, so an app taking `Vec<T>` reads a fan-in of futures
/// as if the workflow had passed the values.
pub fn encode_fan_in<'a, I>(elements: I) -> Vec<u8>
where
    I: IntoIterator<Item = &'a [u8]>,
    I::IntoIter: Clone,
{
    let elements = elements.into_iter();
    let (count, len) = elements
        .clone()
        .fold((0u64, 0usize), |(n, len), e| (n + 1, len + e.len()));
    let mut out = Vec::with_capacity(varint_len(count) + len);
    push_varint(&mut out, count);
    for e in elements {
        out.extend_from_slice(e);
    }
    out
}

/// Builds a ready task's arguments, taking values by move. `result_of` gives the bytes of a
/// resolved dependency.
pub(super) fn assemble<'a>(
    args: Vec<ArgSource>,
    result_of: impl Fn(TaskId) -> &'a [u8],
) -> TaskArgs {
    args.into_iter()
        .map(|arg| match arg {
            ArgSource::Value(bytes) => bytes,
            ArgSource::Future(id) => result_of(id).to_vec(),
            ArgSource::Futures(ids) => encode_fan_in(ids.iter().map(|&id| result_of(id))),
        })
        .collect()
}

fn varint_len(mut value: u64) -> usize {
    let mut len = 1;
    while value >= 0x80 {
        value >>= 7;
        len += 1;
    }
    len
}

fn push_varint(out: &mut Vec<u8>, mut value: u64) {
    while value >= 0x80 {
        out.push((value as u8) | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn encoded<T: serde::Serialize>(items: &[T]) -> Vec<Vec<u8>> {
        items
            .iter()
            .map(|i| postcard::to_allocvec(i).expect("encodes"))
            .collect()
    }

    #[test]
    fn empty_and_long_vectors_match_postcard() {
        let empty: Vec<i64> = Vec::new();
        assert_eq!(
            encode_fan_in(std::iter::empty()),
            postcard::to_allocvec(&empty).expect("encodes")
        );
        // 300 elements need a two-byte count.
        let many: Vec<u8> = (0..300).map(|i| i as u8).collect();
        let parts = encoded(&many);
        assert_eq!(
            encode_fan_in(parts.iter().map(Vec::as_slice)),
            postcard::to_allocvec(&many).expect("encodes")
        );
    }

    proptest! {
        #[test]
        fn fan_in_is_postcard_vec(
            ints in proptest::collection::vec(any::<i64>(), 0..200),
            strings in proptest::collection::vec(".{0,12}", 0..40),
        ) {
            let parts = encoded(&ints);
            prop_assert_eq!(
                encode_fan_in(parts.iter().map(Vec::as_slice)),
                postcard::to_allocvec(&ints).expect("encodes")
            );
            let parts = encoded(&strings);
            prop_assert_eq!(
                encode_fan_in(parts.iter().map(Vec::as_slice)),
                postcard::to_allocvec(&strings).expect("encodes")
            );
        }

        #[test]
        fn varint_len_is_exact(value in any::<u64>()) {
            let mut out = Vec::new();
            push_varint(&mut out, value);
            prop_assert_eq!(out.len(), varint_len(value));
            prop_assert_eq!(out, postcard::to_allocvec(&value).expect("encodes"));
        }
    }
}
