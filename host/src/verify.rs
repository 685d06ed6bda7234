//! Byte-for-byte comparison of the `common` reference (from the blob) and tract (from the
//! exported ONNX), layer by layer.

use anyhow::{ensure, Result};
use common::interp::{input_slot, run_with, Reference};
use common::Model;

use crate::onnx::int8::LayerOutput;
use crate::onnx::run::Tract;

/// Mismatch counts per layer, and the first divergence seen.
#[derive(Clone, Debug, Default)]
pub struct Comparison {
    pub samples: usize,
    /// Per layer: (bytes compared, bytes that differ).
    pub layers: Vec<(usize, usize)>,
    /// The first sample and layer where the two differ, with a few `(index, reference, tract)`.
    pub first: Option<Divergence>,
}

#[derive(Clone, Debug)]
pub struct Divergence {
    pub sample: usize,
    pub layer: usize,
    pub values: Vec<(usize, i8, i8)>,
}

impl Comparison {
    pub fn mismatches(&self) -> usize {
        self.layers.iter().map(|l| l.1).sum()
    }

    /// The first layer (in network order) with any mismatch.
    pub fn first_bad_layer(&self) -> Option<usize> {
        self.layers.iter().position(|l| l.1 > 0)
    }
}

/// Runs every input through both and compares every layer's output.
pub fn compare(model: &Model<'_>, onnx: &[u8], outputs: &[LayerOutput], inputs: impl Iterator<Item = Vec<i8>>) -> Result<Comparison> {
    ensure!(outputs.len() == model.layers().len(), "the ONNX model has {} layer outputs, the blob {} layers", outputs.len(), model.layers().len());
    let tract = Tract::int8(onnx, model.input().shape, outputs)?;
    let mut cmp = Comparison { layers: vec![(0, 0); outputs.len()], ..Comparison::default() };
    let mut arena = vec![0i8; model.plan().arena_bytes()];
    for (sample, input) in inputs.enumerate() {
        input_slot(model, &mut arena)?.copy_from_slice(&input);
        let mut reference = Vec::with_capacity(outputs.len());
        run_with(model, &mut Reference, &mut arena, |_, out| reference.push(out.to_vec()))?;
        let got = tract.run(&input)?;
        for (layer, (r, t)) in reference.iter().zip(&got).enumerate() {
            let bad: Vec<usize> = (0..r.len().min(t.len())).filter(|&k| r[k] != t[k]).collect();
            let differ = bad.len() + r.len().abs_diff(t.len());
            cmp.layers[layer].0 += r.len();
            cmp.layers[layer].1 += differ;
            if differ > 0 && cmp.first.as_ref().is_none_or(|f| f.sample == sample && layer < f.layer) {
                let values = bad.iter().take(5).map(|&k| (k, r[k], t[k])).collect();
                cmp.first = Some(Divergence { sample, layer, values });
            }
        }
        cmp.samples += 1;
    }
    Ok(cmp)
}
