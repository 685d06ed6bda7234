//! On-target kernel tests: the kernels the firmware runs ([`firmware::kernels::Active`])
//! against hand-computed vectors and against every layer output of random models (and of
//! depthwise-separable ones) computed on the host by the `common` reference (build.rs), on
//! whole tensors and in row bands.
#![no_std]
#![no_main]

qemu::runtime!(); // logger, panic handler, exit on fault

include!(concat!(env!("OUT_DIR"), "/vectors.rs"));

use common::format::{InputSpec, Layer, ModelDef, Node, QParams, Task};
use common::interp::{input_slot, run_with};
use common::{Model, Shape};
use firmware::kernels;
use firmware::once::Once;

/// Runs a one-layer model on `input` and returns its output in `arena`.
fn run_one<'a>(layer: Layer<'static>, input: Shape, in_zp: i8, x: &[i8], arena: &'a mut [i8]) -> &'a [i8] {
    let mut layers = heapless::Vec::new();
    defmt::unwrap!(layers.push(Node { name: "layer", layer }).ok());
    let def = ModelDef {
        name: "hand",
        task: Task::Regression,
        input: InputSpec { shape: input, quant: QParams { scale_exp: 0, zero_point: in_zp }, preprocess: None },
        layers,
    };
    let model = defmt::unwrap!(Model::from_def(def));
    defmt::unwrap!(input_slot(&model, arena)).copy_from_slice(x);
    defmt::unwrap!(run_with(&model, &mut kernels::active(), arena, |_, _| {}))
}

/// Two little-endian i32s, as bias and multiplier tables store them.
const fn le2(v: [i32; 2]) -> [u8; 8] {
    let (a, b) = (v[0].to_le_bytes(), v[1].to_le_bytes());
    [a[0], a[1], a[2], a[3], b[0], b[1], b[2], b[3]]
}

const ONE: [u8; 4] = 65536i32.to_le_bytes(); // multiplier m / 2^16 = 1.0
static DENSE_BIAS: [u8; 8] = le2([10, -5]);
static DENSE_MULT: [u8; 8] = le2([32768, 32768]); // 0.5 each
static DW_BIAS: [u8; 8] = le2([1, -2]);
static DW_MULT: [u8; 8] = le2([65536, 32768]); // 1.0 and 0.5
/// Four multipliers 0.25 (16384 / 2^16).
static QUARTER: [u8; 16] = {
    let q = 16384i32.to_le_bytes();
    [q[0], q[1], q[2], q[3], q[0], q[1], q[2], q[3], q[0], q[1], q[2], q[3], q[0], q[1], q[2], q[3]]
};

/// The tests' arena, large enough for every model case.
static ARENA: Once<[i8; MAX_ARENA_BYTES]> = Once::new([0; MAX_ARENA_BYTES]);

#[defmt_test::tests]
mod tests {
    use common::format::{Conv2d, Dense, Depthwise, Layer, Pads, Pool, QParams, Window};
    use common::interp::{input_slot, run_with, Stream};
    use common::plan::BandPlan;
    use common::{Model, Shape};
    use firmware::kernels;

    use super::{run_one, ARENA, DENSE_BIAS, DENSE_MULT, DW_BIAS, DW_MULT, MAX_ARENA_BYTES, MODEL_CASES, ONE, QUARTER};

    #[init]
    fn init() -> &'static mut [i8; MAX_ARENA_BYTES] {
        defmt::unwrap!(ARENA.take())
    }

    #[test]
    fn dense_subtracts_input_zero_point_and_rounds_ties_to_even(arena: &mut &'static mut [i8; MAX_ARENA_BYTES]) {
        // x - zp = [0, 1, 2]; acc = [10 + 0 + 1 + 2, -5 + 0 - 1 + 0] = [13, -6];
        // times 0.5 = [6.5, -3] -> [6, -3] (6.5 rounds to the even 6).
        let dense = Dense {
            out_features: 2,
            relu: false,
            output: QParams { scale_exp: 0, zero_point: 0 },
            weights: &[1, 1, 1, 2, 0xFF, 0],
            bias: &DENSE_BIAS,
            multipliers: &DENSE_MULT,
        };
        let out = run_one(Layer::Dense(dense), Shape::flat(3), 1, &[1, 2, 3], &mut arena[..]);
        defmt::assert_eq!(out, &[6, -3]);
    }

    #[test]
    fn conv_sums_its_window(arena: &mut &'static mut [i8; MAX_ARENA_BYTES]) {
        // 3x3 input 1..=9, 2x2 kernel of ones, stride 1, no padding: the four window sums.
        let conv = Conv2d {
            out_channels: 1,
            window: Window { kernel_h: 2, kernel_w: 2, stride_h: 1, stride_w: 1, pads: Pads::default() },
            relu: false,
            output: QParams { scale_exp: 0, zero_point: 0 },
            weights: &[1, 1, 1, 1],
            bias: &[0, 0, 0, 0],
            multipliers: &ONE,
        };
        let x = [1, 2, 3, 4, 5, 6, 7, 8, 9];
        let out = run_one(Layer::Conv2d(conv), Shape::new(3, 3, 1), 0, &x, &mut arena[..]);
        defmt::assert_eq!(out, &[12, 16, 24, 28]);
    }

    #[test]
    fn conv_relu_clamps_at_the_output_zero_point(arena: &mut &'static mut [i8; MAX_ARENA_BYTES]) {
        // 1x1 kernel of -1 on [5, -7]: acc [-5, 7]; zero point -128 with ReLU clamps -5 to
        // nothing below -128 + 0: outputs [-128, 7 - 128].
        let conv = Conv2d {
            out_channels: 1,
            window: Window { kernel_h: 1, kernel_w: 1, stride_h: 1, stride_w: 1, pads: Pads::default() },
            relu: true,
            output: QParams { scale_exp: 0, zero_point: -128 },
            weights: &[0xFF],
            bias: &[0, 0, 0, 0],
            multipliers: &ONE,
        };
        let out = run_one(Layer::Conv2d(conv), Shape::new(1, 2, 1), 0, &[5, -7], &mut arena[..]);
        defmt::assert_eq!(out, &[-128, -121]);
    }

    #[test]
    fn depthwise_filters_each_channel_with_its_own_kernel(arena: &mut &'static mut [i8; MAX_ARENA_BYTES]) {
        // 2x2 input of two channels (HWC): channel 0 = [1, 2, 3, 4], channel 1 = [10, 20, 30,
        // 40], input zero point 1; 2x2 kernel, weights [ky][kx][c]: channel 0 all ones,
        // channel 1 [1, 0, 0, -1]; one output pixel per channel. With "same"-style padding
        // bottom and right (1 each) there are four output pixels, the padded taps adding 0.
        let dw = Depthwise {
            window: Window { kernel_h: 2, kernel_w: 2, stride_h: 1, stride_w: 1, pads: Pads { top: 0, left: 0, bottom: 1, right: 1 } },
            relu: false,
            output: QParams { scale_exp: 0, zero_point: 0 },
            weights: &[1, 1, 1, 0, 1, 0, 1, 0xFF],
            bias: &DW_BIAS,
            multipliers: &DW_MULT,
        };
        let x = [1, 10, 2, 20, 3, 30, 4, 40];
        let out = run_one(Layer::Depthwise(dw), Shape::new(2, 2, 2), 1, &x, &mut arena[..]);
        // x - zp: channel 0 [0, 1, 2, 3], channel 1 [9, 19, 29, 39].
        // Pixel (0, 0): ch0 0 + 1 + 2 + 3 = 6 (+ bias 1 = 7, times 1); ch1 9 - 39 = -30
        // (+ bias -2 = -32, times 0.5 = -16). Pixel (0, 1): ch0 1 + 3 = 4 + 1 = 5; ch1 19 - 0 =
        // 19 - 2 = 17 * 0.5 = 8.5 -> 8 (ties to even). Pixel (1, 0): ch0 2 + 3 + 1 = 6; ch1
        // 29 - 2 = 27 * 0.5 = 13.5 -> 14. Pixel (1, 1): ch0 3 + 1 = 4; ch1 39 - 2 = 37 -> 18.5 -> 18.
        defmt::assert_eq!(out, &[7, -16, 5, 8, 6, 14, 4, 18]);
    }

    #[test]
    fn fast_requantization_rounds_ties_to_even(arena: &mut &'static mut [i8; MAX_ARENA_BYTES]) {
        // Multiplier 0.25 (under 2^15: the fast form) on sums x: 2, 6, -2, -6, 10, 14, -10, 3
        // are 0.5, 1.5, -0.5, -1.5, 2.5, 3.5, -2.5, 0.75 -> 0, 2, 0, -2, 2, 4, -2, 1 (ties to
        // even, both parities of the quotient); with ReLU at zero point 1: + 1, at least 1.
        let x = [2, 6, -2, -6, 10, 14, -10, 3];
        let plain = [0, 2, 0, -2, 2, 4, -2, 1];
        for (relu, zp) in [(false, 0), (true, 1)] {
            let want = plain.map(|v: i8| if relu { (v + zp).max(zp) } else { v });
            // A 1x1 convolution of one channel over 8 pixels (two blocks of four).
            let conv = Conv2d {
                out_channels: 1,
                window: Window::square(1, 1, Pads::default()),
                relu,
                output: QParams { scale_exp: 0, zero_point: zp },
                weights: &[1],
                bias: &[0, 0, 0, 0],
                multipliers: &QUARTER[..4],
            };
            let out = run_one(Layer::Conv2d(conv), Shape::new(1, 8, 1), 0, &x, &mut arena[..]);
            defmt::assert_eq!(out, &want, "conv, relu {=bool}", relu);
            // A 1x1 depthwise convolution of four channels over two pixels (one group).
            let dw = Depthwise {
                window: Window::square(1, 1, Pads::default()),
                relu,
                output: QParams { scale_exp: 0, zero_point: zp },
                weights: &[1, 1, 1, 1],
                bias: &[0; 16],
                multipliers: &QUARTER,
            };
            let out = run_one(Layer::Depthwise(dw), Shape::new(1, 2, 4), 0, &x, &mut arena[..]);
            defmt::assert_eq!(out, &want, "depthwise, relu {=bool}", relu);
        }
    }

    #[test]
    fn pools_take_max_and_round_mean_ties_to_even(arena: &mut &'static mut [i8; MAX_ARENA_BYTES]) {
        // 2x4 input, 2x2 windows, stride 2: windows [1, 5, 4, 0] and [-3, 2, 7, -8].
        let pool = Pool { kernel_h: 2, kernel_w: 2, stride_h: 2, stride_w: 2, pads: Pads::default() };
        let x = [1, 5, -3, 2, 4, 0, 7, -8];
        let max = run_one(Layer::MaxPool(pool), Shape::new(2, 4, 1), 0, &x, &mut arena[..]);
        defmt::assert_eq!(max, &[5, 7]);
        // Means 2.5 and -0.5 round to the even neighbours 2 and 0.
        let avg = run_one(Layer::AvgPool(pool), Shape::new(2, 4, 1), 0, &x, &mut arena[..]);
        defmt::assert_eq!(avg, &[2, 0]);
    }

    #[test]
    fn random_models_match_the_host_reference_layer_by_layer(arena: &mut &'static mut [i8; MAX_ARENA_BYTES]) {
        let mut layers_checked = 0;
        for (m, case) in MODEL_CASES.iter().enumerate() {
            let model = defmt::unwrap!(Model::parse(case.blob));
            defmt::unwrap!(input_slot(&model, &mut arena[..])).copy_from_slice(case.input);
            defmt::unwrap!(run_with(&model, &mut kernels::active(), &mut arena[..], |i, out| {
                defmt::assert_eq!(out, case.layers[i], "model {=usize} layer {=usize}", m, i);
                layers_checked += 1;
            }));
        }
        defmt::info!("{=usize} models, {=usize} layer outputs equal to the host reference", MODEL_CASES.len(), layers_checked);
    }

    #[test]
    fn random_models_streamed_in_row_bands_match_the_host_reference(arena: &mut &'static mut [i8; MAX_ARENA_BYTES]) {
        let (mut rows_checked, mut banded) = (0, 0);
        for (m, case) in MODEL_CASES.iter().enumerate() {
            let model = defmt::unwrap!(Model::parse(case.blob));
            // In the smallest plan (what the firmware runs), and with every leading conv,
            // depthwise and pool layer in row bands (one output row per kernel call).
            for all in [false, true] {
                let mut stream = match all {
                    false => Stream::new(&model, 0),
                    true => defmt::unwrap!(Stream::with_bands(&model, BandPlan::max_bands(&model), 0)),
                };
                banded += stream.plan().banded_layers();
                let arena = &mut arena[..stream.plan().arena_bytes()];
                arena.fill(0x55); // stale bytes: a row read before it is written shows
                let mut check = |i: usize, rows: core::ops::Range<u16>, out: &[i8]| {
                    let row = out.len() / rows.len();
                    let want = &case.layers[i][rows.start as usize * row..rows.end as usize * row];
                    defmt::assert_eq!(out, want, "model {=usize} layer {=usize} row {=u16}", m, i, rows.start);
                    rows_checked += rows.len();
                };
                let shape = model.input().shape;
                for row in case.input.chunks(shape.w as usize * shape.c as usize) {
                    defmt::unwrap!(stream.push_row(&mut kernels::active(), arena, row, &mut check));
                }
                let out = defmt::unwrap!(stream.finish(&mut kernels::active(), arena, &mut check));
                defmt::assert_eq!(out, case.layers[model.layers().len() - 1], "model {=usize} output", m);
            }
        }
        defmt::info!(
            "{=usize} models, two plans each ({=usize} layers in row bands), {=usize} output rows equal to the host reference",
            MODEL_CASES.len(),
            banded,
            rows_checked
        );
    }
}
