//! Runs an exported ONNX model in tract, optimized (`into_optimized()`, what a deployment would
//! run), and gives outputs in the reference's HWC order.

use anyhow::{ensure, Context, Result};
use common::Shape;
use tract_onnx::prelude::*;

use super::int8::{LayerOutput, Layout};

pub struct Tract {
    plan: Arc<TypedRunnableModel>,
    layouts: Vec<Layout>,
    input: Shape,
}

impl Tract {
    /// The int8 model with the given tensors as outputs (e.g. every layer's, for a
    /// layer-by-layer comparison; or just the model's `output`).
    pub fn int8(onnx: &[u8], input: Shape, outputs: &[LayerOutput]) -> Result<Tract> {
        let model = tract_onnx::onnx().model_for_read(&mut &onnx[..]).context("tract cannot read the ONNX model")?;
        let names: Vec<&str> = outputs.iter().map(|o| o.tensor.as_str()).collect();
        let model = model.with_outputs_by_name(&names)?.into_optimized().context("tract cannot optimize the model")?;
        let plan = model.into_runnable()?;
        Ok(Tract { plan, layouts: outputs.iter().map(|o| o.layout).collect(), input })
    }

    /// The int8 model with its declared outputs (an export's `output`, flat).
    pub fn int8_output(onnx: &[u8], input: Shape) -> Result<Tract> {
        let model = tract_onnx::onnx().model_for_read(&mut &onnx[..]).context("tract cannot read the ONNX model")?;
        let outputs = model.outputs.len();
        let plan = model.into_optimized().context("tract cannot optimize the model")?.into_runnable()?;
        Ok(Tract { plan, layouts: vec![Layout::Flat; outputs], input })
    }

    /// Runs one float NCHW input through a float model; returns its outputs flattened.
    pub fn run_float(onnx: &[u8], input: &[f32], dims: [usize; 4]) -> Result<Vec<Vec<f32>>> {
        Self::run_float_plan(&Self::float_plan(onnx)?, input, dims)
    }

    /// A float model, optimized, to run many inputs with [`Tract::run_float_plan`].
    pub fn float_plan(onnx: &[u8]) -> Result<Arc<TypedRunnableModel>> {
        let model = tract_onnx::onnx().model_for_read(&mut &onnx[..]).context("tract cannot read the ONNX model")?;
        model.into_optimized()?.into_runnable()
    }

    /// Runs one float NCHW input through `plan`; returns its outputs flattened.
    pub fn run_float_plan(plan: &Arc<TypedRunnableModel>, input: &[f32], dims: [usize; 4]) -> Result<Vec<Vec<f32>>> {
        let t = tract_ndarray::Array4::<f32>::from_shape_vec((dims[0], dims[1], dims[2], dims[3]), input.to_vec())?;
        let outs = plan.run(tvec!(Tensor::from(t).into()))?;
        outs.iter().map(|o| Ok(o.to_plain_array_view::<f32>()?.iter().copied().collect())).collect()
    }

    /// Runs one HWC int8 input; returns each output in reference order.
    pub fn run(&self, input: &[i8]) -> Result<Vec<Vec<i8>>> {
        let s = self.input;
        ensure!(input.len() == s.len(), "input has {} values, the model takes {}", input.len(), s.len());
        let t = tract_ndarray::Array4::<i8>::from_shape_vec((1, s.h as usize, s.w as usize, s.c as usize), input.to_vec())?;
        let outs = self.plan.run(tvec!(Tensor::from(t).into()))?;
        outs.iter()
            .zip(&self.layouts)
            .map(|(o, layout)| {
                let v: Vec<i8> = o.to_plain_array_view::<i8>()?.iter().copied().collect();
                Ok(match *layout {
                    Layout::Flat => v,
                    Layout::Nchw(s) => nchw_to_hwc(&v, s),
                })
            })
            .collect()
    }
}

fn nchw_to_hwc(v: &[i8], s: Shape) -> Vec<i8> {
    let (h, w, c) = (s.h as usize, s.w as usize, s.c as usize);
    let mut out = vec![0i8; v.len()];
    for ch in 0..c {
        for p in 0..h * w {
            out[p * c + ch] = v[ch * h * w + p];
        }
    }
    out
}
