//! What a driving network looks at: saliency masks by VisualBackProp ([`vbp`]), for an int8
//! blob or a training run's float network ([`trace`]), drawn over the camera frame with the
//! steering ([`picture`]).
//!
//! Why VisualBackProp and not Grad-CAM: it needs only the forward pass's feature maps, so it
//! runs on the int8 blob itself, on the very layer outputs the chip computes (the `common`
//! reference, dequantized), and on a float network with the same code; no gradients, no float
//! twin of the blob. It was made for PilotNet, and its mask has the input's resolution, where
//! Grad-CAM's has the deepest convolution's (1x18 for PilotNet) scaled up. What it does not
//! see: how the dense head weighs the features. It shows what excites the convolutional
//! layers (Grad-CAM, which averages gradients per channel, would not separate positions that
//! the head ignores either).

pub mod picture;
pub mod run;
pub mod trace;
pub mod vbp;

use anyhow::{ensure, Context, Result};
use common::format::Task;
use common::preprocess::{preprocess_frame, to_rgb565, PixelFormat, Preprocess};
use common::{Model, Shape};

use crate::nn::net::{input_batch, Net};
use crate::nn::spec::{ResolvedLayer, TaskKind};
use crate::train::checkpoint::RunDir;
use crate::train::infer_device;
pub use vbp::Saliency;

/// One frame explained.
#[derive(Clone, Debug)]
pub struct Explained {
    /// The network's steering for the frame.
    pub steering: f32,
    pub saliency: Saliency,
}

/// A steering network that can say what it looks at.
pub trait Explainer {
    /// How a camera frame becomes the network's input (frame size, crop).
    fn preprocess(&self) -> Preprocess;
    /// Steering and saliency for one RGB888 frame of [`Explainer::preprocess`]'s size.
    fn explain(&mut self, rgb888: &[u8]) -> Result<Explained>;
    /// What was run, for the output ("int8 blob ..., no float twin").
    fn describe(&self) -> String;
}

fn steering_of(output: &[f32]) -> Result<f32> {
    output.first().copied().context("the network has no output")
}

/// The int8 blob through the `common` reference, exactly as the firmware runs it.
pub struct Int8Explainer<'m> {
    model: Model<'m>,
    preprocess: Preprocess,
    input: Vec<i8>,
    arena: Vec<i8>,
    pixels: Vec<u8>,
}

impl<'m> Int8Explainer<'m> {
    pub fn new(blob: &'m [u8]) -> Result<Self> {
        let model = Model::parse(blob).context("not a valid model blob")?;
        ensure!(model.def().task == Task::Regression, "model {:?} is a classifier, not a steering model", model.name());
        let preprocess = model.def().input.preprocess.context("the model has no camera preprocessing")?;
        ensure!(
            model.layers().iter().any(|n| matches!(n.layer, common::Layer::Conv2d(_))),
            "model {:?} has no convolution: there are no feature maps to explain",
            model.name()
        );
        let input = vec![0; model.input().shape.len()];
        let arena = vec![0; model.plan().arena_bytes()];
        Ok(Int8Explainer { model, preprocess, input, arena, pixels: Vec::new() })
    }
}

/// `rgb888` in the camera format the model was built for (the chip gets RGB565 from an
/// OV2640; the network must then see the same 565 pixels here).
fn camera_pixels<'a>(format: PixelFormat, rgb888: &'a [u8], scratch: &'a mut Vec<u8>) -> &'a [u8] {
    if format == PixelFormat::Rgb888 {
        return rgb888;
    }
    scratch.clear();
    for p in rgb888.chunks_exact(3) {
        let v = to_rgb565([p[0], p[1], p[2]]);
        scratch.extend_from_slice(&if format == PixelFormat::Rgb565Be { v.to_be_bytes() } else { v.to_le_bytes() });
    }
    scratch
}

impl Explainer for Int8Explainer<'_> {
    fn preprocess(&self) -> Preprocess {
        self.preprocess
    }

    fn explain(&mut self, rgb888: &[u8]) -> Result<Explained> {
        let pixels = camera_pixels(self.preprocess.format, rgb888, &mut self.pixels);
        preprocess_frame(&self.preprocess, self.model.input().shape, pixels, &mut self.input)?;
        let (stages, output) = trace::int8(&self.model, &self.input, &mut self.arena)?;
        let saliency = vbp::visual_backprop(&stages).context("the model has no convolution")?;
        Ok(Explained { steering: steering_of(&output)?, saliency })
    }

    fn describe(&self) -> String {
        format!(
            "int8 blob {:?}: its own layer outputs from the common reference interpreter (the bytes the chip computes), dequantized; no float twin needed",
            self.model.name()
        )
    }
}

/// A training run's best float checkpoint.
pub struct FloatExplainer {
    net: Net,
    layers: Vec<ResolvedLayer>,
    shape: Shape,
    scale_exp: i8,
    preprocess: Preprocess,
    input: Vec<i8>,
    name: String,
}

impl FloatExplainer {
    pub fn load(run: &RunDir) -> Result<FloatExplainer> {
        let spec = run.spec()?;
        ensure!(spec.task == TaskKind::Regression && spec.outputs()? == 1, "{} is not a steering model", run.dir.display());
        let layers = spec.resolve()?;
        let net = run.load_best(&infer_device())?;
        FloatExplainer::new(net, layers, spec.input_shape(), spec.input.scale_exp, spec.preprocess(), run.dir.display().to_string())
    }

    /// A float network with its resolved layers and input (tests build one directly).
    pub fn new(net: Net, layers: Vec<ResolvedLayer>, shape: Shape, scale_exp: i8, preprocess: Preprocess, name: String) -> Result<FloatExplainer> {
        ensure!(
            layers.iter().any(|l| matches!(l.layer, crate::nn::spec::Resolved::Conv2d { .. })),
            "{name} has no convolution: there are no feature maps to explain"
        );
        Ok(FloatExplainer { net, layers, shape, scale_exp, preprocess, input: vec![0; shape.len()], name })
    }
}

impl Explainer for FloatExplainer {
    fn preprocess(&self) -> Preprocess {
        self.preprocess
    }

    fn explain(&mut self, rgb888: &[u8]) -> Result<Explained> {
        preprocess_frame(&self.preprocess, self.shape, rgb888, &mut self.input)?;
        let x = input_batch(&self.input, self.shape, self.scale_exp, &infer_device());
        let (stages, output) = trace::float(&self.net, &self.layers, x)?;
        let saliency = vbp::visual_backprop(&stages).context("the network has no convolution")?;
        Ok(Explained { steering: steering_of(&output)?, saliency })
    }

    fn describe(&self) -> String {
        format!("float network of the training run {} (best checkpoint)", self.name)
    }
}
