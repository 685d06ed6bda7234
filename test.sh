#!/usr/bin/env bash
# Runs every test of the project: host tests, the no_std build of `common`, the firmware's
# on-target tests in QEMU, the build of the Black Pill board binary and the end-to-end tests.
# Before the tests it checks the formatting, the lints (clippy) and the documentation (rustdoc),
# warnings denied. On a fresh Debian machine it first installs what is missing for these and for
# every command the README documents (QEMU from apt; flip-link and defmt-print with cargo; the thumbv7em
# target and the rustup components of rust-toolchain.toml: llvm-tools for
# `pilot bench firmware`, rustfmt, clippy). Running it again installs nothing.
#
#   ./test.sh            everything
#   ./test.sh --no-install   fail instead of installing missing tools
set -euo pipefail
cd "$(dirname "$0")"

install=1
[[ "${1:-}" == "--no-install" ]] && install=0

log() { printf '\n== %s\n' "$*"; }

need() { # need <command> <how to install> <install command...>
    local cmd=$1 how=$2; shift 2
    command -v "$cmd" >/dev/null 2>&1 && return 0
    if [[ $install == 0 ]]; then
        echo "missing $cmd: install it with: $how" >&2
        exit 1
    fi
    log "installing $cmd ($how)"
    "$@"
}

apt_install() {
    local sudo=""
    [[ $(id -u) != 0 ]] && sudo="sudo"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "$@" >/dev/null
}

log "tools"
if ! rustup target list --installed | grep -q thumbv7em-none-eabihf; then
    [[ $install == 0 ]] && { echo "missing target: rustup target add thumbv7em-none-eabihf" >&2; exit 1; }
    rustup target add thumbv7em-none-eabihf
fi
# rustup adds rust-toolchain.toml's components only when it installs the toolchain; an
# already installed one may lack them.
components=$(sed -n 's/^components *= *\[\(.*\)\]/\1/p' rust-toolchain.toml | tr -d '" ' | tr ',' ' ')
installed=$(rustup component list --installed)
for c in $components; do
    grep -q "^$c\(-\|$\)" <<<"$installed" && continue
    [[ $install == 0 ]] && { echo "missing rustup component: rustup component add $c" >&2; exit 1; }
    log "installing rustup component $c"
    rustup component add "$c"
done
need qemu-system-arm "apt-get install qemu-system-arm" apt_install qemu-system-arm
need flip-link "cargo install flip-link --locked" cargo install flip-link --locked
need defmt-print "cargo install defmt-print --locked" cargo install defmt-print --locked

results=$(mktemp)
trap 'rm -f "$results"' EXIT

log "formatting (cargo fmt --check, rustfmt.toml; run cargo fmt in each workspace to fix)"
for ws in . firmware/qemu firmware/blackpill common/fuzz; do
    (cd "$ws" && cargo fmt --all -- --check)
done

log "lints (cargo clippy --workspace --all-targets -- -D warnings)"
cargo clippy --workspace --all-targets -- -D warnings

log "documentation (cargo doc --workspace --no-deps, warnings denied)"
RUSTDOCFLAGS="-D warnings" cargo doc --workspace --no-deps

log "host tests (cargo test --release)"
cargo test --release 2>&1 | tee -a "$results"

log "common builds for the microcontroller (no_std, thumbv7em-none-eabihf)"
cargo build --release -p common --target thumbv7em-none-eabihf

log "firmware on-target tests in QEMU (cd firmware/qemu && cargo test --release)"
(cd firmware/qemu && cargo test --release) 2>&1 | tee -a "$results"

log "Black Pill board binary builds (cd firmware/blackpill && cargo build --release; running it needs the board)"
(cd firmware/blackpill && cargo build --release)

log "end to end: firmware in QEMU against the host reference (cargo test --release -p e2e)"
cargo test --release -p e2e 2>&1 | tee -a "$results"

# Sum every suite's counts into one closing line.
passed=$(grep -Eo '[0-9]+ passed' "$results" | awk '{s += $1} END {print s + 0}')
failed=$(grep -Eo '[0-9]+ failed' "$results" | awk '{s += $1} END {print s + 0}')
echo
echo "tests: $passed passed, $failed failed"
