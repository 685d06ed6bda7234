//! The board timing model: the instruction count follows the kernels' structure (exact for the
//! hand-written loops), pooling and preprocessing cost what they do, and the camera and core
//! combine into the frame rate and latency the schedule implies.

use common::board::camera::{Camera, Link};
use common::board::cost::{walk, Event, FrameCost, Ledger, Region};
use common::board::timing::{frame_timing, Pipeline, Work};
use common::board::{self, BLACKPILL, BOARDS, H743};
use common::format::owned::{OwnedConv, OwnedDense, OwnedLayer, OwnedModel, OwnedNode};
use common::format::{InputSpec, Pads, Pool, QParams, Task, Window};
use common::preprocess::{ColorMode, PixelFormat, Preprocess, Rect};
use common::testing::{random_model, RandomModelOptions, Rng};
use common::{Model, Shape};

fn test_vector(name: &str) -> Vec<u8> {
    std::fs::read(format!("{}/../models/testvectors/{name}", env!("CARGO_MANIFEST_DIR"))).unwrap()
}

/// Counts the events of a walk.
#[derive(Default)]
struct Count(Vec<u64>);

impl Ledger for Count {
    fn add(&mut self, e: Event, n: u64) {
        if self.0.is_empty() {
            self.0 = vec![0; Event::ALL.len()];
        }
        self.0[e as usize] += n;
    }
}

impl Count {
    fn of(model: &Model<'_>) -> Count {
        let mut c = Count::default();
        walk(model, None, &mut c);
        c
    }

    fn get(&self, e: Event) -> u64 {
        self.0.get(e as usize).copied().unwrap_or(0)
    }
}

const Q: QParams = QParams { scale_exp: -4, zero_point: -128 };

fn conv(out: u16, k: u8, stride: u8, inputs: usize) -> OwnedLayer {
    OwnedLayer::Conv2d(OwnedConv {
        out_channels: out,
        window: Window { kernel_h: k, kernel_w: k, stride_h: stride, stride_w: stride, pads: Pads::default() },
        relu: true,
        output: Q,
        weights: vec![1; out as usize * k as usize * k as usize * inputs],
        bias: vec![0; out as usize],
        multipliers: vec![100; out as usize],
    })
}

fn model(input: Shape, pp: Option<Preprocess>, layers: Vec<OwnedLayer>) -> Vec<u8> {
    OwnedModel {
        name: "t".into(),
        task: Task::Regression,
        input: InputSpec { shape: input, quant: QParams { scale_exp: -7, zero_point: 0 }, preprocess: pp },
        layers: layers.into_iter().enumerate().map(|(i, layer)| OwnedNode { name: format!("l{i}"), layer }).collect(),
    }
    .to_bytes()
}

#[test]
fn multiply_accumulate_chunks_cover_exactly_the_macs_without_padding() {
    // No padding and depths that are multiples of 4: every chunk is 4 real weights for each of
    // its block's pixels, so chunks x 4 x pixels is the layer's MACs exactly.
    for (hw, c, oc, k, s) in [(20u16, 4u16, 8u16, 3u8, 1u8), (31, 8, 70, 5, 2), (12, 60, 9, 2, 1), (9, 16, 130, 3, 2)] {
        let bytes = model(Shape::new(hw, hw, c), None, vec![conv(oc, k, s, c as usize)]);
        let m = Model::parse(&bytes).unwrap();
        let n = Count::of(&m);
        let lanes = 4 * (n.get(Event::DotRowsChunk1) + 2 * n.get(Event::DotRowsChunk2) + 3 * n.get(Event::DotRowsChunk3) + 4 * n.get(Event::DotRowsChunk4));
        assert_eq!(lanes, m.macs(), "{hw}x{hw}x{c} -> {oc} k{k} s{s}");
        // One requantization per output value, four per channel and block (each band row
        // call ends with a block of up to three pixels less).
        let outs = m.output().shape.len() as u64;
        let requant = 4 * [Event::RequantChannel, Event::RequantChannelClamped, Event::RequantChannelFast, Event::RequantChannelFastClamped]
            .iter()
            .map(|&e| n.get(e))
            .sum::<u64>();
        assert!(requant >= outs && requant <= outs + 3 * oc as u64 * n.get(Event::ConvCall), "{requant} for {outs}");
    }
}

#[test]
fn a_dense_layer_runs_one_pixel_and_blocks_its_depth_and_channels() {
    // 1000 inputs: 5 depth blocks of 224 (the last of 104); 100 outputs: 2 channel blocks.
    let bytes = model(
        Shape::new(1, 1, 1000),
        None,
        vec![OwnedLayer::Dense(OwnedDense {
            out_features: 100,
            relu: false,
            output: Q,
            weights: vec![1; 100_000],
            bias: vec![0; 100],
            multipliers: vec![100; 100],
        })],
    );
    let m = Model::parse(&bytes).unwrap();
    let n = Count::of(&m);
    assert_eq!(n.get(Event::DotRowsCall1), 10);
    assert_eq!(n.get(Event::DotRowsChannel1), 500);
    assert_eq!(n.get(Event::DotRowsChunk1), 100 * 250);
    assert_eq!(n.get(Event::ConvDepthBlock), 10);
    assert_eq!(n.get(Event::DotRowsChunk4), 0);
}

/// Like the blob fuzzing found (one average pool over a 12262x3x95 input; its window is not
/// in the repository, 200x3 here).
fn huge_avg_pool() -> Vec<u8> {
    let pool = Pool { kernel_h: 200, kernel_w: 3, stride_h: 1, stride_w: 1, pads: Pads::default() };
    model(Shape::new(12262, 3, 95), None, vec![OwnedLayer::AvgPool(pool)])
}

#[test]
fn pooling_is_counted_window_by_window_even_for_a_huge_layer() {
    let bytes = huge_avg_pool();
    let m = Model::parse(&bytes).unwrap();
    assert_eq!(m.macs(), 0, "no multiply-accumulates, yet it is the most expensive layer here");
    let t = std::time::Instant::now();
    let cost = FrameCost::of(&m, None);
    assert!(t.elapsed().as_secs() < 2, "counting must not take as long as running");
    // 12063 x 1 outputs x 95 channels, each summing 200 x 3 values at 14 instructions.
    let taps = 12063 * 95 * 600u64;
    assert!(cost.layer(0).get(Region::Pool) >= taps * 14, "{:?}", cost.layer(0));
    assert!(cost.network().total() < taps * 25, "{} for {taps} taps", cost.network().total());
    // Each input row entering the 200-row window moves the 199 rows below it up.
    assert!(cost.network().get(Region::Memory) > 12_000 * 199 * 50);
    // Minutes on the Black Pill, without overflowing the nanoseconds.
    let cycles = BLACKPILL.cpi.cycles(&cost.network());
    assert!(cycles / BLACKPILL.clock_hz as u64 > 200, "{cycles} cycles");
    assert_eq!(BLACKPILL.nanos(cycles) / 1_000_000, cycles / 100_000, "100 MHz: 10 ns a cycle");
}

#[test]
fn max_pooling_costs_per_window_position_and_channel() {
    let pool = |k: u8| OwnedLayer::MaxPool(Pool { kernel_h: k, kernel_w: k, stride_h: 1, stride_w: 1, pads: Pads::default() });
    let cost = |c: u16, k: u8| {
        let bytes = model(Shape::new(16, 16, c), None, vec![pool(k)]);
        let total = FrameCost::of(&Model::parse(&bytes).unwrap(), None).network().total();
        total
    };
    assert!(cost(8, 3) > cost(4, 3), "more channels, more work");
    assert!(cost(8, 3) > 2 * cost(8, 1) - 5000, "a 3x3 window reads 9 positions per output");
    assert!(cost(8, 5) > cost(8, 3));
}

fn camera_spec(format: PixelFormat, color: ColorMode) -> Preprocess {
    Preprocess { frame_w: 320, frame_h: 160, format, crop: Rect { x: 0, y: 60, w: 320, h: 75 }, color }
}

#[test]
fn preprocessing_counts_every_camera_row_and_output_pixel() {
    let bytes = model(Shape::new(66, 200, 3), Some(camera_spec(PixelFormat::Rgb888, ColorMode::Yuv)), vec![conv(4, 5, 2, 3)]);
    let m = Model::parse(&bytes).unwrap();
    let n = Count::of(&m);
    assert_eq!(n.get(Event::PreRow), 160, "every frame row arrives");
    assert_eq!(n.get(Event::PreRowInCrop), 75);
    assert_eq!(n.get(Event::PreOutputRow), 66);
    assert_eq!(n.get(Event::PreCombinePixelYuv), 66 * 200);
    // 75 crop rows, each interpolated once (the resize needs them all at 75 -> 66).
    assert_eq!(n.get(Event::PreInterpPixelRgb888), 75 * 200);
    // The same model on the Black Pill's camera, set up to send the crop at 200x68 RGB565:
    // the fast path's identity, no interpolation.
    let pp = BLACKPILL.front_end(&m).unwrap().frames;
    let mut c = Count::default();
    walk(&m, Some(&pp), &mut c);
    assert_eq!(c.get(Event::PreRow), 68);
    assert_eq!(c.get(Event::PreFastSumRgb565), 66 * 200);
    assert_eq!(c.get(Event::PreInterpPixelRgb565) + c.get(Event::PreInterpPixelRgb888), 0);
    // YUV costs more than gray per pixel.
    let gray = model(Shape::new(66, 200, 1), Some(camera_spec(PixelFormat::Rgb888, ColorMode::Gray)), vec![conv(4, 5, 2, 1)]);
    let gray = FrameCost::of(&Model::parse(&gray).unwrap(), None);
    assert!(FrameCost::of(&m, None).preprocess.total() > gray.preprocess.total());
}

#[test]
fn layers_and_stream_add_up_to_the_network() {
    for seed in 0..200 {
        let bytes = random_model(&mut Rng::new(seed), &RandomModelOptions { allow_depthwise: false, ..Default::default() }).to_bytes();
        let m = Model::parse(&bytes).unwrap();
        let cost = FrameCost::of(&m, None);
        let layers: u64 = (0..cost.layer_count()).map(|i| cost.layer(i).total()).sum();
        let parts = layers + cost.streamed_other.total() + cost.tail_other.total();
        assert!(parts.abs_diff(cost.network().total()) <= cost.layer_count() as u64 + 2, "seed {seed}");
        let mut split = cost.network_streamed();
        split.add(&cost.network_tail());
        assert_eq!(split, cost.network());
        // Every layer costs something, flatten included (its dispatch).
        for i in 0..cost.layer_count() {
            assert!(cost.layer(i).total() > 0, "seed {seed} layer {i}");
        }
    }
}

#[test]
fn the_shipped_pilotnet_architecture_costs_what_the_firmware_measures() {
    // The firmware's log for this blob (`pilot bench firmware --models
    // models/testvectors/pilotnet-random.pnn8 --machines mps2-an386`, Cortex-M4F): inference
    // 29,706,240 instructions, preprocessing 3,491,200. The QEMU test in tests/tests/timing.rs measures it
    // afresh; here the model must stay within the logging overhead of these figures.
    let bytes = test_vector("pilotnet-random.pnn8");
    let m = Model::parse(&bytes).unwrap();
    let cost = FrameCost::of(&m, None);
    let within = |got: u64, want: u64| got.abs_diff(want) * 200 <= want;
    assert!(within(cost.network().total(), 29_706_240), "{}", cost.network().total());
    assert!(within(cost.preprocess.total(), 3_491_200), "{}", cost.preprocess.total());
    assert_eq!(cost.banded_layers(), 3);
}

fn camera(frame_ns: u64, link: Link) -> Camera {
    Camera { name: "test", width: 320, height: 240, format: PixelFormat::Rgb565Be, xclk_hz: 24_000_000, frame_ns, link }
}

#[test]
fn a_sequential_loop_locks_to_the_sensor_frames() {
    let t = 50_000_000;
    let cam = camera(t, Link::DcmiDma);
    // Work of 0.3 frames: the next request comes 0.3 frames after the frame's end, so it waits
    // for the VSYNC after next: one decision every two frames.
    let work = Work { readout_ns: 0, preprocess_ns: 5_000_000, network_streamed_ns: 7_000_000, network_tail_ns: 3_000_000 };
    let s = frame_timing(&cam, work, Pipeline::Sequential);
    assert_eq!(s.period_ns, 2 * t);
    assert_eq!(s.latency_ns, t + 15_000_000, "the frame, then the work");
    assert_eq!(s.capture_wait_ns, t - 15_000_000);
    assert_eq!(s.camera_latency_ns() + work.preprocess_ns + work.network_ns(), s.latency_ns);
    // 2.3 frames of work: four frames per decision.
    let long = Work { network_tail_ns: 100_000_000, ..work };
    assert_eq!(frame_timing(&cam, long, Pipeline::Sequential).period_ns, 4 * t);
}

#[test]
fn overlapping_the_next_capture_with_the_tail_shortens_the_period_not_the_latency() {
    let t = 50_000_000;
    let cam = camera(t, Link::DcmiDma);
    // Streamed 10 ms, tail 60 ms.
    let work = Work { readout_ns: 0, preprocess_ns: 4_000_000, network_streamed_ns: 6_000_000, network_tail_ns: 60_000_000 };
    let seq = frame_timing(&cam, work, Pipeline::Sequential);
    let ovl = frame_timing(&cam, work, Pipeline::Overlapped);
    assert_eq!(seq.period_ns, 3 * t, "70 ms of work after a 50 ms frame: 150 ms");
    assert!(ovl.period_ns < seq.period_ns, "{} vs {}", ovl.period_ns, seq.period_ns);
    assert!(ovl.latency_ns >= seq.latency_ns);
    // Overlapped, the core never idles less than the work needs.
    assert!(ovl.period_ns >= work.streamed_ns() + work.network_tail_ns);
}

#[test]
fn the_arducam_readout_is_the_frame_over_spi_plus_the_core_s_gaps() {
    let link = Link::SpiFifo { spi_hz: 6_250_000, byte_gap_cycles: 0, burst_cycles: 0, setup_bytes: 0, poll_ns: 0 };
    let cam = camera(66_666_666, link);
    // 320 x 240 x 2 bytes and one command byte per row, 8 bits each at 6.25 MHz.
    assert_eq!(cam.readout_ns(100_000_000), (153_600 + 240) * 8 * 160);
    let board = BLACKPILL.camera;
    let r = board.readout_ns(BLACKPILL.clock_hz);
    assert!(r > 197_000_000 && r < 300_000_000, "{r} ns");
    assert_eq!(H743.camera.readout_ns(H743.clock_hz), 0, "DMA: no core time");
}

#[test]
fn pilotnet_on_the_black_pill_is_slow_and_late_and_faster_chips_are_faster() {
    let bytes = test_vector("pilotnet-random.pnn8");
    let m = Model::parse(&bytes).unwrap();
    let timings: Vec<_> = BOARDS.iter().map(|b| b.frame_timing(&m, Pipeline::Sequential).unwrap()).collect();
    let bp = timings[0];
    // 30 M instructions at 1.5-2 cycles on 100 MHz, a 37 ms readout, a 17 ms frame.
    assert!(bp.decisions_per_second() < 2.0, "{}", bp.decisions_per_second());
    assert!(bp.latency_ns > 500_000_000, "{} ns", bp.latency_ns);
    assert!(timings[1].period_ns < bp.period_ns && timings[2].period_ns < timings[1].period_ns);
    for (b, t) in BOARDS.iter().zip(&timings) {
        assert!(t.period_ns >= b.front_end(&m).unwrap().camera.frame_ns, "{}: no faster than the sensor", b.name);
        let fit = b.fit(&m, bytes.len());
        assert!(fit.fits(), "{}: {fit:?}", b.name);
    }
    // Timing from the firmware's own counts: the model's when they agree, longer when more.
    let frames = BLACKPILL.front_end(&m).unwrap().frames;
    let cost = FrameCost::of(&m, Some(&frames));
    let (net, pre) = (cost.network().total(), cost.preprocess.total());
    assert_eq!(BLACKPILL.work_measured(&cost, &frames, net, pre), BLACKPILL.work(&cost, &frames));
    let slower = BLACKPILL.work_measured(&cost, &frames, 2 * net, pre);
    assert!(slower.network_ns().abs_diff(2 * BLACKPILL.work(&cost, &frames).network_ns()) <= 2);
    // Best-case cycles are fewer than conservative ones.
    let cost = FrameCost::of(&m, Some(&frames));
    assert!(BLACKPILL.cpi.best_cycles(&cost.network()) < BLACKPILL.cpi.cycles(&cost.network()));
}

#[test]
fn a_model_too_big_for_the_black_pill_does_not_fit_it_but_fits_the_h743() {
    // PilotNet's input and a 64-channel 5x5 stride-2 conv: a 194 KB output.
    let pp = camera_spec(PixelFormat::Rgb888, ColorMode::Yuv);
    let bytes = model(Shape::new(66, 200, 3), Some(pp), vec![conv(64, 5, 2, 3)]);
    let m = Model::parse(&bytes).unwrap();
    assert!(!BLACKPILL.fit(&m, bytes.len()).fits());
    assert!(H743.fit(&m, bytes.len()).fits());
    assert_eq!(board::by_name("BlackPill").unwrap().name, "blackpill");
    assert!(board::by_name("esp32").is_none());
}
