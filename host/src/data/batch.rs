//! What a trainer needs from any data set: numbered examples, each an int8 input tensor made by
//! `common` preprocessing plus a target, and whole batches made on all cores.

use std::cell::RefCell;

use common::format::InputSpec;
use rayon::prelude::*;

use crate::data::Rng;

/// A data set of examples for one model input.
pub trait Examples: Sync {
    /// `f32` steering for driving, `u16` class for classification.
    type Target: Copy + Send;

    /// Number of examples (before augmentation).
    fn len(&self) -> usize;

    fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The model input the examples are made for. The network sees `x = q * 2^quant.scale_exp`
    /// of each int8 value `q`.
    fn input(&self) -> &InputSpec;

    /// Writes example `index` into `out` (`input().shape.len()` values, HWC) and returns its
    /// target. With `augment`, a random transform is drawn from `rng` and applied to the raw
    /// frame first (the target changes with it where it must, e.g. a mirrored frame's
    /// steering); without, `rng` is not used and the example is the frame as recorded.
    ///
    /// Panics if `out` has the wrong length.
    fn example(&self, index: usize, rng: &mut Rng, augment: bool, out: &mut [i8]) -> Self::Target;

    /// Makes a batch on all cores: example `k` of the batch is `indices[k]`, drawn with
    /// `Rng::keyed(seed, k)`, written to `inputs[k * n..(k + 1) * n]` (`n` the input length) and
    /// `targets[k]`. The same `seed` gives the same batch however threads are scheduled; draw
    /// one seed per batch from the trainer's own generator.
    ///
    /// Panics if the buffers do not have `indices.len()` examples' room.
    fn fill_batch(&self, indices: &[usize], seed: u64, augment: bool, inputs: &mut [i8], targets: &mut [Self::Target]) {
        let n = self.input().shape.len();
        assert_eq!(inputs.len(), indices.len() * n, "inputs must hold {} examples of {n} values", indices.len());
        assert_eq!(targets.len(), indices.len(), "targets must hold {} examples", indices.len());
        inputs.par_chunks_mut(n).zip(targets.par_iter_mut()).zip(indices.par_iter()).enumerate().for_each(|(k, ((input, target), &index))| {
            *target = self.example(index, &mut Rng::keyed(seed, k as u64), augment, input);
        });
    }
}

thread_local! {
    static SCRATCH: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

/// Runs `f` with this thread's reusable frame buffer of `len` bytes, so making an example
/// allocates nothing. Its content is whatever the previous example left: callers write every
/// byte they later read.
pub(crate) fn with_scratch<R>(len: usize, f: impl FnOnce(&mut [u8]) -> R) -> R {
    SCRATCH.with(|s| {
        let mut s = s.borrow_mut();
        if s.len() < len {
            s.resize(len, 0);
        }
        f(&mut s[..len])
    })
}
