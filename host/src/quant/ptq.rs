//! Post-training quantization of a training run: calibrate on its training split, build the
//! int8 model, and compare float and int8 on its validation split.

use std::path::{Path, PathBuf};

use anyhow::Result;
use common::format::owned::OwnedModel;
use common::format::Task;
use common::Model;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::calibrate::{Observer, RangeMethod};
use super::qat::FakeQuant;
use super::{build, build_with, graph, model_output_params};
use crate::data::{Balance, DataSet, Examples, Rng, Split};
use crate::fsutil::atomic_write;
use crate::nn::net::{input_batch, Block, Net};
use crate::nn::spec::NetSpec;
use crate::train::checkpoint::{RunData, RunDir};
use crate::train::target::argmax;
use crate::train::{infer_device, FitOptions, TrainConfig};
use crate::workflow::train::shuffled;

/// How to quantize.
#[derive(Clone, Debug)]
pub struct PtqOptions {
    /// Calibration data (empty: the run's own data; its training split is used).
    pub calib: Vec<PathBuf>,
    /// Calibration examples.
    pub samples: usize,
    pub range: RangeMethod,
    /// Validation examples for the float vs int8 comparison (`None`: the whole split).
    pub eval_samples: Option<usize>,
    pub progress: bool,
    /// Then fine-tune quantization-aware and quantize the result with the same scales.
    pub qat: Option<QatOptions>,
}

impl Default for PtqOptions {
    fn default() -> Self {
        PtqOptions { calib: Vec::new(), samples: 500, range: RangeMethod::MinMax, eval_samples: None, progress: true, qat: None }
    }
}

/// Quantization-aware fine-tuning after the calibration ([`super::qat`]).
#[derive(Clone, Debug)]
pub struct QatOptions {
    pub epochs: usize,
    /// Adam's learning rate (a tenth of training's is customary).
    pub lr: f64,
    /// The fine-tuning's own training run (checkpoints, history.csv).
    pub run: PathBuf,
    /// Fine-tune on the run's own training augmentation (else on the examples as recorded).
    pub augment: bool,
}

/// The float vs int8 comparison, as written to quant.toml.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct QuantReport {
    pub float_run: String,
    pub calibration_samples: usize,
    pub range: String,
    pub eval_samples: usize,
    /// "mae" or "accuracy".
    pub metric: String,
    pub float: f64,
    pub int8: f64,
    /// Classification: share of examples where float and int8 predict the same class.
    /// Regression: mean |float - int8| of the outputs.
    pub agreement: f64,
    /// With quantization-aware training: `int8` is the fine-tuned network's, this the
    /// post-training one's, and `qat_run` the fine-tuning's run folder.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ptq_int8: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub qat_epochs: Option<usize>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub qat_run: Option<String>,
}

impl QuantReport {
    /// The int8 change as a reader wants it: relative for an error, points for an accuracy.
    pub fn change(&self) -> String {
        if self.metric == "mae" {
            format!("{:+.1}%", 100.0 * (self.int8 / self.float - 1.0))
        } else {
            format!("{:+.2} pt", 100.0 * (self.int8 - self.float))
        }
    }
}

/// A quantized run.
pub struct Quantized {
    pub model: OwnedModel,
    pub report: QuantReport,
}

impl Quantized {
    /// The blob.
    pub fn blob(&self) -> Vec<u8> {
        self.model.to_bytes()
    }

    /// Writes `model.pnn8` and `quant.toml` into `out` (what `pilot export` takes).
    pub fn save(&self, out: &Path) -> Result<()> {
        atomic_write(&out.join("model.pnn8"), &self.blob())?;
        atomic_write(&out.join("quant.toml"), toml::to_string_pretty(&self.report)?.as_bytes())
    }
}

/// Quantizes the best checkpoint of `run`.
pub fn quantize_run(run: &RunDir, opts: &PtqOptions) -> Result<Quantized> {
    // Quantization-aware fine-tuning trains on this data: with the training's augmentation a
    // classifier does not overfit the examples as recorded within an epoch or two.
    let reopened = match &opts.qat {
        Some(qat) if qat.augment => run.open_training_data(&opts.calib, opts.progress)?,
        _ => run.open_data(&opts.calib, opts.progress)?,
    };
    let net = run.load_best(&infer_device())?;
    quantize_net(run, &reopened, &net, opts)
}

/// Quantizes `net`, one of `run`'s networks (the best, or a kept epoch's), on the run's data
/// already opened as `reopened`.
pub fn quantize_net(run: &RunDir, reopened: &RunData, net: &Net, opts: &PtqOptions) -> Result<Quantized> {
    let (spec, config, split) = (&reopened.spec, &reopened.config, &reopened.split);
    let q = match &reopened.data {
        DataSet::Driving(d) => {
            let balance = Balance { keep_straight: config.keep_straight.unwrap_or(Balance::default().keep_straight), ..Balance::default() };
            let epoch_rows = |rng: &mut Rng| d.epoch(&split.train, &balance, rng);
            quantize(spec, config, net, d, split, opts, epoch_rows, |out: &[f32], t: f32| (out[0] - t).abs() as f64, "mae")?
        }
        DataSet::Classification(c) => {
            let score = |out: &[f32], t: u16| (argmax(out) == t as usize) as u8 as f64;
            quantize(spec, config, net, c, split, opts, shuffled(split.train.clone()), score, "accuracy")?
        }
    };
    Ok(Quantized { report: QuantReport { float_run: run.dir.display().to_string(), ..q.report }, ..q })
}

#[allow(clippy::too_many_arguments)]
fn quantize<D: Examples>(
    spec: &NetSpec,
    config: &TrainConfig,
    net: &Net,
    data: &D,
    split: &Split,
    opts: &PtqOptions,
    epoch_rows: impl FnMut(&mut Rng) -> Vec<usize>,
    score: impl Fn(&[f32], D::Target) -> f64 + Sync,
    metric: &str,
) -> Result<Quantized>
where
    D::Target: crate::train::Target,
{
    let device = infer_device();
    let shape = data.input().shape;
    let scale_exp = data.input().quant.scale_exp;
    let layers = spec.resolve()?;
    let graph = graph::extract(net, &layers)?;

    // Calibration: a random sample of the training split, as recorded (no augmentation).
    let mut calib = split.train.clone();
    Rng::new(config.seed ^ 0xCA11B).shuffle(&mut calib);
    calib.truncate(opts.samples.max(1));
    let mut observer = Observer::new(graph.len(), opts.range);
    let n_in = shape.len();
    for chunk in calib.chunks(64) {
        let (mut x, mut y) = (vec![0i8; chunk.len() * n_in], vec![D::Target::default(); chunk.len()]);
        data.fill_batch(chunk, 0, false, &mut x, &mut y);
        observer.observe(net, &graph, &x, shape, scale_exp, &device);
    }
    let ptq = build(&spec.name, spec.task(), spec.input_spec(), &graph, &observer, opts.range)?;

    // Float vs int8 on the validation split.
    let mut val = split.val.clone();
    if let Some(n) = opts.eval_samples {
        // A random subset: the split is sorted, and image folders are sorted by class.
        Rng::new(config.seed ^ 0xE7A1).shuffle(&mut val);
        val.truncate(n);
    }
    let (float, ptq_int8, ptq_agreement) = compare(spec, net, &ptq, data, &val, &score)?;
    let mut report = QuantReport {
        float_run: String::new(),
        calibration_samples: calib.len(),
        range: match opts.range {
            RangeMethod::MinMax => "minmax".into(),
            RangeMethod::Percentile(p) => format!("percentile {p}"),
        },
        eval_samples: val.len(),
        metric: metric.into(),
        float,
        int8: ptq_int8,
        agreement: ptq_agreement,
        ptq_int8: None,
        qat_epochs: None,
        qat_run: None,
    };
    let Some(qat) = &opts.qat else { return Ok(Quantized { model: ptq, report }) };

    // Quantization-aware fine-tuning with the calibration's scales, then the same scales again.
    // Batch norm is folded first (the chip's layers are the folded ones): the network goes
    // through its float ONNX export and back, which is exactly that graph as a burn network.
    let (qspec, qnet) = if net.blocks.iter().any(|b| matches!(b, Block::BatchNorm(_))) {
        let onnx = crate::onnx::float::export(spec, &graph)?;
        let folded = crate::onnx::import::import(&onnx, "the batch-norm-folded network", &device)?;
        (folded.spec, folded.net)
    } else {
        (spec.clone(), net.clone())
    };
    let qlayers = qspec.resolve()?;
    let fq = FakeQuant::new(&qnet.blocks, &graph::extract(&qnet, &qlayers)?, &ptq)?;
    let run = RunDir::new(&qat.run);
    let mut cfg = config.clone();
    cfg.epochs = qat.epochs;
    cfg.lr = qat.lr;
    cfg.patience = None;
    let fit_opts = FitOptions { resume: false, overwrite: true, progress: opts.progress, init: Some(qnet.with_fake_quant(fq)), backbone_lr: None };
    crate::train::fit(&qspec, data, epoch_rows, &split.val, &run, &cfg, &fit_opts)?;
    let tuned = run.load_best(&device)?;
    let model = build_with(&spec.name, spec.task(), spec.input_spec(), &graph::extract(&tuned, &qlayers)?, &model_output_params(&ptq))?;
    let (_, qat_int8, qat_agreement) = compare(spec, net, &model, data, &val, &score)?;
    report.ptq_int8 = Some(ptq_int8);
    report.int8 = qat_int8;
    report.agreement = qat_agreement;
    report.qat_epochs = Some(qat.epochs);
    report.qat_run = Some(run.dir.display().to_string());
    Ok(Quantized { model, report })
}

/// The float network's and the int8 model's mean `score` on `val`, and their agreement (the
/// share of equal classes, or the mean |float - int8| of a steering output).
fn compare<D: Examples>(
    spec: &NetSpec,
    net: &Net,
    owned: &OwnedModel,
    data: &D,
    val: &[usize],
    score: &(impl Fn(&[f32], D::Target) -> f64 + Sync),
) -> Result<(f64, f64, f64)>
where
    D::Target: crate::train::Target,
{
    let device = infer_device();
    let (shape, scale_exp) = (data.input().shape, data.input().quant.scale_exp);
    let n_in = shape.len();
    let blob = owned.to_bytes();
    let model = Model::parse(&blob)?;
    let out_q = model.output().quant;
    let (mut float_sum, mut int8_sum, mut agree_sum) = (0.0, 0.0, 0.0);
    for chunk in val.chunks(64) {
        let (mut x, mut y) = (vec![0i8; chunk.len() * n_in], vec![D::Target::default(); chunk.len()]);
        data.fill_batch(chunk, 0, false, &mut x, &mut y);
        let float_out = net.forward(input_batch(&x, shape, scale_exp, &device));
        let k = float_out.dims()[1];
        let float_out: Vec<f32> = float_out.into_data().try_to_vec::<f32>().unwrap_or_default();
        let int8_out: Vec<Vec<f32>> = x
            .par_chunks(n_in)
            .map(|input| {
                let mut arena = vec![0i8; model.plan().arena_bytes()];
                let q = common::run(&model, input, &mut arena).expect("a validated model runs");
                q.iter().map(|&v| out_q.dequantize(v)).collect()
            })
            .collect();
        for ((f, i), &t) in float_out.chunks(k).zip(&int8_out).zip(&y) {
            float_sum += score(f, t);
            int8_sum += score(i, t);
            agree_sum += match spec.task() {
                Task::Classification => (argmax(f) == argmax(i)) as u8 as f64,
                Task::Regression => (f[0] - i[0]).abs() as f64,
            };
        }
    }
    let n = val.len().max(1) as f64;
    Ok((float_sum / n, int8_sum / n, agree_sum / n))
}
