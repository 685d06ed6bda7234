//! Cycles per instruction of our code on each board, per region of code, as a range: the best
//! case and a conservative one. Every timing uses the conservative end.
//!
//! # Cortex-M4F, STM32F411 at 100 MHz (the Black Pill)
//!
//! Cycle timings from the Cortex-M4 Technical Reference Manual (ARM 100166, r0p1, section 3.3.1
//! "Table of processor instructions" and the load/store timing notes after it): data
//! processing, `SXTB16`/`SXTAB16`, `SMLAD`, `SMULL`, `SSAT` 1 cycle; `LDR`/`STR` 2, and 1
//! when a load or store follows a single load without depending on it (pipelined; `STR` after
//! `LDR`); `LDRD`/`STRD` 3 (`1 + N`, never pipelined with neighbours); `LDM`/`STM`/`PUSH`/
//! `POP` `1 + N`; a taken branch `1 + P` with the refill `P` between 1 and 3, a branch not
//! taken 1; `LDR PC` at least 5; `IT` 0 (folded) or 1; `UDIV` 2 to 12; a load or store whose
//! address the previous data-processing instruction computed, 1 more. The TRM counts assume
//! zero wait states; the STM32F411 (RM0383, "Relation between CPU clock frequency and Flash
//! memory read time") needs 3 wait states at 100 MHz and 2.7-3.6 V, and its ART accelerator
//! hides them for code (instruction cache of 64 lines of 128 bits and prefetch: the hot loops
//! are a few hundred bytes) but not for the weights streamed from flash: the 8-line data
//! cache holds 128 bytes, a layer's weights are kilobytes and are read once per pixel block,
//! so every 16-byte line of weights costs one flash access, 3 cycles more.
//!
//! The hand-written loops, from their instructions (`firmware/kernels/src/conv.rs`,
//! `requant.rs`):
//! - **Mac** (`dot_rows`, 2-4 pixels): a chunk of four pixels is `LDR` (2) + 2 `SXTB16` (2) +
//!   4 `LDRD` (12) + 8 `SMLAD` (8) = 24 cycles for 15 instructions; a pass of four chunks adds
//!   `SUBS` + `BNE` (3-5) and one 16-byte weight line from flash (3): 102-104 cycles for 62
//!   instructions, 1.65. Conservative: weight rows at odd addresses (a byte-aligned `LDR` is
//!   three bus accesses, 2 cycles more), `P = 3`, and the per-channel set-up (12 instructions,
//!   31-35 cycles with its `LDR PC`): 1.85. (QEMU's count of the executed mix of PilotNet
//!   under these rules, flash and alignment aside: 1.61-1.65.)
//! - **MacOne** (one pixel: dense layers, a row's last pixel): `LDR` + 2 `SXTB16` + `LDRD` +
//!   2 `SMLAD` = 9 cycles for 6 instructions; per pass of four 42-44 cycles for 26: 1.62;
//!   conservative (odd weight addresses, `P = 3`): 52/26 = 2.0, 2.05 with the channel set-up.
//! - **Widen**: `LDR` (2) + 2 `SXTAB16` (2) + `STRD` (3) per chunk, `SUBS` + `BNE` per two
//!   chunks: 17-19 cycles for 10 instructions; with the call's set-up 1.65-1.90.
//! - **Copy** (`copy_words`): `LDR` (2) + `STR` (1, pipelined after the load) + `SUBS` +
//!   `BNE` (3-5) per word: 6-8 cycles for 4 instructions, the run's 5 instructions 6-8 cycles:
//!   1.40-2.0.
//! - **Requant**: per output `LDR` (2) + 8 single-cycle instructions + `STRB` (1-2): 11-12
//!   cycles for 10; per channel the multiplier from flash (2, a line every 4 channels, odd
//!   addresses 2 more) and the loop branch: 1.05-1.35 (1.07-1.31 with the clamp's `CMP`, `IT`,
//!   `MOVLT`).
//!
//! - **DepthwiseMac** (`firmware/kernels/src/depthwise.rs`, the sweeps): a tap of four
//!   channels is 2 `LDRD` (6) + 4 `SMLABB`/`SMLATT` (4) = 10 cycles for 6 instructions; the
//!   group table and the gathered columns are on the stack (SRAM, no wait states). The
//!   3x3 sweep (`sweep9_fast`, 89 instructions a pixel): the bias `LDRD`s (6), 9 taps (90),
//!   `MVN` (1), 2 multiplier `LDRD`s (6), 4 outputs of `SMULL`, `LSRS`, `ADCS`, `ADC`, `SSAT`
//!   (5) and `STRB` (1-2), the steps' 2 `LDR` and 2 `ADD` (6) and the loop branch (2-4):
//!   136-142 cycles, 1.53-1.60. The general sweep adds the entry's `LDR PC` (5) and a pass
//!   branch per 9 taps: 1.46-1.61 for 1 to 25 taps in the fast form, 1.46-1.55 with the
//!   clamp (`CMP`, `IT`, `MOVLT` per output), the general requantization about the same.
//!   Rounded outwards: 1.45-1.70.
//! - **DepthwiseGather**: three rows a column, 3 `LDR` (4 pipelined, 6 not) + `ADD` + 6
//!   `SXTAB16` + 3 `STRD` (9) + `SUBS` + `BNE` (2-4): 23-27 cycles for 15 instructions,
//!   1.53-1.80; any rows, per slot `LDR` (2) + `ADD` + 2 `SXTAB16` + `STRD` (3) + `SUBS` +
//!   `BNE` (2-4): 11-13 cycles for 7, 1.57-1.86. The group's weight table is gathered the same
//!   way from flash (3 more cycles a line of 16 bytes, 1-2 % of the gathered slots): 1.50-1.90.
//!
//! The compiled regions (control code, pooling, `memcpy`/`memset`, preprocessing): the same
//! rules applied to every instruction QEMU executed in them for the shipped PilotNet and sign
//! CNN (taken branches from the execution counts; best: pipelined loads, `P = 1`, folded
//! `IT`, 2-cycle `UDIV`; conservative: 2-cycle loads, `P = 3`, 12-cycle `UDIV`, address
//! dependencies, literal-pool contention): control 1.36-1.54 and 1.39-1.56, pooling
//! 1.34-1.67, memory 1.35-1.87, preprocessing 1.27-1.61. Rounded outwards below; the bias
//! and multiplier reads from flash add little.
//!
//! # Cortex-M7, STM32F746 at 216 MHz and STM32H743 at 480 MHz
//!
//! ARM publishes no cycle table for the Cortex-M7 (its TRM, ARM DDI 0489, describes a
//! six-stage, dual-issue pipeline with one multiply-accumulate unit, a branch predictor and
//! 32-byte cache lines). Best case: the dual issue the loops allow (a chunk of four pixels has
//! 8 `SMLAD`s for one MAC unit, its loads and `SXTB16`s issued beside them: about 10 cycles for
//! 15 instructions, 0.67; compiled code about 0.8). Conservative: one instruction per cycle
//! (no dual issue at all) plus the weights' cache misses: the weights stream from flash through
//! the L1 data cache (4 KB on the F746, 16 KB on the H743, both smaller than a layer's weights
//! read once per pixel block), one 32-byte line per 8 chunks; a line costs the flash latency:
//! F746 7 wait states at 216 MHz (RM0385) plus the AXI transfer, about 13 cycles; H743 4 wait
//! states of its 240 MHz AXI clock (RM0433), about 18 core cycles. Activations and scratch in
//! DTCM or SRAM hit the cache or need none.

use super::cost::{Instructions, Region, REGIONS};

/// Cycles per instruction of one region, in thousandths: the best case and the conservative
/// one (which every timing uses).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cpi {
    pub best_milli: u32,
    pub conservative_milli: u32,
}

/// Cycles per instruction of every region on one board.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CpiTable {
    pub by_region: [Cpi; REGIONS],
}

impl CpiTable {
    pub fn get(&self, r: Region) -> Cpi {
        self.by_region[r as usize]
    }

    /// Cycles of `instr` at the conservative end.
    pub fn cycles(&self, instr: &Instructions) -> u64 {
        instr.cycles(|r| self.get(r).conservative_milli)
    }

    /// Cycles of `instr` at the best end.
    pub fn best_cycles(&self, instr: &Instructions) -> u64 {
        instr.cycles(|r| self.get(r).best_milli)
    }
}

const fn c(best_milli: u32, conservative_milli: u32) -> Cpi {
    Cpi { best_milli, conservative_milli }
}

/// The Black Pill (see the module documentation), in [`Region::ALL`] order.
pub const STM32F411_100MHZ: CpiTable = CpiTable {
    by_region: [
        c(1650, 1850), // Mac
        c(1620, 2050), // MacOne
        c(1650, 1900), // Widen
        c(1400, 2000), // Copy
        c(1050, 1350), // Requant
        c(1350, 1600), // Control
        c(1300, 1700), // Pool
        c(1350, 1900), // Memory
        c(1270, 1650), // Preprocess
        c(1450, 1700), // DepthwiseMac
        c(1500, 1900), // DepthwiseGather
    ],
};

/// STM32F746 at 216 MHz: dual issue at best, single issue plus 13-cycle weight-line misses
/// (about 1.6 cycles per chunk) at worst.
pub const STM32F746_216MHZ: CpiTable = CpiTable {
    by_region: [
        c(750, 1110), // Mac: 0.67 + 1.6 / 15.5; 1.0 + 1.6 / 15.5
        c(920, 1250), // MacOne: 4 cycles / 6 + 1.6 / 6.5; 1.0 + 1.6 / 6.5
        c(800, 1200), // Widen
        c(800, 1200), // Copy
        c(750, 1100), // Requant
        c(800, 1300), // Control
        c(800, 1300), // Pool
        c(800, 1200), // Memory
        c(800, 1400), // Preprocess (UDIV)
        c(700, 1050), // DepthwiseMac: 4 MACs a tap for one MAC unit, loads beside them; table and columns in RAM
        c(800, 1200), // DepthwiseGather
    ],
};

/// STM32H743 at 480 MHz: as the F746 with 18-cycle weight-line misses (2.25 per chunk).
pub const STM32H743_480MHZ: CpiTable = CpiTable {
    by_region: [
        c(810, 1150),  // Mac
        c(1020, 1350), // MacOne
        c(800, 1200),  // Widen
        c(800, 1200),  // Copy
        c(750, 1150),  // Requant
        c(800, 1350),  // Control
        c(800, 1300),  // Pool
        c(800, 1200),  // Memory
        c(800, 1400),  // Preprocess
        c(700, 1050),  // DepthwiseMac
        c(800, 1200),  // DepthwiseGather
    ],
};

/// Core cycles between two bytes of the Black Pill's camera readout, beyond the SPI clock's
/// 8 bits: the HAL's blocking `SpiBus::read` (stm32f4xx-hal) polls the status register until
/// the byte is in (each poll: `LDRH` of SPI1's status on APB2, four flag tests and branches,
/// about 12 cycles, so up to one poll late), then reads the data register, stores the byte,
/// loops, polls the transmit flag and writes the next dummy byte: 30 cycles at best, 40
/// conservatively (the bus bridge's wait states on each register access).
pub const STM32F411_SPI_BYTE_GAP_CYCLES: u32 = 40;
/// Core cycles of one row's burst besides its bytes: `ExclusiveDevice::transaction`'s chip
/// select, the operations loop and the final wait for the bus to be idle.
pub const STM32F411_SPI_BURST_CYCLES: u32 = 300;
