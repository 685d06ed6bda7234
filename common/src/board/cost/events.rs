//! The structural events of a frame and the instructions each costs in the firmware.
//!
//! An event is one pass through one path of the firmware's code: one call of a kernel, one
//! pixel block, one chunk of the multiply-accumulate loop, one camera row. The walk of a frame
//! ([`super::walk`]) counts them exactly as the firmware's control flow takes them; the cost
//! of a frame is the sum of counts times the instructions of each path.
//!
//! Where the path is one of the kernels' hand-written `asm!` loops, its instructions are
//! counted from the source (they are the instructions the assembler emits) and are exact. The
//! paths through compiled Rust were counted on the QEMU application's disassembly
//! (`llvm-objdump -d` of `target/thumbv7em-none-eabihf/release/qemu`), with the executions of
//! each instruction from a QEMU run, and their per-event costs fitted over a set of random
//! models (least squares of the firmware's per-layer log against these counts; the e2e test
//! `tests/tests/timing.rs` checks the result against fresh measurements). A compiler or kernel
//! change moves them: that test then fails and names the layer.

use super::Region;

/// Marks a cost fitted to measurements (the others are counted from the code): as a value
/// it is the cost itself; [`Event::is_fitted`] tells them apart.
const fn fit(instructions: f64) -> f64 {
    instructions
}

/// Marks a cost counted from the code.
const fn counted(instructions: f64) -> f64 {
    instructions
}

/// True for a cost written `fit(...)`.
macro_rules! fitted {
    (fit) => {
        true
    };
    (counted) => {
        false
    };
}

macro_rules! events {
    ($($(#[$doc:meta])* $name:ident = $region:ident, $kind:ident($cost:expr);)+) => {
        /// One path through the firmware's code (see the module documentation).
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        #[repr(u8)]
        pub enum Event {
            $($(#[$doc])* $name,)+
        }

        impl Event {
            /// Every event, in declaration order.
            pub const ALL: &'static [Event] = &[$(Event::$name,)+];

            /// The kind of code the path is (for its cycles per instruction).
            pub const fn region(self) -> Region {
                match self {
                    $(Event::$name => Region::$region,)+
                }
            }

            /// Instructions of one pass through the path, in sixteenths (fitted paths average
            /// over the variants an event stands for).
            pub const fn sixteenths(self) -> u64 {
                match self {
                    $(Event::$name => ($kind($cost as f64) * 16.0 + 0.5) as u64,)+
                }
            }

            /// True when the cost was fitted to measurements rather than counted.
            pub const fn is_fitted(self) -> bool {
                match self {
                    $(Event::$name => fitted!($kind),)+
                }
            }

            /// The event's name.
            pub const fn name(self) -> &'static str {
                match self {
                    $(Event::$name => stringify!($name),)+
                }
            }
        }
    };
}

/// Number of events.
pub const EVENTS: usize = Event::ALL.len();

events! {
    // --- `kernels::conv::dot_rows` (asm, exact: `firmware/kernels/src/conv.rs`) ---
    /// A call of `dot_rows` with one pixel: the bounds check, the frame, the dispatch (30 + 0
    /// instructions), the asm preamble computing the loop entry (8) and the return (3).
    DotRowsCall1 = MacOne, counted(41);
    /// The same with two pixels (two more compares in the dispatch).
    DotRowsCall2 = Mac, counted(43);
    /// Three pixels.
    DotRowsCall3 = Mac, counted(45);
    /// Four pixels.
    DotRowsCall4 = Mac, counted(45);
    /// One output channel, one pixel: reload the frame (2), the sum (1), `LDR PC` (1), store
    /// the sum (1), step the row, compare, branch (5).
    DotRowsChannel1 = MacOne, counted(10);
    /// The same with two pixels (their sums in one `LDRD` and one `STRD`).
    DotRowsChannel2 = Mac, counted(10);
    /// One output channel, three or four pixels (one more load and store of sums).
    DotRowsChannel34 = Mac, counted(12);
    /// One chunk (4 weights): `LDR`, 2 x `SXTB16`, then per pixel `LDRD` and 2 x `SMLAD`.
    DotRowsChunk1 = MacOne, counted(6);
    DotRowsChunk2 = Mac, counted(9);
    DotRowsChunk3 = Mac, counted(12);
    DotRowsChunk4 = Mac, counted(15);
    /// One pass through the four-chunk loop body: `SUBS` + `BNE`.
    DotRowsPass = Mac, counted(2);

    // --- `kernels::conv::widen` (asm, exact) ---
    /// A call with no whole chunk: the early return.
    WidenEmpty = Widen, counted(5);
    /// A call: set-up, bounds check, the odd-chunk test and the return.
    WidenCall = Widen, counted(15);
    /// The odd first chunk: `LDR`, 2 x `SXTAB16`, `STRD`.
    WidenOdd = Widen, counted(4);
    /// Two chunks and the loop branch.
    WidenPair = Widen, counted(10);

    // --- `kernels::conv::copy_words` (asm, exact; inlined into `conv2d`) ---
    /// One run: `MOV` and, after its words, `ADD`, `SUB`, `SUBS`, `BNE`.
    CopyRun = Copy, counted(5);
    /// One word: `LDR`, `STR`, `SUBS`, `BNE`.
    CopyWord = Copy, counted(4);

    // --- `kernels::requant::requantize_block` (asm loop exact) ---
    /// One channel of four pixels: the multiplier load, 4 x (8 for the sum, `SSAT`, `STRB`),
    /// one `ADD` for the last pixel's address, then `ADD`, `SUBS`, `BNE`.
    RequantChannel = Requant, counted(45);
    /// The same with the lower clamp above -128 (`CMP`, `IT`, `MOVLT` per output).
    RequantChannelClamped = Requant, counted(57);
    /// One channel in the fast form (every multiplier of the layer below 2^15): the
    /// multiplier's `LDR` and `LSL`, 4 x (6 for the sum, `STRB`), one `ADD`, then `ADD`,
    /// `SUBS`, `BNE`.
    RequantChannelFast = Requant, counted(34);
    /// The same with the lower clamp.
    RequantChannelFastClamped = Requant, counted(46);

    // --- `kernels::conv::conv2d`, compiled (fitted) ---
    /// A call: stack buffers cleared (`memclr` of 2.5 KB), layer fields read.
    ConvCall = Control, fit(1004.875);
    /// A call whose depth is below one depth block (the head test).
    ConvSmallDepth = Control, fit(0.0);
    /// A call that copies the first weight rows behind zero bytes (`head`).
    ConvHead = Control, fit(38.0);
    /// A pixel block of 1, 2, 3 or 4 pixels: their windows, the loop.
    ConvBlock1 = Control, fit(185.3125);
    ConvBlock2 = Control, fit(242.25);
    ConvBlock3 = Control, fit(258.375);
    ConvBlock4 = Control, fit(260.1875);
    /// A pixel whose window is computed with padding (the layer, or its band row, has pads).
    ConvPaddedWindow = Control, fit(35.5625);
    /// A block's channel block: the sums set to the biases, the requantization's call and
    /// set-up.
    ConvChannelBlock = Control, fit(83.3125);
    /// One channel of `start_at_bias`.
    ConvBiasChannel = Control, fit(5.6875);
    /// A block's depth block: the columns, `dot_block`.
    ConvDepthBlock = Control, fit(103.0);
    /// A `dot_block` that first runs the rows kept behind zero bytes (`head`).
    ConvHeadRows = Control, fit(21.75);
    /// A pixel's columns widened straight from the input (no padding, whole chunks).
    ColumnsDirect = Control, fit(6.6875);
    /// One window row of such a pixel (one `widen` call).
    ColumnsDirectRun = Control, fit(33.125);
    /// A pixel whose depth block is whole window rows: the over-read check.
    ColumnsCopyCheck = Control, fit(0.0);
    /// A pixel copied by `copy_runs` then widened.
    ColumnsCopied = Control, fit(49.3125);
    /// A pixel gathered with padding then widened.
    ColumnsGathered = Control, fit(33.875);
    /// One window-row part of a gathered pixel.
    GatherPart = Control, fit(17.5);
    /// A part with input values in it (a `copy_from_slice`).
    GatherCopy = Control, fit(31.125);
    /// One pixel of a short block (fewer than four pixels) moved from scratch to the output.
    ConvShortPixel = Control, fit(0.0);

    // --- `kernels::pool::max_pool` (compiled, counted on the disassembly) ---
    /// A call on four or more channels (the loop with whole words).
    MaxPoolCall = Pool, counted(45);
    /// One output pixel: its window, `fill` of the running maxima.
    MaxPoolPixel = Pool, counted(50);
    /// One window row of an output pixel.
    MaxPoolRow = Pool, counted(10);
    /// One window position of an output pixel.
    MaxPoolTap = Pool, counted(18);
    /// A position's last `c mod 4` channels begun (when there are any).
    MaxPoolTapTail = Pool, counted(2);
    /// Four channels of one position (`SSUB8` + `SEL` with their loads and store).
    MaxPoolWord = Pool, counted(10);
    /// One of the last `c mod 4` channels of one position.
    MaxPoolByte = Pool, counted(8);
    /// A call on fewer than four channels (the compiler's loop without words), its output
    /// pixels, window rows and positions.
    MaxPoolNarrowCall = Pool, counted(43);
    MaxPoolNarrowPixel = Pool, counted(44);
    MaxPoolNarrowRow = Pool, counted(7);
    MaxPoolNarrowTap = Pool, counted(12);

    // --- `common::kernels::avg_pool`, the reference kernel (compiled, counted on the disassembly; its call and row fitted) ---
    AvgPoolCall = Pool, fit(82.3125);
    /// One output row.
    AvgPoolRow = Pool, fit(66.9375);
    /// One output pixel.
    AvgPoolPixel = Pool, counted(25);
    /// One output value: the window iterator, the rounding division (whose paths differ by
    /// an instruction or two with the remainder: their mean).
    AvgPoolValue = Pool, counted(39);
    /// One window row of one output value.
    AvgPoolTapRow = Pool, counted(10);
    /// One input value summed.
    AvgPoolTap = Pool, counted(14);

    // --- `kernels::depthwise` (asm loops exact: `firmware/kernels/src/depthwise.rs`) ---
    /// `gather_words`, three rows a column: 3 x `LDR`, `ADD`, 3 x (2 x `SXTAB16`, `STRD`),
    /// `SUBS`, `BNE`.
    DwGatherColumn3 = DepthwiseGather, counted(15);
    /// `gather_words`, any rows: per column 3 x `MOV`, then `ADD`, `ADD`, `SUBS`, `BNE`.
    DwGatherColumn = DepthwiseGather, counted(7);
    /// One slot of that column loop: `LDR`, `ADD`, 2 x `SXTAB16`, `STRD`, `SUBS`, `BNE`.
    DwGatherSlot = DepthwiseGather, counted(7);
    /// A sweep's entry: the computed address of its first pass (`ADR`, `ADR`, `SUB`, `LDR`,
    /// `MLA`, `ORR`, `STR`).
    DwSweepEntry = DepthwiseMac, counted(7);
    /// One pixel of a sweep: the sums at the biases and the tap loop's entry (2 x `LDRD`,
    /// `ADD`, `LDR`, `LDR PC`), then the window, output and end steps (3 x `LDR`, 2 x `ADD`,
    /// `CMP`, `BNE`).
    DwSweepPixel = DepthwiseMac, counted(12);
    /// One tap of four channels: 2 x `LDRD`, `SMLABB`, `SMLATT`, `SMLABB`, `SMLATT`.
    DwSweepTap = DepthwiseMac, counted(6);
    /// One pass of the unrolled tap loop (9 taps): `SUBS`, `BNE`.
    DwSweepPass = DepthwiseMac, counted(2);
    /// A pixel's four outputs in the fast form: its constants (`MVN`, `LDR`), 2 x `LDRD` of the
    /// multipliers, 4 x (`SMULL`, `LSRS`, `ADCS`, `ADC`, `SSAT`, `STRB`).
    DwRequantFast = DepthwiseMac, counted(28);
    /// The same with the lower clamp (3 constants; per output an `LDR` of its multiplier,
    /// the six, `CMP`, `IT`, `MOVLT`).
    DwRequantFastClamped = DepthwiseMac, counted(43);
    /// The general form (3 constants; per output `LDR`, `SMULL`, `LSRS`, `ADCS`, `ADC`,
    /// `SSAT`, `LSRS`, `ORR`, `CMP`, `IT`, `MOVLT`, `SSAT`, `STRB`).
    DwRequantGeneral = DepthwiseMac, counted(55);
    /// `sweep9_fast`'s entry (`LDR` of the zero point).
    DwSweep9Entry = DepthwiseMac, counted(1);
    /// One pixel of `sweep9_fast`: 2 x `LDRD` of the biases, 9 taps (6 each), `MVN`, 2 x
    /// (`LDRD` of two multipliers, 2 x 6 to requantize and store), 2 x (`LDR`, `ADD`), `SUBS`,
    /// `BNE`.
    DwSweep9Pixel = DepthwiseMac, counted(89);

    // --- `kernels::depthwise`, compiled (fitted) ---
    /// A call: the group table and the stack buffers set up, the layer's fields read.
    DwCall = Control, fit(265.0);
    /// One output row.
    DwRow = Control, fit(183.1875);
    /// One segment of an output row (`Columns::new`: its rows and columns inside the input).
    DwSegment = Control, fit(183.1875);
    /// One padding slot written 0.
    DwZeroSlot = Control, fit(0.0);
    /// A column of a segment with padding rows (the rows above or below the input zeroed).
    DwPartialColumn = Control, fit(85.875);
    /// A group of four channels: biases and multipliers into the table (`load_group`).
    DwGroup = Control, fit(58.5625);
    /// A group of fewer than four channels.
    DwGroupPartial = Control, fit(42.25);
    /// One tap of a partial group's weight table (byte by byte), and one byte of it.
    DwTableTapPartial = Control, fit(48.6875);
    DwTableBytePartial = Control, fit(9.625);
    /// A call of `gather_words` (the table's weights or the input's columns).
    DwGatherCall = Control, fit(82.125);
    /// A partial group's input gathered byte by byte: the call, one slot, one byte.
    DwGatherPartial = Control, fit(42.25);
    DwGatherSlotPartial = Control, fit(56.125);
    DwGatherBytePartial = Control, fit(0.0);
    /// `Sweep::run`: the group header and the call of the sweep.
    DwSweep = Control, fit(89.875);
    /// One pixel of a partial group copied from the scratch row to the output, and one byte.
    DwTailPixel = Control, fit(58.8125);
    DwTailByte = Control, fit(9.75);

    // --- `common::kernels::depthwise`, the reference kernel (kernels of more than 64 taps) ---
    /// A call. (Estimated from the loop's structure: no model measured has such a kernel.)
    DepthwiseRefCall = Control, fit(60.0);
    /// One output value: bias, requantization, store.
    DepthwiseRefValue = Control, fit(30.0);
    /// One window position inside the input: two loads, the zero point, a multiply-add.
    DepthwiseRefTap = Control, fit(12.0);

    // --- `common::interp::Stream` and `run_whole` (fitted) ---
    /// A model-input row pushed (`Stream::push_row`): checks, placing it; the QEMU
    /// application's clock reads around it.
    StreamRow = Control, fit(82.875);
    /// One step of the depth-first loop.
    StreamStep = Control, fit(42.375);
    /// One readiness check of a band layer.
    StreamReady = Control, fit(28.4375);
    /// A band row of a convolution computed: its window, pads and tensors, the dispatch, the
    /// application's clock read after it.
    StreamBandConv = Control, fit(466.625);
    /// The same for a pooling layer.
    StreamBandPool = Control, fit(207.1875);
    /// The same for a depthwise convolution.
    StreamBandDepthwise = Control, fit(339.8125);
    /// A band row no later layer reads (skipped).
    StreamBandRowSkipped = Control, fit(0.0);
    /// Placing a row in a window (`Stream::place`).
    StreamPlaceWindow = Control, fit(50.4375);
    /// A row no pending output of the window reads, below the last output's window.
    StreamPlaceDone = Control, fit(0.0);
    /// A row between two windows (stride above the kernel).
    StreamPlaceBetween = Control, fit(0.0);
    /// Placing a row in a whole tensor.
    StreamPlaceWhole = Control, fit(0.0);
    /// A window whose old rows are dropped (`move_rows_up`).
    StreamMove = Control, fit(13.3125);
    /// One row moved up.
    StreamMoveRow = Control, fit(9.5);
    /// `Stream::finish` and its `run_whole`, with the clock reads around them.
    StreamFinish = Control, fit(39.8125);
    /// A convolution run whole (after the band chain), with its clock read.
    WholeConv = Control, fit(291.75);
    /// A depthwise convolution run whole.
    WholeDepthwise = Control, fit(0.0);
    /// A dense layer run whole (`kernels::Dsp::dense` makes it a 1x1 convolution).
    WholeDense = Control, fit(316.75);
    /// A pooling layer run whole.
    WholePool = Control, fit(88.1875);
    /// A flatten (moves nothing).
    WholeFlatten = Control, fit(54.3125);

    // --- `common::preprocess::RowStream` (fitted) ---
    /// One camera row arriving (the application's row loop, `RowStream::push_row`'s checks).
    PreRow = Preprocess, fit(73.0);
    /// A row inside the crop while output rows are pending: the next output row's sample.
    PreRowInCrop = Preprocess, fit(52.75);
    /// A row that is interpolated (`interpolate_row`).
    PreInterpRow = Preprocess, fit(0.0);
    /// One output pixel of an interpolated row, from RGB888.
    PreInterpPixelRgb888 = Preprocess, fit(133.4375);
    /// The same from RGB565.
    PreInterpPixelRgb565 = Preprocess, fit(143.5);
    /// One check for a completed output row.
    PreOutputCheck = Preprocess, fit(192.3125);
    /// One output row combined and emitted.
    PreOutputRow = Preprocess, fit(0.0);
    /// One output pixel combined, as RGB.
    PreCombinePixelRgb = Preprocess, fit(74.3125);
    /// As YUV.
    PreCombinePixelYuv = Preprocess, fit(109.5625);
    /// As gray.
    PreCombinePixelGray = Preprocess, fit(75.5625);
    /// A row inside the crop on the fast path (a crop a whole multiple of the output along
    /// both axes): the test whether an output row reads it.
    PreFastRow = Preprocess, fit(23.25);
    /// A row the fast path sums (`sum_row`), and per output pixel its sum: one source pixel
    /// or two, RGB888 or RGB565.
    PreFastSumRow = Preprocess, fit(74.375);
    PreFastSumRgb888 = Preprocess, fit(8.25);
    PreFastSumRgb565 = Preprocess, fit(17.9375);
    PreFastSumPairRgb888 = Preprocess, fit(23.375);
    PreFastSumPairRgb565 = Preprocess, fit(37.8125);
    /// An output row of the fast path (`combine_sums`), and per output pixel its rounding
    /// and colour.
    PreFastOutputRow = Preprocess, fit(109.0);
    PreFastCombineRgb = Preprocess, fit(28.6875);
    PreFastCombineYuv = Preprocess, fit(68.6875);
    PreFastCombineGray = Preprocess, fit(33.625);
    /// Per output pixel, the second row of a vertical pair.
    PreFastCombineSecond = Preprocess, fit(19.875);
    /// The frame's start and end (`RowStream::new`, the closing clock reads).
    PreFrame = Preprocess, fit(397.0);

    // --- `compiler_builtins` memory functions ---
    /// One instruction of `memcpy` or `memset`, counted by `board::cost::memory` from their
    /// disassembly.
    MemoryInstruction = Memory, counted(1);
    /// A `memcpy` whose source is not word-aligned once its destination is (fitted).
    MemcpyMisaligned = Memory, fit(65.4375);
    /// One word of its shifting loop (fitted).
    MemcpyMisalignedWord = Memory, fit(13.5625);
}
