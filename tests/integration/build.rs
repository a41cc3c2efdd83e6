//! `wfrun build` is reproducible: the same source in two directories gives identical modules.

use std::path::Path;

use wf_runtime::{BuildOptions, build_guest};

/// Copies the guest SDK and one app into a fresh workspace at `dest`.
fn copy_guest_workspace(dest: &Path) {
    let root = wf_tests::workspace_root();
    for dir in [
        "guest-sdk/abi",
        "guest-sdk/macros",
        "guest-sdk",
        "apps/basics",
    ] {
        copy_dir(&root.join(dir), &dest.join(dir));
    }
    std::fs::copy(root.join("Cargo.lock"), dest.join("Cargo.lock")).expect("copy Cargo.lock");
    let manifest = std::fs::read_to_string(root.join("Cargo.toml")).expect("root manifest");
    // Keep everything but the member list, which names crates this copy does not have.
    let start = manifest.find("members = [").expect("a member list");
    let end = start + manifest[start..].find(']').expect("closed");
    let manifest = format!(
        "{}members = [\"guest-sdk/abi\", \"guest-sdk/macros\", \"guest-sdk\", \"apps/basics\"]{}",
        &manifest[..start],
        &manifest[end + 1..]
    );
    std::fs::write(dest.join("Cargo.toml"), manifest).expect("write manifest");
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for entry in std::fs::read_dir(from).expect("read dir") {
        let entry = entry.expect("entry");
        let name = entry.file_name();
        if name == "target" || name == "tests" && from.ends_with("guest-sdk") {
            continue;
        }
        let kind = entry.file_type().expect("file type");
        if kind.is_dir() {
            copy_dir(&entry.path(), &to.join(&name));
        } else if kind.is_file() {
            std::fs::copy(entry.path(), to.join(&name)).expect("copy");
        }
    }
}

#[test]
fn the_same_source_in_two_directories_builds_byte_identical_modules() {
    let a = tempfile::tempdir().expect("tempdir");
    let b = tempfile::tempdir().expect("tempdir");
    copy_guest_workspace(a.path());
    copy_guest_workspace(&b.path().join("deeper/elsewhere"));
    // One target directory for both, as on a build machine: it is remapped too, and sharing it
    // spares compiling the dependencies twice.
    let options = BuildOptions {
        target_dir: Some(wf_tests::test_target_dir().join("repro")),
        quiet: true,
    };
    let built_a = build_guest(&a.path().join("apps/basics"), &options).expect("build a");
    let bytes_a = std::fs::read(&built_a[0]).expect("read a");
    let built_b =
        build_guest(&b.path().join("deeper/elsewhere/apps/basics"), &options).expect("build b");
    let bytes_b = std::fs::read(&built_b[0]).expect("read b");
    assert!(
        bytes_a == bytes_b,
        "modules differ ({} vs {} bytes)",
        bytes_a.len(),
        bytes_b.len()
    );
    // No trace of either directory in the module.
    for dir in [a.path(), b.path()] {
        let needle = dir.to_string_lossy().into_owned();
        assert!(
            !bytes_a
                .windows(needle.len())
                .any(|w| w == needle.as_bytes()),
            "{needle} leaked into the module"
        );
    }
}
