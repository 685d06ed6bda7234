//! The memory plan of the shipped network shapes (the numbers the README and model cards quote).

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
    let expected = [3_072 + 28_800, 28_800 + 7_200, 7_200 + 10_816, 10_816 + 2_304, 2_304 + 128, 128 + 43]
        .into_iter()
        .max()
        .unwrap();
    assert_eq!(sign.plan().arena_bytes(), expected);
    assert_eq!(sign.plan().arena_bytes(), 36_000);
    assert_eq!(sign.plan().naive_ping_pong_bytes(), 2 * 28_800);
}
