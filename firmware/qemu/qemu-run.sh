#!/usr/bin/env bash
# Cargo runner for the QEMU builds: `qemu-run.sh ELF [ARGS...]`.
#
# Runs ELF on an mps2 board under QEMU with semihosting (ARGS become the program's semihosting
# command line; paths are relative to the current directory) and `-icount shift=0` (the
# firmware counts instructions with SysTick), decodes the defmt log with defmt-print, and exits
# with the program's exit status (its semihosting exit code; 124 on timeout).
#
#   PILOT_QEMU_MACHINE  mps2-an386 (Cortex-M4F, default) or mps2-an500 (Cortex-M7)
#   PILOT_QEMU_TIMEOUT  seconds before the run is killed (default 600)
#
# For defmt-test binaries it also prints a plain "N passed, M failed" line.
set -uo pipefail

if [[ $# -lt 1 ]]; then
    echo "usage: $0 ELF [ARGS...]" >&2
    exit 2
fi
elf=$1
shift
machine=${PILOT_QEMU_MACHINE:-mps2-an386}
limit=${PILOT_QEMU_TIMEOUT:-600}

# QEMU's option syntax: a comma inside a value is written twice.
semi="enable=on,target=native,arg=$(basename "$elf")"
for a in "$@"; do
    semi+=",arg=${a//,/,,}"
done

log=$(mktemp)
trap 'rm -f "$log"' EXIT
timeout "$limit" qemu-system-arm -machine "$machine" -display none -monitor none -serial null \
    -semihosting-config "$semi" -icount shift=0 -kernel "$elf" \
    | defmt-print -e "$elf" | tee "$log"
status=${PIPESTATUS[0]}

if [[ $status -eq 124 ]]; then
    echo "qemu-run: timed out after ${limit} s (PILOT_QEMU_TIMEOUT)" >&2
fi
# defmt-test announces each test as "(i/n) running `name`..." and stops at the first failure.
ran=$(grep -c 'running `' "$log")
if [[ $ran -gt 0 ]]; then
    if [[ $status -eq 0 ]]; then
        echo "$ran passed, 0 failed"
    else
        echo "$((ran - 1)) passed, 1 failed"
    fi
fi
exit "$status"
