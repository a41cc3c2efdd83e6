//! Task keys and the digests they are made of (DESIGN §3.1).
//!
//! Architecture Invariant: nothing machine-specific enters a key — no paths, host names, clocks,
//! run ids or wasmtime version. Every input of [`TaskKey::derive`] is a content digest or a value
//! the user chose, so the same task has the same key on every machine.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// Bumped whenever the way a key is derived changes; old checkpoints then simply miss.
pub const KEY_VERSION: u32 = 1;

macro_rules! digest_newtype {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
        pub struct $name(pub [u8; 32]);

        /// A digest is uniformly distributed already: hash maps get its first eight bytes (equal
        /// digests stay equal), and the engine's digest-keyed maps use them as they are.
        impl std::hash::Hash for $name {
            fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
                state.write_u64(digest_prefix(&self.0));
            }
        }

        impl $name {
            /// The digest as 64 lowercase hex digits.
            pub fn to_hex(&self) -> String {
                hex64(&self.0)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&hex64(&self.0))
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({self})", stringify!($name))
            }
        }

        impl FromStr for $name {
            type Err = ParseDigestError;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                parse_hex32(s).map($name)
            }
        }
    };
}

digest_newtype!(
    /// The memo key of a task: equal keys mean equal results (DESIGN §3.1).
    TaskKey
);
digest_newtype!(
    /// blake3 of a module's code-relevant sections (custom sections excluded).
    ModuleDigest
);
digest_newtype!(
    /// blake3 of a value's bytes: an argument, a result, or a file's content.
    ValueDigest
);

impl ValueDigest {
    /// The digest of `bytes`.
    pub fn of(bytes: &[u8]) -> Self {
        ValueDigest(*blake3::hash(bytes).as_bytes())
    }
}

/// The first eight bytes of a digest, as a number.
fn digest_prefix(bytes: &[u8; 32]) -> u64 {
    let mut prefix = [0u8; 8];
    prefix.copy_from_slice(&bytes[..8]);
    u64::from_le_bytes(prefix)
}

/// A hash map keyed by digests ([`TaskKey`], [`ModuleDigest`], [`ValueDigest`]) that skips
/// rehashing them: a memo lookup per task is on the engine's hot path.
pub(crate) type DigestMap<K, V> = std::collections::HashMap<K, V, BuildDigestHasher>;

/// Builds the [`DigestHasher`] of a [`DigestMap`].
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct BuildDigestHasher;

impl std::hash::BuildHasher for BuildDigestHasher {
    type Hasher = DigestHasher;

    fn build_hasher(&self) -> DigestHasher {
        DigestHasher(0)
    }
}

/// Passes a digest's prefix through; anything else written to it is mixed in with a
/// multiply-rotate step (only digests are meant to be hashed with it).
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct DigestHasher(u64);

impl std::hash::Hasher for DigestHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &byte in bytes {
            self.write_u64(u64::from(byte));
        }
    }

    fn write_u64(&mut self, value: u64) {
        self.0 = if self.0 == 0 {
            value
        } else {
            (self.0.rotate_left(26) ^ value).wrapping_mul(0x9e37_79b9_7f4a_7c15)
        };
    }
}

/// The 64 lowercase hex digits of a digest, without `fmt`'s per-byte machinery (a run's summary
/// prints one key per task).
fn hex64(bytes: &[u8; 32]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(64);
    for byte in bytes {
        out.push(DIGITS[usize::from(byte >> 4)] as char);
        out.push(DIGITS[usize::from(byte & 0xf)] as char);
    }
    out
}

/// A string that is not 64 hex digits.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not a digest: expected 64 hex digits")]
pub struct ParseDigestError(String);

fn parse_hex32(s: &str) -> Result<[u8; 32], ParseDigestError> {
    let bad = || ParseDigestError(s.to_owned());
    if s.len() != 64 || !s.is_ascii() {
        return Err(bad());
    }
    let mut out = [0u8; 32];
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = u8::from_str_radix(&s[2 * i..2 * i + 2], 16).map_err(|_| bad())?;
    }
    Ok(out)
}

/// Everything that decides a task's result, and nothing else.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyInputs<'a> {
    /// The module the app lives in.
    pub module: ModuleDigest,
    /// The app's name.
    pub app: &'a str,
    /// The digest of each argument's bytes, in parameter order. An argument that came from an
    /// upstream future contributes the digest of that result's bytes.
    pub args: &'a [ValueDigest],
    /// The content digests of the input files the task reads, in the order it names them.
    pub files: &'a [ValueDigest],
    /// The fuel limit, when one is set: it decides whether a task finishes.
    pub fuel: Option<u64>,
    /// The user's cache salt (empty when none).
    pub salt: &'a str,
}

impl TaskKey {
    /// Derives the key of a task. Every field is framed (lengths and tags) so two different
    /// inputs can never produce the same byte stream.
    pub fn derive(inputs: &KeyInputs<'_>) -> TaskKey {
        use blake3::hazmat::HasherExt;
        // Deriving the context key hashes the context string; do it once per process.
        static CONTEXT: std::sync::LazyLock<blake3::hazmat::ContextKey> =
            std::sync::LazyLock::new(|| {
                blake3::hazmat::hash_derive_key_context("wf 2026 task key")
            });
        // The same bytes as one update per field would give, gathered first: one update is
        // cheaper than a dozen on inputs this small (a key per task is on the hot path).
        let mut bytes = Vec::with_capacity(
            4 + 32
                + 8
                + inputs.app.len()
                + 8
                + 32 * inputs.args.len()
                + 8
                + 32 * inputs.files.len()
                + 9
                + 8
                + inputs.salt.len(),
        );
        bytes.extend_from_slice(&KEY_VERSION.to_le_bytes());
        bytes.extend_from_slice(&inputs.module.0);
        frame_bytes(&mut bytes, inputs.app.as_bytes());
        bytes.extend_from_slice(&(inputs.args.len() as u64).to_le_bytes());
        for arg in inputs.args {
            bytes.extend_from_slice(&arg.0);
        }
        bytes.extend_from_slice(&(inputs.files.len() as u64).to_le_bytes());
        for file in inputs.files {
            bytes.extend_from_slice(&file.0);
        }
        match inputs.fuel {
            None => bytes.push(0),
            Some(fuel) => {
                bytes.push(1);
                bytes.extend_from_slice(&fuel.to_le_bytes());
            }
        };
        frame_bytes(&mut bytes, inputs.salt.as_bytes());
        let mut h = blake3::Hasher::new_from_context_key(&CONTEXT);
        h.update(&bytes);
        TaskKey(*h.finalize().as_bytes())
    }
}

fn frame_bytes(out: &mut Vec<u8>, bytes: &[u8]) {
    out.extend_from_slice(&(bytes.len() as u64).to_le_bytes());
    out.extend_from_slice(bytes);
}

/// Why bytes are not a WebAssembly module.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum NotWasm {
    /// The file does not start with the wasm magic `\0asm`.
    #[error("it does not start with the WebAssembly magic bytes `\\0asm`")]
    NoMagic,
    /// The header names a version other than 1 (e.g. a component).
    #[error("it is a WebAssembly binary of version/layer {0:#x}, not a core module (version 1)")]
    OtherVersion(u32),
    /// A section's length runs past the end of the file.
    #[error("its section at byte offset {offset} is cut short")]
    Truncated {
        /// Where the section starts.
        offset: usize,
    },
}

impl ModuleDigest {
    /// The digest of a module's code-relevant content: every section except custom sections
    /// (names, DWARF, producers), so rebuilding with other debug info changes nothing.
    pub fn of_module(bytes: &[u8]) -> Result<ModuleDigest, NotWasm> {
        if bytes.len() < 8 || &bytes[..4] != b"\0asm" {
            return Err(NotWasm::NoMagic);
        }
        let version = u32::from_le_bytes(bytes[4..8].try_into().expect("4 bytes"));
        if version != 1 {
            return Err(NotWasm::OtherVersion(version));
        }
        let mut h = blake3::Hasher::new_derive_key("wf 2026 module digest");
        let mut at = 8;
        while at < bytes.len() {
            let offset = at;
            let id = bytes[at];
            let (size, used) =
                read_leb_u32(&bytes[at + 1..]).ok_or(NotWasm::Truncated { offset })?;
            let start = at + 1 + used;
            let end = start
                .checked_add(size as usize)
                .filter(|&e| e <= bytes.len());
            let end = end.ok_or(NotWasm::Truncated { offset })?;
            if id != 0 {
                h.update(&[id]);
                h.update(&(u64::from(size)).to_le_bytes());
                h.update(&bytes[start..end]);
            }
            at = end;
        }
        Ok(ModuleDigest(*h.finalize().as_bytes()))
    }
}

/// An unsigned LEB128 `u32`: the value and how many bytes it took.
fn read_leb_u32(bytes: &[u8]) -> Option<(u32, usize)> {
    let mut value: u64 = 0;
    for (i, &byte) in bytes.iter().take(5).enumerate() {
        value |= u64::from(byte & 0x7f) << (7 * i);
        if byte & 0x80 == 0 {
            return u32::try_from(value).ok().map(|v| (v, i + 1));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn inputs<'a>(args: &'a [ValueDigest], salt: &'a str) -> KeyInputs<'a> {
        KeyInputs {
            module: ModuleDigest([7; 32]),
            app: "slow_double",
            args,
            files: &[],
            fuel: None,
            salt,
        }
    }

    /// Golden: these hex strings may change only together with [`KEY_VERSION`].
    #[test]
    fn golden_task_keys() {
        let args = [ValueDigest::of(&[4])];
        assert_eq!(
            TaskKey::derive(&inputs(&args, "")).to_hex(),
            "6dadf5632727b6c10422e29af4b9eeb950ea232ca25e07dd2704ba2b6a6c210f"
        );
        let with_fuel = KeyInputs {
            fuel: Some(1_000_000),
            ..inputs(&args, "salt")
        };
        assert_eq!(
            TaskKey::derive(&with_fuel).to_hex(),
            "e8e493d13a1b99567c8777c7c05493ee59c6ed624f9a1508b8b6d4d933503069"
        );
        assert_eq!(
            ValueDigest::of(b"").to_hex(),
            "af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262"
        );
    }

    /// A module with a type section, and the same with custom sections added.
    fn tiny_module(custom: &[(&str, &[u8])]) -> Vec<u8> {
        let mut m = b"\0asm\x01\0\0\0".to_vec();
        m.extend_from_slice(&[1, 4, 1, 0x60, 0, 0]); // type section: one `[] -> []`
        for (name, data) in custom {
            let mut body = vec![name.len() as u8];
            body.extend_from_slice(name.as_bytes());
            body.extend_from_slice(data);
            m.push(0);
            m.push(body.len() as u8);
            m.extend_from_slice(&body);
        }
        m
    }

    #[test]
    fn module_digest_ignores_custom_sections_only() {
        let plain = ModuleDigest::of_module(&tiny_module(&[])).expect("valid");
        let named = ModuleDigest::of_module(&tiny_module(&[
            ("name", b"\x01\x02"),
            (".debug_info", b"xyz"),
        ]))
        .expect("valid");
        assert_eq!(plain, named);
        let mut other = tiny_module(&[]);
        let last = other.len() - 1;
        other[last] = 1; // the type now has one result... of an invalid type, but other bytes
        assert_ne!(
            plain,
            ModuleDigest::of_module(&other).expect("still framed")
        );
        assert_eq!(
            plain.to_hex(),
            "a176748a7d99b44734f4021e30ea224eb170ce6f0d9a1e5ac2682f5a635d8a52"
        );
    }

    #[test]
    fn module_digest_rejects_non_modules_without_panicking() {
        assert_eq!(ModuleDigest::of_module(b"hello"), Err(NotWasm::NoMagic));
        assert_eq!(
            ModuleDigest::of_module(b"\0asm\x0d\0\x01\0"),
            Err(NotWasm::OtherVersion(0x1000d))
        );
        let full = tiny_module(&[("name", b"abc")]);
        for cut in 8..full.len() {
            // Every cut either parses (at a section boundary) or says where it is truncated.
            let _ = ModuleDigest::of_module(&full[..cut]);
        }
        assert!(matches!(
            ModuleDigest::of_module(&full[..full.len() - 1]),
            Err(NotWasm::Truncated { .. })
        ));
    }

    #[test]
    fn hex_round_trips_and_rejects_garbage() {
        let key = TaskKey([0xab; 32]);
        assert_eq!(key.to_hex().parse::<TaskKey>(), Ok(key));
        assert!("xyz".parse::<TaskKey>().is_err());
        assert!("g".repeat(64).parse::<TaskKey>().is_err());
        assert!("é".repeat(32).parse::<TaskKey>().is_err());
    }

    proptest! {
        /// Any change to any component changes the key.
        #[test]
        fn every_component_matters(
            a in proptest::collection::vec(any::<u8>(), 0..8),
            b in proptest::collection::vec(any::<u8>(), 0..8),
            salt in "[a-z]{0,4}",
            fuel in proptest::option::of(any::<u64>()),
        ) {
            let args = [ValueDigest::of(&a), ValueDigest::of(&b)];
            let base = KeyInputs { fuel, ..inputs(&args, &salt) };
            let key = TaskKey::derive(&base);
            let swapped = [args[1], args[0]];
            if a != b {
                prop_assert_ne!(key, TaskKey::derive(&KeyInputs { args: &swapped, ..base.clone() }));
            }
            prop_assert_ne!(key, TaskKey::derive(&KeyInputs { args: &args[..1], ..base.clone() }));
            prop_assert_ne!(key, TaskKey::derive(&KeyInputs { files: &args[..1], ..base.clone() }));
            prop_assert_ne!(key, TaskKey::derive(&KeyInputs { app: "other", ..base.clone() }));
            prop_assert_ne!(key, TaskKey::derive(&KeyInputs { module: ModuleDigest([8; 32]), ..base.clone() }));
            let salted = format!("{salt}x");
            prop_assert_ne!(key, TaskKey::derive(&KeyInputs { salt: &salted, ..base.clone() }));
            let other_fuel = Some(fuel.map_or(0, |f| f.wrapping_add(1)));
            prop_assert_ne!(key, TaskKey::derive(&KeyInputs { fuel: other_fuel, ..base.clone() }));
            // Moving a digest from the argument list to the file list changes the key.
            prop_assert_ne!(
                TaskKey::derive(&KeyInputs { args: &args, files: &[], ..base.clone() }),
                TaskKey::derive(&KeyInputs { args: &args[..1], files: &args[1..], ..base.clone() })
            );
        }
    }
}
