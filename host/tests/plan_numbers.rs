//! The memory plans of the shipped network shapes (the numbers the README and model cards quote).

use common::plan::{BandPlan, CameraPlan};
use common::Model;
use host::zoo;

#[test]
fn pilotnet_and_sign_cnn_plans() {
    let pilot = zoo::pilotnet_random(1).to_bytes();
    let pilot = Model::parse(&pilot).unwrap();
    assert_eq!(pilot.macs(), 26_876_342);
    // Peak: the 66x200x3 input (39,600 B) and conv1's 31x98x24 output (72,912 B) together.
    assert_eq!(pilot.plan().arena_bytes(), 39_600 + 72_912);
    assert_eq!(pilot.plan().naive_ping_pong_bytes(), 2 * 72_912);

    let sign = zoo::sign_cnn_random(1).to_bytes();
    let sign = Model::parse(&sign).unwrap();
    assert_eq!(sign.macs(), 4_193_024);
    // Each layer needs its input and output at once; the peak is conv1's output (28,800 B)
    // with pool1's output (7,200 B).
    let expected = [3_072 + 28_800, 28_800 + 7_200, 7_200 + 10_816, 10_816 + 2_304, 2_304 + 128, 128 + 43].into_iter().max().unwrap();
    assert_eq!(sign.plan().arena_bytes(), expected);
    assert_eq!(sign.plan().arena_bytes(), 36_000);
    assert_eq!(sign.plan().naive_ping_pong_bytes(), 2 * 28_800);
}

#[test]
fn pilotnet_and_sign_cnn_row_band_plans() {
    let pilot = zoo::pilotnet_random(1).to_bytes();
    let pilot = Model::parse(&pilot).unwrap();
    // conv1..conv3 in row bands: the input and the outputs of conv1 and conv2 in windows of
    // 5 rows (the next layer's kernel height), conv3's 5x22x48 output whole. Every longer or
    // shorter chain needs more.
    let bands = BandPlan::new(&pilot, 0);
    assert_eq!(bands.banded_layers(), 3);
    assert_eq!(bands.arena_bytes(), 5 * 200 * 3 + 5 * 98 * 24 + 5 * 47 * 36 + 5 * 22 * 48);
    assert_eq!(bands.arena_bytes(), 28_500);
    let chains: Vec<usize> = (0..=5).map(|k| BandPlan::with_bands(&pilot, k, 0).unwrap().arena_bytes()).collect();
    assert_eq!(chains, [112_512, 96_600, 38_448, 28_500, 30_228, 31_380]);
    // The firmware adds preprocessing's row buffers: a 320x3 camera row, `RowStream`'s two
    // 200x3 u16 interpolated rows and its 200x3 output row.
    let firmware = CameraPlan::of(&pilot).bands;
    assert_eq!(firmware.scratch().len, 960 + 2 * 2 * 600 + 600);
    assert_eq!(firmware.arena_bytes(), 28_500 + 3_960);

    let sign = zoo::sign_cnn_random(1).to_bytes();
    let sign = Model::parse(&sign).unwrap();
    // All four conv/pool layers in row bands: input 3 rows of 32x3, conv1's output 2 rows of
    // 30x32, pool1's 3 rows of 15x32, conv2's 2 rows of 13x64, pool2's 6x6x64 whole; the
    // dense layers after it need 2,304 + 128 B.
    let bands = BandPlan::new(&sign, 0);
    assert_eq!(bands.banded_layers(), 4);
    assert_eq!(bands.arena_bytes(), 3 * 96 + 2 * 960 + 3 * 480 + 2 * 832 + 2_304);
    assert_eq!(bands.arena_bytes(), 7_616);
    // Camera row 32x3, interpolated rows 2x32x3 u16, output row 32x3.
    let firmware = CameraPlan::of(&sign).bands;
    assert_eq!(firmware.arena_bytes(), 7_616 + 96 + 384 + 96);
}
