//! Any byte string: the parser returns a model or a typed error, never panics; whatever parses
//! also runs without an out-of-bounds access. The input is used twice: as is, and with a valid
//! header (magic, version, length, CRC) put in front so the fuzzer reaches the payload decoder and
//! the validator instead of stopping at the CRC.
//!
//! A tiny blob can describe a model that takes minutes to run (an average pool over a
//! 12262x3x95 input: 434 s in the reference interpreter), which stalls the fuzzer. So a model
//! is run only when the board cost model (`common::board::cost`, the firmware's instructions
//! for one frame) says it is small; the cost walk itself runs on every model that parses.
#![no_main]

use common::board::cost::FrameCost;
use common::format::crc32::crc32;
use common::Model;

/// Models costing more than this many Cortex-M4 instructions a frame are not run: about
/// fastnet's cost four times over, so every small model still runs.
const MAX_INSTRUCTIONS: u64 = 2_000_000;
use libfuzzer_sys::fuzz_target;

fn parse_and_run(bytes: &[u8]) {
    if let Ok(model) = Model::parse(bytes) {
        let cost = FrameCost::of(&model, None);
        if model.plan().arena_bytes() > 1 << 22 || cost.network().total() > MAX_INSTRUCTIONS {
            return; // valid but too large to be worth running here
        }
        let mut arena = vec![0i8; model.plan().arena_bytes()];
        let input = vec![1i8; model.input().shape.len()];
        common::run(&model, &input, &mut arena).expect("a parsed model runs");
    }
}

fuzz_target!(|data: &[u8]| {
    parse_and_run(data);
    let mut sealed = Vec::with_capacity(16 + data.len());
    sealed.extend_from_slice(b"PNN8");
    // Version 2: every layer kind (1 has no depthwise convolution).
    sealed.extend_from_slice(&[2, 0, 0, 0]);
    sealed.extend_from_slice(&(data.len() as u32).to_le_bytes());
    sealed.extend_from_slice(&crc32(data).to_le_bytes());
    sealed.extend_from_slice(data);
    parse_and_run(&sealed);
});
