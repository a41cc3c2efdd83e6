# The same gate as .ci/run, piece by piece.

# everything CI runs
ci:
    bash .ci/run

fmt:
    cargo fmt --all

lint:
    cargo clippy --workspace --all-targets --locked -- -D warnings

doc:
    RUSTDOCFLAGS="-D warnings" cargo doc --workspace --no-deps --locked

test:
    cargo test --workspace --locked

# the cross-architecture reruns on aarch64 under qemu (part of `ci`; needs apt for its tools)
cross:
    bash scripts/cross-aarch64.sh

# the README's main job: build the Monte Carlo example and run its workflow
demo:
    cargo run -q --bin wfrun -- run "$(cargo run -q --bin wfrun -- build apps/montecarlo)"

# the throughput benchmarks (see BENCHMARKS.md)
bench:
    cargo bench -p wf-runtime --bench throughput
