//! Sequential network descriptions in TOML, like a Keras `Sequential` model.
//!
//! ```toml
//! name = "sign"
//! task = "classification"          # or "regression"
//! [input]
//! height = 32
//! width = 32
//! color = "rgb"                    # rgb | yuv | gray
//! scale_exp = -7                   # the network sees x = (v - 128) * 2^scale_exp
//! frame = { width = 320, height = 160, crop = [0, 60, 320, 75] }   # optional camera frame
//! [[layers]]
//! type = "conv2d"                  # conv2d | depthwise | dense | maxpool | avgpool | flatten | dropout | batchnorm | relu
//! filters = 32
//! kernel = 3
//! stride = 1                       # default 1
//! padding = "valid"                # valid | same (TensorFlow's rule)
//! activation = "relu"              # optional
//! [[layers]]
//! type = "depthwise"               # one filter per channel (MobileNet): as many channels out as in
//! kernel = 3
//! stride = 2
//! padding = "same"
//! activation = "relu"
//! [[layers]]
//! type = "dense"
//! units = "classes"                # a number, or "classes" for the data set's class count
//! ```
//!
//! Only layers the int8 path runs, plus dropout and batch-norm (folded into the preceding conv
//! or dense layer at quantization).

use std::path::Path;

use anyhow::{bail, ensure, Context, Result};
use common::format::{InputSpec, Padding, Pads, QParams, Task, Window, WindowError};
use common::preprocess::{ColorMode, PixelFormat, Preprocess, Rect};
use common::Shape;
use serde::{Deserialize, Serialize};

/// Built-in architectures, by name.
pub const BUILTIN: &[(&str, &str)] = &[
    ("pilotnet", include_str!("../../archs/pilotnet.toml")),
    ("fastnet", include_str!("../../archs/fastnet.toml")),
    ("sign", include_str!("../../archs/sign.toml")),
    ("course-dense", include_str!("../../archs/course-dense.toml")),
    ("course-conv", include_str!("../../archs/course-conv.toml")),
    ("cifar-vgg", include_str!("../../archs/cifar-vgg.toml")),
];

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NetSpec {
    pub name: String,
    pub task: TaskKind,
    pub input: InputDesc,
    pub layers: Vec<LayerSpec>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TaskKind {
    Regression,
    Classification,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InputDesc {
    pub height: u16,
    pub width: u16,
    pub color: ColorKind,
    pub scale_exp: i8,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub frame: Option<FrameDesc>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ColorKind {
    Rgb,
    Yuv,
    Gray,
}

/// The camera frame the input is cut from: size and crop rectangle `[x, y, w, h]`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FrameDesc {
    pub width: u16,
    pub height: u16,
    pub crop: [u16; 4],
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase", deny_unknown_fields)]
pub enum LayerSpec {
    Conv2d {
        filters: u16,
        kernel: u8,
        #[serde(default = "one")]
        stride: u8,
        #[serde(default)]
        padding: PaddingKind,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        activation: Option<Activation>,
    },
    /// Depthwise convolution: one `kernel x kernel` filter per input channel.
    Depthwise {
        kernel: u8,
        #[serde(default = "one")]
        stride: u8,
        #[serde(default)]
        padding: PaddingKind,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        activation: Option<Activation>,
    },
    Dense {
        units: Units,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        activation: Option<Activation>,
    },
    Maxpool {
        size: u8,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        stride: Option<u8>,
    },
    Avgpool {
        size: u8,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        stride: Option<u8>,
    },
    Flatten,
    Dropout {
        rate: f64,
    },
    Batchnorm,
    Relu,
}

fn one() -> u8 {
    1
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PaddingKind {
    #[default]
    Valid,
    Same,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Activation {
    Relu,
}

/// A dense layer's width: a number, or `"classes"` (resolved from the data).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Units {
    Count(u16),
    Named(String),
}

/// A layer with everything resolved: explicit pads, concrete widths, input and output shapes.
#[derive(Clone, Debug, PartialEq)]
pub enum Resolved {
    Conv2d { filters: u16, kernel: u8, stride: u8, pads: Pads },
    Depthwise { kernel: u8, stride: u8, pads: Pads },
    Dense { units: u16 },
    MaxPool { size: u8, stride: u8 },
    AvgPool { size: u8, stride: u8 },
    Flatten,
    Dropout { rate: f64 },
    BatchNorm,
    Relu,
}

#[derive(Clone, Debug, PartialEq)]
pub struct ResolvedLayer {
    pub layer: Resolved,
    pub input: Shape,
    pub output: Shape,
}

impl NetSpec {
    /// A built-in architecture by name, or a TOML file.
    pub fn load(name_or_path: &str) -> Result<NetSpec> {
        if let Some((_, text)) = BUILTIN.iter().find(|(n, _)| *n == name_or_path) {
            return NetSpec::parse(text).with_context(|| format!("built-in architecture {name_or_path}"));
        }
        let path = Path::new(name_or_path);
        ensure!(
            path.exists(),
            "{name_or_path}: no such file, and not a built-in architecture ({})",
            BUILTIN.iter().map(|(n, _)| *n).collect::<Vec<_>>().join(", ")
        );
        let text = std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
        NetSpec::parse(&text).with_context(|| format!("{} is not a valid architecture", path.display()))
    }

    pub fn parse(text: &str) -> Result<NetSpec> {
        let spec: NetSpec = toml::from_str(text)?;
        ensure!(!spec.layers.is_empty(), "the network has no layers");
        Ok(spec)
    }

    pub fn to_toml(&self) -> String {
        toml::to_string_pretty(self).expect("a NetSpec always serializes")
    }

    pub fn task(&self) -> Task {
        match self.task {
            TaskKind::Regression => Task::Regression,
            TaskKind::Classification => Task::Classification,
        }
    }

    pub fn color(&self) -> ColorMode {
        match self.input.color {
            ColorKind::Rgb => ColorMode::Rgb,
            ColorKind::Yuv => ColorMode::Yuv,
            ColorKind::Gray => ColorMode::Gray,
        }
    }

    pub fn input_shape(&self) -> Shape {
        Shape::new(self.input.height, self.input.width, self.color().channels())
    }

    /// How a camera frame becomes the input: the spec's `frame`, or else a frame of exactly the
    /// input size (images are then resized to it when loaded).
    pub fn preprocess(&self) -> Preprocess {
        let f = self.input.frame.unwrap_or(FrameDesc { width: self.input.width, height: self.input.height, crop: [0, 0, self.input.width, self.input.height] });
        Preprocess {
            frame_w: f.width,
            frame_h: f.height,
            format: PixelFormat::Rgb888,
            crop: Rect { x: f.crop[0], y: f.crop[1], w: f.crop[2], h: f.crop[3] },
            color: self.color(),
        }
    }

    /// The int8 model input this network is trained for (what the blob will record).
    pub fn input_spec(&self) -> InputSpec {
        InputSpec { shape: self.input_shape(), quant: QParams { scale_exp: self.input.scale_exp, zero_point: 0 }, preprocess: Some(self.preprocess()) }
    }

    /// Replaces `units = "classes"` with `classes`.
    pub fn with_classes(mut self, classes: u16) -> NetSpec {
        for l in &mut self.layers {
            if let LayerSpec::Dense { units: u @ Units::Named(_), .. } = l {
                *u = Units::Count(classes);
            }
        }
        self
    }

    /// Resolves every layer to explicit sizes, checking that the shapes chain.
    pub fn resolve(&self) -> Result<Vec<ResolvedLayer>> {
        let mut shape = self.input_shape();
        ensure!(!shape.is_empty(), "input size must be at least 1x1");
        let mut out = Vec::new();
        for (i, l) in self.layers.iter().enumerate() {
            let here = || format!("layer {} ({})", i + 1, l.kind());
            if matches!(l, LayerSpec::Batchnorm) {
                // It folds into the layer before it, which a ReLU in between would forbid.
                let folds = match i.checked_sub(1).map(|p| &self.layers[p]) {
                    Some(LayerSpec::Conv2d { activation, .. } | LayerSpec::Depthwise { activation, .. } | LayerSpec::Dense { activation, .. }) => {
                        activation.is_none()
                    }
                    _ => false,
                };
                ensure!(
                    folds,
                    "{}: batch norm must directly follow a conv2d, depthwise or dense layer without an activation, \
                     so that it folds into it for int8 (write the layer without `activation`, then batchnorm, then relu)",
                    here()
                );
            }
            let (layer, next) = resolve_layer(l, shape).with_context(here)?;
            out.push(ResolvedLayer { layer: layer.clone(), input: shape, output: next });
            if let Some(Activation::Relu) = l.activation() {
                out.push(ResolvedLayer { layer: Resolved::Relu, input: next, output: next });
            }
            shape = next;
        }
        match (self.task, shape.is_flat()) {
            (_, false) => bail!("the network must end flat (add flatten and dense layers); it ends {}x{}x{}", shape.h, shape.w, shape.c),
            (TaskKind::Regression, true) if shape.c != 1 => bail!("a regression network must end with 1 output, not {}", shape.c),
            _ => {}
        }
        Ok(out)
    }

    /// Number of outputs.
    pub fn outputs(&self) -> Result<u16> {
        Ok(self.resolve()?.last().map(|l| l.output.c).unwrap_or(0))
    }
}

impl LayerSpec {
    pub fn kind(&self) -> &'static str {
        match self {
            LayerSpec::Conv2d { .. } => "conv2d",
            LayerSpec::Depthwise { .. } => "depthwise",
            LayerSpec::Dense { .. } => "dense",
            LayerSpec::Maxpool { .. } => "maxpool",
            LayerSpec::Avgpool { .. } => "avgpool",
            LayerSpec::Flatten => "flatten",
            LayerSpec::Dropout { .. } => "dropout",
            LayerSpec::Batchnorm => "batchnorm",
            LayerSpec::Relu => "relu",
        }
    }

    fn activation(&self) -> Option<Activation> {
        match self {
            LayerSpec::Conv2d { activation, .. } | LayerSpec::Depthwise { activation, .. } | LayerSpec::Dense { activation, .. } => *activation,
            _ => None,
        }
    }
}

/// The output size of `window` over `s`, as an error a user can act on.
fn window_output(window: &Window, s: Shape) -> Result<(u16, u16)> {
    window.output(s).map_err(|e| match e {
        WindowError::KernelLargerThanInput => anyhow::anyhow!("kernel {}x{} larger than its input {}x{}", window.kernel_h, window.kernel_w, s.h, s.w),
        e => anyhow::anyhow!("window {window:?} does not fit a {}x{} input: {e:?}", s.h, s.w),
    })
}

/// Resolves one layer on an input of shape `s`: explicit sizes and the output shape.
pub fn resolve_layer(l: &LayerSpec, s: Shape) -> Result<(Resolved, Shape)> {
    Ok(match l {
        LayerSpec::Conv2d { filters, kernel, stride, padding, .. } => {
            ensure!(*filters > 0 && *kernel > 0 && *stride > 0, "filters, kernel and stride must be positive");
            ensure!(!s.is_flat() || (s.h, s.w) != (1, 1) || *kernel == 1, "conv2d needs an image input; this one is flat");
            let padding = match padding {
                PaddingKind::Valid => Padding::Valid,
                PaddingKind::Same => Padding::Same,
            };
            let window = Window::padded(padding, s.h, s.w, (*kernel, *kernel), (*stride, *stride));
            let (h, w) = window_output(&window, s)?;
            (Resolved::Conv2d { filters: *filters, kernel: *kernel, stride: *stride, pads: window.pads }, Shape::new(h, w, *filters))
        }
        LayerSpec::Depthwise { kernel, stride, padding, .. } => {
            ensure!(*kernel > 0 && *stride > 0, "kernel and stride must be positive");
            ensure!(!s.is_flat(), "depthwise needs an image input; this one is flat");
            let padding = match padding {
                PaddingKind::Valid => Padding::Valid,
                PaddingKind::Same => Padding::Same,
            };
            let window = Window::padded(padding, s.h, s.w, (*kernel, *kernel), (*stride, *stride));
            let (h, w) = window_output(&window, s)?;
            (Resolved::Depthwise { kernel: *kernel, stride: *stride, pads: window.pads }, Shape::new(h, w, s.c))
        }
        LayerSpec::Dense { units, .. } => {
            ensure!(s.is_flat(), "dense needs a flat input: add a flatten layer before it");
            let units = match units {
                Units::Count(n) if *n > 0 => *n,
                Units::Count(_) => bail!("units must be positive"),
                Units::Named(n) => bail!("units = {n:?}: the class count is not known here (use a number)"),
            };
            (Resolved::Dense { units }, Shape::flat(units))
        }
        LayerSpec::Maxpool { size, stride } | LayerSpec::Avgpool { size, stride } => {
            let stride = stride.unwrap_or(*size);
            ensure!(*size > 0 && stride > 0, "pool size and stride must be positive");
            let (h, w) = window_output(&Window::square(*size, stride, Pads::default()), s)?;
            let shape = Shape::new(h, w, s.c);
            let r = if matches!(l, LayerSpec::Maxpool { .. }) { Resolved::MaxPool { size: *size, stride } } else { Resolved::AvgPool { size: *size, stride } };
            (r, shape)
        }
        LayerSpec::Flatten => {
            let n = u16::try_from(s.len()).context("flattened size over 65535")?;
            (Resolved::Flatten, Shape::flat(n))
        }
        LayerSpec::Dropout { rate } => {
            ensure!((0.0..1.0).contains(rate), "dropout rate must be in [0, 1)");
            (Resolved::Dropout { rate: *rate }, s)
        }
        LayerSpec::Batchnorm => (Resolved::BatchNorm, s),
        LayerSpec::Relu => (Resolved::Relu, s),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtins_resolve() {
        let p = NetSpec::load("pilotnet").unwrap();
        let r = p.resolve().unwrap();
        let convs: Vec<Shape> = r.iter().filter(|l| matches!(l.layer, Resolved::Conv2d { .. })).map(|l| l.output).collect();
        assert_eq!(convs, [Shape::new(31, 98, 24), Shape::new(14, 47, 36), Shape::new(5, 22, 48), Shape::new(3, 20, 64), Shape::new(1, 18, 64)]);
        assert_eq!(p.outputs().unwrap(), 1);
        let s = NetSpec::load("sign").unwrap();
        assert!(s.resolve().is_err(), "units = classes must be resolved first");
        assert_eq!(s.with_classes(43).outputs().unwrap(), 43);
        for (name, _) in BUILTIN {
            let spec = NetSpec::load(name).unwrap().with_classes(10);
            spec.resolve().unwrap();
            assert_eq!(NetSpec::parse(&spec.to_toml()).unwrap(), spec, "{name} round-trips through TOML");
        }
    }

    #[test]
    fn errors_name_the_layer() {
        let text = BUILTIN[1].1.replace("type = \"flatten\"", "type = \"dropout\"\nrate = 0.1");
        let err = format!("{:#}", NetSpec::parse(&text).unwrap().with_classes(4).resolve().unwrap_err());
        assert!(err.contains("layer 6 (dropout)") || err.contains("dense needs a flat input"), "{err}");
        assert!(NetSpec::parse("name = 1").is_err());
        let err = format!("{:#}", NetSpec::load("no-such-arch").unwrap_err());
        assert!(err.contains("pilotnet"), "lists the built-ins: {err}");
    }

    #[test]
    fn batch_norm_must_be_foldable() {
        let net = |layers: &str| {
            NetSpec::parse(&format!("name = \"b\"\ntask = \"regression\"\n[input]\nheight = 6\nwidth = 6\ncolor = \"gray\"\nscale_exp = -7\n{layers}[[layers]]\ntype = \"flatten\"\n[[layers]]\ntype = \"dense\"\nunits = 1\n"))
                .unwrap()
                .resolve()
        };
        net("[[layers]]\ntype = \"conv2d\"\nfilters = 2\nkernel = 3\n[[layers]]\ntype = \"batchnorm\"\n[[layers]]\ntype = \"relu\"\n").unwrap();
        let err = format!(
            "{:#}",
            net("[[layers]]\ntype = \"conv2d\"\nfilters = 2\nkernel = 3\nactivation = \"relu\"\n[[layers]]\ntype = \"batchnorm\"\n").unwrap_err()
        );
        assert!(err.contains("layer 2 (batchnorm)") && err.contains("without an activation"), "{err}");
        assert!(net("[[layers]]\ntype = \"batchnorm\"\n").is_err(), "nothing to fold into");
    }
}
