//! Runs a parsed model through an arena plan, with pluggable kernels.
//!
//! Two ways in: [`run`] / [`run_with`] take the whole input and walk the whole-tensor
//! [`crate::Plan`] layer by layer; [`Stream`] takes the input row by row (as preprocessing emits
//! it) and walks the row-band [`crate::plan::BandPlan`] in far less memory. Both give the same
//! bytes. The reference kernels ([`Reference`]) are the oracle; the firmware plugs in its
//! optimized kernels through the same [`Kernels`] trait, so both walk the same plans.

mod stream;

use core::fmt;

use crate::format::{Conv2d, Dense, Depthwise, Layer, Model, Pool, TensorInfo};
use crate::kernels;
use crate::plan::Slot;

pub use stream::Stream;

/// A read-only activation tensor.
#[derive(Clone, Copy, Debug)]
pub struct Tensor<'a> {
    pub data: &'a [i8],
    pub info: TensorInfo,
}

/// A tensor a kernel writes.
#[derive(Debug)]
pub struct TensorMut<'a> {
    pub data: &'a mut [i8],
    pub info: TensorInfo,
}

/// One implementation of every layer kind. `input.data` and `output.data` have exactly the
/// lengths of their shapes (guaranteed by the plan).
pub trait Kernels {
    fn conv2d(&mut self, layer: &Conv2d<'_>, input: Tensor<'_>, output: TensorMut<'_>);
    fn dense(&mut self, layer: &Dense<'_>, input: Tensor<'_>, output: TensorMut<'_>);
    fn depthwise(&mut self, layer: &Depthwise<'_>, input: Tensor<'_>, output: TensorMut<'_>);
    fn max_pool(&mut self, layer: &Pool, input: Tensor<'_>, output: TensorMut<'_>);
    fn avg_pool(&mut self, layer: &Pool, input: Tensor<'_>, output: TensorMut<'_>);
}

/// The scalar reference kernels of [`crate::kernels`].
#[derive(Clone, Copy, Debug, Default)]
pub struct Reference;

impl Kernels for Reference {
    fn conv2d(&mut self, l: &Conv2d<'_>, i: Tensor<'_>, o: TensorMut<'_>) {
        kernels::conv2d(l, i, o)
    }
    fn dense(&mut self, l: &Dense<'_>, i: Tensor<'_>, o: TensorMut<'_>) {
        kernels::dense(l, i, o)
    }
    fn depthwise(&mut self, l: &Depthwise<'_>, i: Tensor<'_>, o: TensorMut<'_>) {
        kernels::depthwise(l, i, o)
    }
    fn max_pool(&mut self, l: &Pool, i: Tensor<'_>, o: TensorMut<'_>) {
        kernels::max_pool(l, i, o)
    }
    fn avg_pool(&mut self, l: &Pool, i: Tensor<'_>, o: TensorMut<'_>) {
        kernels::avg_pool(l, i, o)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum RunError {
    ArenaTooSmall {
        needed: usize,
        got: usize,
    },
    InputLength {
        expected: usize,
        got: usize,
    },
    /// A row pushed to a [`Stream`] has the wrong length.
    RowLength {
        expected: usize,
        got: usize,
    },
    /// A [`Stream`] got more input rows than the model has, or finished with fewer.
    RowCount {
        expected: u16,
        got: u16,
    },
}

impl fmt::Display for RunError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RunError::ArenaTooSmall { needed, got } => {
                write!(f, "arena too small: the model needs {needed} bytes, got {got}")
            }
            RunError::InputLength { expected, got } => {
                write!(f, "input has {got} values, the model takes {expected}")
            }
            RunError::RowLength { expected, got } => {
                write!(f, "input row has {got} values, the model's rows have {expected}")
            }
            RunError::RowCount { expected, got } => {
                write!(f, "{got} input rows streamed, the model takes {expected}")
            }
        }
    }
}

#[cfg(feature = "std")]
impl std::error::Error for RunError {}

/// Runs `model` on `input` with the reference kernels; returns the output tensor (in `arena`).
pub fn run<'ar>(model: &Model<'_>, input: &[i8], arena: &'ar mut [i8]) -> Result<&'ar [i8], RunError> {
    input_slot(model, arena)?.copy_from_slice(check_input_len(model, input)?);
    run_with(model, &mut Reference, arena, |_, _| {})
}

fn check_input_len<'i>(model: &Model<'_>, input: &'i [i8]) -> Result<&'i [i8], RunError> {
    let expected = model.input().shape.len();
    if input.len() != expected {
        return Err(RunError::InputLength { expected, got: input.len() });
    }
    Ok(input)
}

/// The part of `arena` where the model input must be written before [`run_with`].
pub fn input_slot<'ar>(model: &Model<'_>, arena: &'ar mut [i8]) -> Result<&'ar mut [i8], RunError> {
    check_arena(model, arena)?;
    Ok(&mut arena[model.plan().slot(0).range()])
}

fn check_arena(model: &Model<'_>, arena: &[i8]) -> Result<(), RunError> {
    check_len(arena, model.plan().arena_bytes())
}

fn check_len(arena: &[i8], needed: usize) -> Result<(), RunError> {
    if arena.len() < needed {
        return Err(RunError::ArenaTooSmall { needed, got: arena.len() });
    }
    Ok(())
}

/// Runs every layer on the input already in the arena's input slot, calling
/// `after_layer(i, output_of_layer_i)` after each, and returns the final output.
pub fn run_with<'ar, K, F>(model: &Model<'_>, kernels: &mut K, arena: &'ar mut [i8], after_layer: F) -> Result<&'ar [i8], RunError>
where
    K: Kernels + ?Sized,
    F: FnMut(usize, &[i8]),
{
    check_arena(model, arena)?;
    let plan = model.plan();
    Ok(run_whole(model, kernels, arena, 0, |i| plan.slot(i), after_layer))
}

/// Runs layers `first..` on whole tensors, tensor `i` at `slot(i)` (disjoint for each layer's
/// input and output, except flatten's), calling `after_layer(i, output_of_layer_i)` after
/// each; returns the final output.
fn run_whole<'ar, K, F>(model: &Model<'_>, kernels: &mut K, arena: &'ar mut [i8], first: usize, slot: impl Fn(usize) -> Slot, mut after_layer: F) -> &'ar [i8]
where
    K: Kernels + ?Sized,
    F: FnMut(usize, &[i8]),
{
    let layers = model.layers();
    for (i, node) in layers.iter().enumerate().skip(first) {
        let (in_slot, out_slot) = (slot(i), slot(i + 1));
        if !matches!(node.layer, Layer::Flatten) {
            let (input, output) = split(arena, in_slot, out_slot);
            let input = Tensor { data: input, info: model.tensor(i) };
            let output = TensorMut { data: output, info: model.tensor(i + 1) };
            apply(kernels, &node.layer, input, output);
        }
        after_layer(i, &arena[out_slot.range()]);
    }
    &arena[slot(layers.len()).range()]
}

/// Runs one layer. Flatten moves no bytes (the plans give its output its input's slot), so
/// callers never pass it.
fn apply<K: Kernels + ?Sized>(kernels: &mut K, layer: &Layer<'_>, input: Tensor<'_>, output: TensorMut<'_>) {
    match layer {
        Layer::Conv2d(l) => kernels.conv2d(l, input, output),
        Layer::Dense(l) => kernels.dense(l, input, output),
        Layer::Depthwise(l) => kernels.depthwise(l, input, output),
        Layer::MaxPool(l) => kernels.max_pool(l, input, output),
        Layer::AvgPool(l) => kernels.avg_pool(l, input, output),
        Layer::Flatten => {}
    }
}

/// Borrows two disjoint slots of the arena, the first shared, the second mutable.
fn split(arena: &mut [i8], a: Slot, b: Slot) -> (&[i8], &mut [i8]) {
    if a.end() <= b.offset {
        let (lo, hi) = arena.split_at_mut(b.offset as usize);
        (&lo[a.range()], &mut hi[..b.len as usize])
    } else {
        // The plan guarantees the slots are disjoint, so here b lies entirely below a.
        let (lo, hi) = arena.split_at_mut(a.offset as usize);
        (&hi[..a.len as usize], &mut lo[b.range()])
    }
}
