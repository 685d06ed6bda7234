#!/usr/bin/env bash
# Cargo runner of the Black Pill binary (.cargo/config.toml): `probe-run.sh ELF`.
#
# probe-rs flashes ELF to the STM32F411 through the SWD probe, runs it and prints its defmt
# log (RTT) until Ctrl-C.
set -euo pipefail

elf=${1:?usage: probe-run.sh ELF}
if ! command -v probe-rs >/dev/null 2>&1; then
    echo "probe-run: flashing the Black Pill needs probe-rs: cargo install probe-rs-tools --locked" >&2
    exit 127
fi
exec probe-rs run --chip STM32F411CEUx "$elf"
