//! Any bytes as a checkpoint log: the reader may report damage, never panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("log.wfck"), data).expect("write");
    if let Ok(loaded) = wf_runtime::load_checkpoint_dir(dir.path()) {
        for record in loaded.records() {
            let _ = record.to_record();
        }
        let _ = loaded.warnings().len();
    }
});
