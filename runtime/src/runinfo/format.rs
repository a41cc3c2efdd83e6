//! The checkpoint log's byte format (see `FORMAT.md` beside this file): pure encoding and
//! scanning over byte slices, no I/O.
//!
//! Architecture Invariant: nothing here panics on any input bytes, and a scan reports every byte
//! range it did not accept as a record.

use super::error::LoadProblem;
use super::record::{CheckpointRecord, RecordRef};

/// The version of the checkpoint log format this build writes and reads.
pub const FORMAT_VERSION: u32 = 2;

/// The log's file name inside a checkpoint directory.
pub(crate) const LOG_FILE: &str = "log.wfck";

/// The first 8 bytes of every log. The high first byte and the CR LF / SUB pair catch 7-bit and
/// newline-mangling copies, like PNG's signature.
pub(crate) const MAGIC: [u8; 8] = *b"\x89WFCK\r\n\x1a";

/// Magic, version (u32 LE), crc32 of the preceding 12 bytes (u32 LE).
pub(crate) const HEADER_LEN: usize = 16;

/// Starts every record, so a reader can find the next record after a damaged one.
pub(crate) const SYNC_MARKER: [u8; 4] = [0xf1, 0x9c, 0x5a, 0xd3];

/// Sync marker, crc32 (u32 LE) of length ‖ payload, length (u32 LE).
pub(crate) const FRAME_OVERHEAD: usize = 12;

/// The largest payload a record may have; larger results belong in blobs. It also bounds what a
/// damaged length field can make a reader consider.
pub(crate) const MAX_PAYLOAD_LEN: usize = 16 << 20;

/// The header every log starts with.
pub(crate) fn header() -> [u8; HEADER_LEN] {
    let mut header = [0u8; HEADER_LEN];
    header[..8].copy_from_slice(&MAGIC);
    header[8..12].copy_from_slice(&FORMAT_VERSION.to_le_bytes());
    let crc = crc32fast::hash(&header[..12]);
    header[12..].copy_from_slice(&crc.to_le_bytes());
    header
}

/// Why a log's header is not acceptable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum HeaderProblem {
    /// The file is a strict prefix of a valid header (a crash while creating it).
    Torn,
    /// Not our magic.
    BadMagic,
    /// Our magic, but the checksum does not match.
    Damaged,
    /// A whole, intact header of another version.
    Unsupported(u32),
}

/// Checks the first [`HEADER_LEN`] bytes of a log.
pub(crate) fn check_header(bytes: &[u8]) -> Result<(), HeaderProblem> {
    let expected = header();
    if bytes.len() < HEADER_LEN {
        return if expected.starts_with(bytes) {
            Err(HeaderProblem::Torn)
        } else if MAGIC.starts_with(&bytes[..bytes.len().min(8)]) {
            Err(HeaderProblem::Damaged)
        } else {
            Err(HeaderProblem::BadMagic)
        };
    }
    if bytes[..8] != MAGIC {
        return Err(HeaderProblem::BadMagic);
    }
    let stored_crc = u32::from_le_bytes([bytes[12], bytes[13], bytes[14], bytes[15]]);
    if crc32fast::hash(&bytes[..12]) != stored_crc {
        return Err(HeaderProblem::Damaged);
    }
    let version = u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]);
    if version != FORMAT_VERSION {
        return Err(HeaderProblem::Unsupported(version));
    }
    Ok(())
}

/// Appends one framed record to `out`. Returns the payload length, or `Err(len)` (leaving `out`
/// as it was) when the payload is over [`MAX_PAYLOAD_LEN`].
pub(crate) fn encode_frame(record: &CheckpointRecord, out: &mut Vec<u8>) -> Result<usize, usize> {
    let start = out.len();
    out.extend_from_slice(&SYNC_MARKER);
    out.extend_from_slice(&[0; 8]);
    let buf = std::mem::take(out);
    // Serializing into a Vec fails only for types postcard cannot represent (none here) or when
    // allocation fails, which aborts anyway.
    *out = postcard::to_extend(record, buf).expect("every record type is postcard-serializable");
    let len = out.len() - start - FRAME_OVERHEAD;
    if len > MAX_PAYLOAD_LEN {
        out.truncate(start);
        return Err(len);
    }
    let len_bytes = (len as u32).to_le_bytes();
    out[start + 8..start + 12].copy_from_slice(&len_bytes);
    let crc = crc32fast::hash(&out[start + 8..]);
    out[start + 4..start + 8].copy_from_slice(&crc.to_le_bytes());
    Ok(len)
}

/// Decodes a payload that passed its checksum. The whole payload must be one record.
pub(crate) fn decode_payload(payload: &[u8]) -> Result<RecordRef<'_>, LoadProblem> {
    let (record, rest) = postcard::take_from_bytes::<RecordRef<'_>>(payload)
        .map_err(|reason| LoadProblem::Undecodable { reason })?;
    if !rest.is_empty() {
        return Err(LoadProblem::Undecodable {
            reason: postcard::Error::DeserializeBadEncoding,
        });
    }
    if let Some(name) = record.invalid_output_name() {
        return Err(LoadProblem::InvalidOutputName {
            name: name.to_owned(),
        });
    }
    Ok(record)
}

/// Where a valid record's payload lies in the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Span {
    /// Offset of the payload's first byte.
    pub start: usize,
    /// Payload length.
    pub len: u32,
}

impl Span {
    pub(crate) fn bytes<'a>(&self, file: &'a [u8]) -> Option<&'a [u8]> {
        file.get(self.start..self.start + self.len as usize)
    }

    /// Offset of the record's frame (its sync marker).
    pub(crate) fn frame_offset(&self) -> usize {
        self.start - FRAME_OVERHEAD
    }
}

/// A byte range of the log that was not accepted as a record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Skipped {
    pub offset: usize,
    pub len: usize,
    pub problem: LoadProblem,
}

/// The result of scanning a log's records.
#[derive(Debug, Default)]
pub(crate) struct Scan {
    pub spans: Vec<Span>,
    pub skipped: Vec<Skipped>,
}

enum Frame {
    Valid(Span),
    /// The bytes from here to the end are a strict prefix of a frame.
    Truncated,
    Bad(LoadProblem),
}

fn frame_at(file: &[u8], pos: usize) -> Frame {
    let rest = &file[pos..];
    if rest.len() < SYNC_MARKER.len() {
        return if SYNC_MARKER.starts_with(rest) {
            Frame::Truncated
        } else {
            Frame::Bad(LoadProblem::MissingSyncMarker)
        };
    }
    if rest[..4] != SYNC_MARKER {
        return Frame::Bad(LoadProblem::MissingSyncMarker);
    }
    if rest.len() < FRAME_OVERHEAD {
        return Frame::Truncated;
    }
    let stored = u32::from_le_bytes([rest[4], rest[5], rest[6], rest[7]]);
    let len = u32::from_le_bytes([rest[8], rest[9], rest[10], rest[11]]);
    if len as usize > MAX_PAYLOAD_LEN {
        return Frame::Bad(LoadProblem::BadLength {
            len: len.into(),
            past_end: false,
        });
    }
    let Some(checked) = rest.get(8..FRAME_OVERHEAD + len as usize) else {
        return Frame::Truncated;
    };
    let computed = crc32fast::hash(checked);
    if computed != stored {
        return Frame::Bad(LoadProblem::BadChecksum { stored, computed });
    }
    let span = Span {
        start: pos + FRAME_OVERHEAD,
        len,
    };
    match decode_payload(&checked[4..]) {
        Ok(_) => Frame::Valid(span),
        Err(problem) => Frame::Bad(problem),
    }
}

/// The next offset after `from` where a valid record starts.
fn resync(file: &[u8], from: usize) -> Option<(usize, Span)> {
    let mut pos = from;
    while pos < file.len() {
        let found = file[pos..].iter().position(|&b| b == SYNC_MARKER[0])?;
        pos += found;
        if let Frame::Valid(span) = frame_at(file, pos) {
            return Some((pos, span));
        }
        pos += 1;
    }
    None
}

/// Finds every valid record of `file` (a whole log, header included) after `body_start`, in
/// order, and every byte range that is not one.
///
/// A damaged record costs only itself: scanning resumes at the next sync marker that starts a
/// valid record. Bytes after the last valid record are a torn tail when they are the beginning
/// of a record cut short or all zero (what a crash leaves); otherwise they are reported as damage.
pub(crate) fn scan_records(file: &[u8], body_start: usize) -> Scan {
    let mut scan = Scan {
        // Every payload holds two 32-byte digests, so a file has at most one record per 64
        // bytes: the index never regrows (and is trimmed after the load).
        spans: Vec::with_capacity(file.len().saturating_sub(body_start) / 64),
        skipped: Vec::new(),
    };
    let mut pos = body_start;
    while pos < file.len() {
        let problem = match frame_at(file, pos) {
            Frame::Valid(span) => {
                scan.spans.push(span);
                pos = span.start + span.len as usize;
                continue;
            }
            Frame::Truncated => None,
            Frame::Bad(problem) => Some(problem),
        };
        match resync(file, pos + 1) {
            Some((next, span)) => {
                let problem = problem.unwrap_or_else(|| {
                    // A record cut short cannot be followed by a whole one: its length lies.
                    let len = file.get(pos + 8..pos + 12).map_or(0, |b| {
                        u64::from(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                    });
                    LoadProblem::BadLength {
                        len,
                        past_end: true,
                    }
                });
                scan.skipped.push(Skipped {
                    offset: pos,
                    len: next - pos,
                    problem,
                });
                scan.spans.push(span);
                pos = span.start + span.len as usize;
            }
            None => {
                let torn = problem.is_none() || file[pos..].iter().all(|&b| b == 0);
                let problem = if torn {
                    LoadProblem::TornTail
                } else {
                    problem.unwrap_or(LoadProblem::TornTail)
                };
                scan.skipped.push(Skipped {
                    offset: pos,
                    len: file.len() - pos,
                    problem,
                });
                break;
            }
        }
    }
    scan
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::key::{ModuleDigest, TaskKey, ValueDigest};
    use crate::runinfo::record::{GuestFailure, Outcome, OutputFile, Payload, TaskInputs};
    use proptest::prelude::*;

    fn hex(bytes: &[u8]) -> String {
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }

    fn sample() -> CheckpointRecord {
        CheckpointRecord {
            key: TaskKey([0x11; 32]),
            app: "slow_double".to_owned(),
            module: ModuleDigest([0x22; 32]),
            outcome: Outcome::Ok(Payload::Inline(vec![8])),
            outputs: vec![],
            started_unix_ms: 1_700_000_000_000,
            duration_us: 1234,
            attempts: 1,
            inputs: TaskInputs {
                args: vec![Payload::Inline(vec![4])],
                files: vec![],
                fuel: None,
                salt: String::new(),
            },
        }
    }

    fn log_of(records: &[CheckpointRecord]) -> Vec<u8> {
        let mut file = header().to_vec();
        for record in records {
            encode_frame(record, &mut file).expect("small record");
        }
        file
    }

    fn decoded(file: &[u8], scan: &Scan) -> Vec<CheckpointRecord> {
        scan.spans
            .iter()
            .map(|s| {
                decode_payload(s.bytes(file).expect("in file"))
                    .expect("valid")
                    .to_record()
            })
            .collect()
    }

    /// Golden: these bytes may change only together with [`FORMAT_VERSION`].
    #[test]
    fn golden_header_and_record() {
        assert_eq!(hex(&header()), "895746434b0d0a1a0200000029c86797");
        let mut frame = Vec::new();
        encode_frame(&sample(), &mut frame).expect("small record");
        assert_eq!(
            hex(&frame),
            concat!(
                "f19c5ad3",                                                         // sync marker
                "d81b47d5", // crc32 of length ‖ payload
                "62000000", // payload length 98
                "1111111111111111111111111111111111111111111111111111111111111111", // key
                "0b736c6f775f646f75626c65", // app "slow_double"
                "2222222222222222222222222222222222222222222222222222222222222222", // module
                "00000108", // Ok(Inline([8]))
                "00",       // no outputs
                "80d095ffbc31", // started_unix_ms (varint)
                "d209",     // duration_us
                "01",       // attempts
                "0701000104000000", // inputs: 7 bytes: one inline arg [4], no files, no fuel, no salt
            )
        );
    }

    #[test]
    fn header_problems_are_told_apart() {
        let good = header();
        assert_eq!(check_header(&good), Ok(()));
        assert_eq!(check_header(&good[..5]), Err(HeaderProblem::Torn));
        assert_eq!(check_header(b""), Err(HeaderProblem::Torn));
        assert_eq!(
            check_header(b"{\"json\": true}\n\n"),
            Err(HeaderProblem::BadMagic)
        );
        let mut damaged = good;
        damaged[9] ^= 1;
        assert_eq!(check_header(&damaged), Err(HeaderProblem::Damaged));
        let mut newer = good;
        newer[8] = 3;
        let crc = crc32fast::hash(&newer[..12]);
        newer[12..].copy_from_slice(&crc.to_le_bytes());
        assert_eq!(check_header(&newer), Err(HeaderProblem::Unsupported(3)));
    }

    #[test]
    fn zero_filled_tail_is_torn() {
        let mut file = log_of(&[sample(), sample()]);
        let whole = file.len();
        file.extend_from_slice(&[0; 100]);
        let scan = scan_records(&file, HEADER_LEN);
        assert_eq!(scan.spans.len(), 2);
        assert_eq!(
            scan.skipped,
            vec![Skipped {
                offset: whole,
                len: 100,
                problem: LoadProblem::TornTail
            }]
        );
    }

    #[test]
    fn trailing_garbage_is_damage() {
        let mut file = log_of(&[sample()]);
        file.extend_from_slice(b"garbage");
        let scan = scan_records(&file, HEADER_LEN);
        assert_eq!(scan.spans.len(), 1);
        assert_eq!(scan.skipped.len(), 1);
        assert_eq!(scan.skipped[0].problem, LoadProblem::MissingSyncMarker);
    }

    #[test]
    fn oversized_record_is_refused() {
        let mut record = sample();
        record.outcome = Outcome::Ok(Payload::Inline(vec![0; MAX_PAYLOAD_LEN + 1]));
        let mut out = vec![1, 2, 3];
        assert!(encode_frame(&record, &mut out).is_err());
        assert_eq!(out, vec![1, 2, 3]);
    }

    fn arb_digest() -> impl Strategy<Value = [u8; 32]> {
        any::<[u8; 32]>()
    }

    fn arb_inputs() -> impl Strategy<Value = TaskInputs> {
        let arg = prop_oneof![
            proptest::collection::vec(any::<u8>(), 0..20).prop_map(Payload::Inline),
            (arb_digest(), any::<u64>()).prop_map(|(d, len)| Payload::Blob {
                digest: ValueDigest(d),
                len
            }),
        ];
        (
            proptest::collection::vec(arg, 0..3),
            proptest::collection::vec(arb_digest().prop_map(ValueDigest), 0..2),
            any::<Option<u64>>(),
            "[a-z]{0,4}",
        )
            .prop_map(|(args, files, fuel, salt)| TaskInputs {
                args,
                files,
                fuel,
                salt,
            })
    }

    fn arb_record() -> impl Strategy<Value = CheckpointRecord> {
        let payload = prop_oneof![
            proptest::collection::vec(any::<u8>(), 0..40).prop_map(Payload::Inline),
            (arb_digest(), any::<u64>()).prop_map(|(d, len)| Payload::Blob {
                digest: ValueDigest(d),
                len
            }),
        ];
        let kind = prop_oneof![
            Just(GuestFailure::AppError),
            Just(GuestFailure::Panic),
            Just(GuestFailure::Trap),
            Just(GuestFailure::FuelExhausted),
            Just(GuestFailure::MemoryLimit),
            Just(GuestFailure::BadInput),
        ];
        let outcome = prop_oneof![
            payload.prop_map(Outcome::Ok),
            (kind, ".{0,20}").prop_map(|(kind, message)| Outcome::Failed { kind, message }),
        ];
        let outputs = proptest::collection::vec(
            ("[a-z]{1,5}(/[a-z]{1,5}){0,2}", arb_digest(), any::<u64>()).prop_map(
                |(name, d, len)| OutputFile {
                    name,
                    digest: ValueDigest(d),
                    len,
                },
            ),
            0..3,
        );
        (
            arb_digest(),
            "[a-z_]{1,12}",
            arb_digest(),
            outcome,
            outputs,
            any::<u64>(),
            any::<u64>(),
            any::<u32>(),
            arb_inputs(),
        )
            .prop_map(
                |(key, app, module, outcome, outputs, started, duration, attempts, inputs)| {
                    CheckpointRecord {
                        key: TaskKey(key),
                        app,
                        module: ModuleDigest(module),
                        outcome,
                        outputs,
                        started_unix_ms: started,
                        duration_us: duration,
                        attempts,
                        inputs,
                    }
                },
            )
    }

    proptest! {
        #[test]
        fn records_round_trip(records in proptest::collection::vec(arb_record(), 0..8)) {
            let file = log_of(&records);
            let scan = scan_records(&file, HEADER_LEN);
            prop_assert!(scan.skipped.is_empty());
            prop_assert_eq!(decoded(&file, &scan), records.clone());
            for record in &records {
                let without_inputs = CheckpointRecord { inputs: TaskInputs::default(), ..record.clone() };
                prop_assert_eq!(record.as_record_ref().to_record(), without_inputs);
            }
        }

        /// A log cut at any byte loads a prefix of its records, with at most a torn-tail warning.
        #[test]
        fn cut_anywhere_loads_a_prefix(records in proptest::collection::vec(arb_record(), 1..5)) {
            let file = log_of(&records);
            for cut in 0..=file.len() {
                let part = &file[..cut];
                if cut < HEADER_LEN {
                    prop_assert_eq!(check_header(part), Err(HeaderProblem::Torn));
                    continue;
                }
                prop_assert_eq!(check_header(part), Ok(()));
                let scan = scan_records(part, HEADER_LEN);
                let got = decoded(part, &scan);
                prop_assert_eq!(&got[..], &records[..got.len()]);
                prop_assert!(scan.skipped.len() <= 1, "cut {}: {:?}", cut, scan.skipped);
                for skipped in &scan.skipped {
                    prop_assert_eq!(&skipped.problem, &LoadProblem::TornTail);
                    prop_assert_eq!(skipped.offset + skipped.len, cut);
                }
                // Only the record the cut went through is lost.
                let whole = log_of(&records[..got.len()]).len();
                prop_assert_eq!(scan.skipped.is_empty(), whole == cut);
            }
        }

        /// Flipped bytes anywhere after the header: no panic, every damaged record is reported
        /// at an offset that covers it, and every undamaged record is still loaded.
        #[test]
        fn flipped_bytes_cost_only_their_records(
            records in proptest::collection::vec(arb_record(), 1..8),
            flips in proptest::collection::vec((any::<prop::sample::Index>(), 1u8..=255), 1..4),
        ) {
            let mut file = log_of(&records);
            let body = file.len() - HEADER_LEN;
            let mut frames = Vec::new();
            let mut at = HEADER_LEN;
            for record in &records {
                let len = log_of(std::slice::from_ref(record)).len() - HEADER_LEN;
                frames.push(at..at + len);
                at += len;
            }
            let mut flipped = Vec::new();
            for (index, xor) in &flips {
                let pos = HEADER_LEN + index.index(body);
                file[pos] ^= xor;
                flipped.push(pos);
            }
            let scan = scan_records(&file, HEADER_LEN);
            let damaged: Vec<bool> = frames
                .iter()
                .map(|f| flipped.iter().any(|p| f.contains(p)))
                .collect();
            let expected: Vec<CheckpointRecord> = records
                .iter()
                .zip(&damaged)
                .filter(|(_, d)| !**d)
                .map(|(r, _)| r.clone())
                .collect();
            prop_assert_eq!(decoded(&file, &scan), expected);
            for (frame, _) in frames.iter().zip(&damaged).filter(|(_, d)| **d) {
                prop_assert!(
                    scan.skipped.iter().any(|s| s.offset <= frame.start && frame.start < s.offset + s.len),
                    "damaged frame at {} not reported: {:?}", frame.start, scan.skipped
                );
            }
        }

        /// Arbitrary bytes never panic the scanner, and whatever it accepts decodes.
        #[test]
        fn garbage_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
            let mut file = header().to_vec();
            file.extend_from_slice(&bytes);
            let scan = scan_records(&file, HEADER_LEN);
            for span in &scan.spans {
                prop_assert!(decode_payload(span.bytes(&file).expect("in file")).is_ok());
            }
            let _ = check_header(&bytes);
        }
    }
}
