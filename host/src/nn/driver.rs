//! A trained float network as a simulator driver: the same `common` preprocessing as the
//! chip, then the float network (burn) instead of the int8 one.

use anyhow::{ensure, Result};
use common::preprocess::preprocess_frame;
use common::Shape;

use super::net::{input_batch, Net};
use super::spec::{NetSpec, TaskKind};
use crate::sim::drive::Driver;
use crate::sim::render::Frame;
use crate::train::checkpoint::RunDir;
use crate::train::infer_device;

pub struct FloatDriver {
    net: Net,
    spec: NetSpec,
    shape: Shape,
    input: Vec<i8>,
}

impl FloatDriver {
    /// The best checkpoint of a training run.
    pub fn load(run: &RunDir) -> Result<FloatDriver> {
        let spec = run.spec()?;
        ensure!(spec.task == TaskKind::Regression && spec.outputs()? == 1, "{} is not a steering model", run.dir.display());
        let net = run.load_best(&infer_device())?;
        let shape = spec.input_shape();
        Ok(FloatDriver { net, spec, shape, input: vec![0; shape.len()] })
    }
}

impl Driver for FloatDriver {
    fn steer(&mut self, frame: &Frame) -> Result<f32> {
        preprocess_frame(&self.spec.preprocess(), self.shape, frame.rgb(), &mut self.input)?;
        let x = input_batch(&self.input, self.shape, self.spec.input.scale_exp, &infer_device());
        Ok(self.net.forward(x).into_scalar::<f32>())
    }
}

/// The network's first output for each of examples `rows` of `data`, as recorded.
pub fn predict<D>(net: &Net, data: &D, rows: &[usize], batch: usize) -> Vec<f32>
where
    D: crate::data::Examples,
    D::Target: crate::train::Target,
{
    let mut out = Vec::with_capacity(rows.len());
    crate::train::for_each_batch(net, data, rows, batch, |t, _| {
        let k = t.dims()[1];
        out.extend(t.into_data().try_to_vec::<f32>().unwrap_or_default().chunks(k).map(|r| r[0]));
    });
    out
}
