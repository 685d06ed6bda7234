#!/usr/bin/env bash
# Cargo runner for thumbv7em-none-eabihf (.cargo/config.toml): `runner.sh ELF [ARGS...]`.
#
# The Black Pill board binary goes to the real board: probe-rs flashes it, runs it and prints
# its defmt log (RTT) until Ctrl-C. Everything else runs in QEMU (qemu-run.sh).
set -euo pipefail

elf=${1:?usage: runner.sh ELF [ARGS...]}
if [[ $(basename "$elf") == blackpill ]]; then
    if ! command -v probe-rs >/dev/null 2>&1; then
        echo "runner: flashing the Black Pill needs probe-rs: cargo install probe-rs-tools --locked" >&2
        exit 127
    fi
    exec probe-rs run --chip STM32F411CEUx "$elf"
fi
exec "$(dirname "$0")/qemu-run.sh" "$@"
