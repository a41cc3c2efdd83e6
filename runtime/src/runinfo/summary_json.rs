//! The layout of `summary.json`: indented like pretty JSON for the first two levels (the run's
//! fields, and one line per element of its lists), compact below. A million-task summary stays
//! readable line by line and greppable, without paying a line and an indentation per field of
//! every task — about a quarter of the bytes pretty JSON would take, written that much faster.

use std::io::{self, Write};

use serde::Serialize;

/// Containers nested this deep or less are laid out one member per line.
const LINE_DEPTH: usize = 2;

/// `value` as JSON in the layout above.
pub(crate) fn to_vec<T: Serialize + ?Sized>(value: &T) -> serde_json::Result<Vec<u8>> {
    let mut out = Vec::with_capacity(4096);
    let mut ser = serde_json::Serializer::with_formatter(&mut out, LinePerItem::default());
    value.serialize(&mut ser)?;
    Ok(out)
}

#[derive(Default)]
struct LinePerItem {
    /// Containers open around the current position.
    depth: usize,
    /// Whether the container being closed holds anything (as in serde_json's pretty formatter).
    has_value: bool,
}

impl LinePerItem {
    fn line<W: ?Sized + Write>(w: &mut W, depth: usize) -> io::Result<()> {
        w.write_all(b"\n")?;
        for _ in 0..depth {
            w.write_all(b"  ")?;
        }
        Ok(())
    }

    fn open<W: ?Sized + Write>(&mut self, w: &mut W, bracket: &[u8]) -> io::Result<()> {
        self.depth += 1;
        self.has_value = false;
        w.write_all(bracket)
    }

    fn close<W: ?Sized + Write>(&mut self, w: &mut W, bracket: &[u8]) -> io::Result<()> {
        self.depth -= 1;
        if self.has_value && self.depth < LINE_DEPTH {
            Self::line(w, self.depth)?;
        }
        w.write_all(bracket)
    }

    fn member<W: ?Sized + Write>(&mut self, w: &mut W, first: bool) -> io::Result<()> {
        if !first {
            w.write_all(b",")?;
        }
        if self.depth <= LINE_DEPTH {
            Self::line(w, self.depth)?;
        }
        Ok(())
    }
}

impl serde_json::ser::Formatter for LinePerItem {
    fn begin_array<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.open(w, b"[")
    }

    fn end_array<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.close(w, b"]")
    }

    fn begin_array_value<W: ?Sized + Write>(&mut self, w: &mut W, first: bool) -> io::Result<()> {
        self.member(w, first)
    }

    fn end_array_value<W: ?Sized + Write>(&mut self, _w: &mut W) -> io::Result<()> {
        self.has_value = true;
        Ok(())
    }

    fn begin_object<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.open(w, b"{")
    }

    fn end_object<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.close(w, b"}")
    }

    fn begin_object_key<W: ?Sized + Write>(&mut self, w: &mut W, first: bool) -> io::Result<()> {
        self.member(w, first)
    }

    fn begin_object_value<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
        w.write_all(if self.depth <= LINE_DEPTH {
            b": "
        } else {
            b":"
        })
    }

    fn end_object_value<W: ?Sized + Write>(&mut self, _w: &mut W) -> io::Result<()> {
        self.has_value = true;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn two_levels_on_lines_the_rest_compact() {
        let value = serde_json::json!({
            "id": "000",
            "empty": [],
            "none": {},
            "task_list": [
                { "id": 0, "error": { "kind": "trap", "message": "a\nb" }, "xs": [1, 2] },
                { "id": 1 }
            ]
        });
        let text = String::from_utf8(to_vec(&value).expect("serializes")).expect("UTF-8");
        assert_eq!(
            text,
            "{\n  \"empty\": [],\n  \"id\": \"000\",\n  \"none\": {},\n  \"task_list\": [\n    \
             {\"error\":{\"kind\":\"trap\",\"message\":\"a\\nb\"},\"id\":0,\"xs\":[1,2]},\n    \
             {\"id\":1}\n  ]\n}"
        );
        let back: serde_json::Value = serde_json::from_str(&text).expect("still JSON");
        assert_eq!(back, value);
    }
}
