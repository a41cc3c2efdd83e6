//! Files passed between tasks by content.
//!
//! A [`File`] is a blake3 digest and a length: renaming or moving a file changes nothing, editing
//! one byte makes it another file. A workflow names input files with [`File::input`] (only from
//! directories the user granted); an app reads the files its arguments name with [`File::read`]
//! and makes output files with [`File::create`], which the host stores by content and hands to
//! downstream apps.

use std::cell::RefCell;

use postcard_schema::Schema;
use postcard_schema::schema::{DataModelType, NamedType, NamedValue};
use serde::{Deserialize, Serialize, Serializer};

use crate::Error;

/// A file, by content.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize)]
pub struct File {
    digest: [u8; 32],
    len: u64,
}

thread_local! {
    /// Digests of the files serialized since the last submission: the files a task's
    /// arguments name, which the host then places in the task's sandbox.
    static NAMED: RefCell<Vec<[u8; 32]>> = const { RefCell::new(Vec::new()) };
}

impl Serialize for File {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        NAMED.with(|named| named.borrow_mut().push(self.digest));
        wf_abi::FileRef {
            digest: self.digest,
            len: self.len,
        }
        .serialize(serializer)
    }
}

impl Schema for File {
    const SCHEMA: &'static NamedType = &NamedType {
        name: wf_abi::FILE_SCHEMA_NAME,
        ty: &DataModelType::Struct(&[
            &NamedValue {
                name: "digest",
                ty: <[u8; 32] as Schema>::SCHEMA,
            },
            &NamedValue {
                name: "len",
                ty: <u64 as Schema>::SCHEMA,
            },
        ]),
    };
}

/// The files named since the last call, for a submission (only modules submit to a host).
#[cfg_attr(not(target_arch = "wasm32"), allow(dead_code))]
pub(crate) fn take_named() -> Vec<[u8; 32]> {
    NAMED.with(|named| std::mem::take(&mut *named.borrow_mut()))
}

fn hex(digest: &[u8; 32]) -> String {
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

impl File {
    /// The file's blake3 digest, as 64 hex digits.
    pub fn digest_hex(&self) -> String {
        hex(&self.digest)
    }

    /// Its length in bytes.
    pub fn len(&self) -> u64 {
        self.len
    }

    /// Whether it is empty.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// In a workflow: the input file `name`, relative to a directory the user granted
    /// (`wfrun run --input-dir DIR`). Fails if no granted directory has it.
    pub fn input(name: &str) -> crate::Result<File> {
        imp::input(name)
    }

    /// In an app: the file's content. Only files named by the app's arguments are readable.
    pub fn read(&self) -> std::io::Result<Vec<u8>> {
        imp::read(self)
    }

    /// In an app: writes an output file called `name` (a plain file name) and returns it. The
    /// host stores it by content with the run; pass it to other apps or return it.
    pub fn create(name: &str, contents: &[u8]) -> std::io::Result<File> {
        if name.is_empty()
            || name.contains('/')
            || name.contains('\\')
            || name == "."
            || name == ".."
        {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                format!("`{name}` is not a plain file name"),
            ));
        }
        imp::create(name, contents)
    }

    fn of(contents: &[u8]) -> File {
        File {
            digest: *blake3::hash(contents).as_bytes(),
            len: contents.len() as u64,
        }
    }
}

#[cfg(target_arch = "wasm32")]
mod imp {
    use super::*;

    pub fn input(name: &str) -> crate::Result<File> {
        let bytes = crate::host::input_file(name).map_err(Error::msg)?;
        let file: wf_abi::FileRef = postcard::from_bytes(&bytes).map_err(|e| {
            Error::msg(format!("the host's answer for `{name}` is unreadable: {e}"))
        })?;
        Ok(File {
            digest: file.digest,
            len: file.len,
        })
    }

    pub fn read(file: &File) -> std::io::Result<Vec<u8>> {
        std::fs::read(format!("{}/{}", wf_abi::GUEST_INPUT_DIR, hex(&file.digest)))
    }

    pub fn create(name: &str, contents: &[u8]) -> std::io::Result<File> {
        std::fs::write(format!("{}/{name}", wf_abi::GUEST_OUTPUT_DIR), contents)?;
        Ok(File::of(contents))
    }
}

/// Natively (unit tests), files live in the process's memory: `input` reads the path from the
/// current directory, `create` keeps the bytes.
#[cfg(not(target_arch = "wasm32"))]
mod imp {
    use std::collections::HashMap;
    use std::sync::Mutex;

    use super::*;

    static CONTENTS: Mutex<Option<HashMap<[u8; 32], Vec<u8>>>> = Mutex::new(None);

    fn keep(contents: &[u8]) -> File {
        let file = File::of(contents);
        if let Ok(mut map) = CONTENTS.lock() {
            map.get_or_insert_with(HashMap::new)
                .insert(file.digest, contents.to_vec());
        }
        file
    }

    pub fn input(name: &str) -> crate::Result<File> {
        let contents =
            std::fs::read(name).map_err(|e| Error::msg(format!("input file `{name}`: {e}")))?;
        Ok(keep(&contents))
    }

    pub fn read(file: &File) -> std::io::Result<Vec<u8>> {
        CONTENTS
            .lock()
            .ok()
            .and_then(|map| map.as_ref().and_then(|m| m.get(&file.digest).cloned()))
            .ok_or_else(|| std::io::Error::new(std::io::ErrorKind::NotFound, "no such file"))
    }

    pub fn create(_name: &str, contents: &[u8]) -> std::io::Result<File> {
        Ok(keep(contents))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_is_its_content_on_the_wire() {
        let file = File::create("a.txt", b"hello").expect("create");
        let bytes = postcard::to_allocvec(&file).expect("encode");
        let wire: wf_abi::FileRef = postcard::from_bytes(&bytes).expect("decode");
        assert_eq!(wire.digest, *blake3::hash(b"hello").as_bytes());
        assert_eq!(wire.len, 5);
        assert_eq!(take_named(), vec![wire.digest]);
        assert_eq!(file.read().expect("read"), b"hello");
        assert!(File::create("../x", b"").is_err());
    }
}
