//! Scoring a model outside its training run, on any data the trainer reads (and GTSRB's
//! official test layout): an int8 blob through the `common` reference (exactly the chip's
//! arithmetic), or an ONNX file that `pilot export` wrote, run in tract (the int8 graph, or the
//! float network with batch norm folded). Each example is made by the model's own
//! preprocessing, as in `pilot verify`.

use std::path::{Path, PathBuf};

use anyhow::{bail, ensure, Context, Result};
use common::format::{InputSpec, QParams, Task};
use common::Model;
use indicatif::{ProgressBar, ProgressStyle};
use rayon::prelude::*;

use super::eval::{baselines, ClassEval, Evaluation, SteeringEval};
use crate::data::{open, DataKind, DataSet, Examples, LabelDefaults, Rng, Source, SplitOptions};
use crate::nn::net::input_values;
use crate::nn::spec::NetSpec;
use crate::onnx::run::Tract;
use crate::train::target::argmax;

/// The ONNX metadata entry holding the int8 export's [`InputSpec`] as JSON: how a camera frame
/// or an image becomes its input.
pub const INPUT_SPEC_KEY: &str = "pilot.input_spec";

/// A model to score, read from its file.
pub enum Scored {
    /// A firmware blob (`.pnn8`), run by the reference interpreter.
    Blob(Vec<u8>),
    /// An int8 ONNX export: its input spec and output quantization from the metadata.
    Int8Onnx { tract: Tract, input: InputSpec, output: QParams, task: Task },
    /// A float ONNX export: its architecture from the metadata.
    FloatOnnx { onnx: Vec<u8>, spec: NetSpec },
}

impl Scored {
    /// Reads `path`: a blob, or an ONNX file written by `pilot export`.
    pub fn read(path: &Path) -> Result<Scored> {
        let bytes = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
        let what = path.display();
        if Model::parse(&bytes).is_ok() {
            return Ok(Scored::Blob(bytes));
        }
        let meta = crate::onnx::metadata(&bytes).with_context(|| format!("{what} is neither a model blob nor an ONNX file"))?;
        let get = |k: &str| meta.iter().find(|(key, _)| key == k).map(|(_, v)| v.as_str());
        if let Some(arch) = get("pilot.arch") {
            let spec = NetSpec::parse(arch).with_context(|| format!("{what}: its pilot.arch metadata is not a valid architecture"))?;
            return Ok(Scored::FloatOnnx { onnx: bytes, spec });
        }
        let Some(json) = get(INPUT_SPEC_KEY) else {
            bail!(
                "{what} does not say how its input is made (no pilot.arch or {INPUT_SPEC_KEY} metadata): \
                 only ONNX files written by `pilot export` can be scored; an older int8 export can be \
                 rewritten from its blob with `pilot export --model BLOB --onnx {what}`, or score the blob itself"
            );
        };
        let input: InputSpec = serde_json::from_str(json).with_context(|| format!("{what}: {INPUT_SPEC_KEY} is not valid"))?;
        let number = |k: &str| -> Result<i8> {
            get(k).with_context(|| format!("{what} has no {k} metadata"))?.parse().with_context(|| format!("{what}: {k} is not a number"))
        };
        let output = QParams { scale_exp: number("pilot.output_scale_exp")?, zero_point: number("pilot.output_zero_point")? };
        let task = match get("pilot.task") {
            Some("regression") => Task::Regression,
            Some("classification") => Task::Classification,
            other => bail!("{what}: pilot.task is {other:?}, not regression or classification"),
        };
        let tract = Tract::int8_output(&bytes, input.shape).with_context(|| format!("cannot run {what} in tract"))?;
        Ok(Scored::Int8Onnx { tract, input, output, task })
    }

    /// What the scored model computes with: "int8 reference", "int8 ONNX (tract)", ...
    pub fn kind(&self) -> &'static str {
        match self {
            Scored::Blob(_) => "int8 blob, reference interpreter",
            Scored::Int8Onnx { .. } => "int8 ONNX, tract",
            Scored::FloatOnnx { .. } => "float ONNX, tract",
        }
    }
}

/// Which examples of the data to score.
#[derive(Clone, Debug, Default)]
pub struct Selection {
    /// Only the validation part of this split (the trainer's rule: by time block, track or
    /// image); every example when `None`.
    pub val: Option<SplitOptions>,
    /// Show a progress bar.
    pub progress: bool,
}

/// Scores `model` on the data in `dirs`.
pub fn score(model: &Scored, dirs: &[PathBuf], sel: &Selection) -> Result<Evaluation> {
    ensure!(!dirs.is_empty(), "give the data to score on (--data)");
    match model {
        Scored::Blob(bytes) => {
            let m = Model::parse(bytes).context("not a valid model blob")?;
            let out = m.output().quant;
            let arena = m.plan().arena_bytes();
            score_with(m.def().input, m.def().task, dirs, sel, &|x| {
                let mut a = vec![0i8; arena];
                Ok(common::run(&m, x, &mut a)?.iter().map(|&q| out.dequantize(q)).collect())
            })
        }
        Scored::Int8Onnx { tract, input, output, task } => score_with(*input, *task, dirs, sel, &|x| {
            let outs = tract.run(x)?;
            Ok(outs[0].iter().map(|&q| output.dequantize(q)).collect())
        }),
        Scored::FloatOnnx { onnx, spec } => {
            let input = spec.input_spec();
            let s = input.shape;
            let plan = Tract::float_plan(onnx)?;
            score_with(input, spec.task(), dirs, sel, &|x| {
                // The float NCHW input the export takes, as the trainer feeds it.
                let nchw = input_values(x, s, input.quant.scale_exp);
                Ok(Tract::run_float_plan(&plan, &nchw, [1, s.c as usize, s.h as usize, s.w as usize])?.swap_remove(0))
            })
        }
    }
}

/// Scores a model given as `predict` (one HWC int8 input to the real-valued outputs).
fn score_with(input: InputSpec, task: Task, dirs: &[PathBuf], sel: &Selection, predict: &(dyn Fn(&[i8]) -> Result<Vec<f32>> + Sync)) -> Result<Evaluation> {
    let kind = match task {
        Task::Regression => DataKind::Driving,
        Task::Classification => DataKind::detect(&dirs[0]),
    };
    let source = Source { dirs: dirs.to_vec(), kind, labels: LabelDefaults::UDACITY, augment: false, max_rows: None, progress: sel.progress };
    let data = open(&source, input)?;
    let rows: Vec<usize> = match &sel.val {
        Some(split) => data.split(split)?.val,
        None => (0..data.len()).collect(),
    };
    ensure!(!rows.is_empty(), "no examples to score in {}", dirs[0].display());
    let bar = if sel.progress { ProgressBar::new(rows.len() as u64) } else { ProgressBar::hidden() };
    bar.set_style(ProgressStyle::with_template("scoring {bar:40} {pos}/{len} [{elapsed} < {eta}]").expect("valid template"));
    let outputs = |d: &dyn ExampleSource| -> Result<Vec<Vec<f32>>> {
        let n = input.shape.len();
        rows.par_iter()
            .map(|&i| {
                let mut x = vec![0i8; n];
                d.make(i, &mut x);
                let y = predict(&x);
                bar.inc(1);
                y
            })
            .collect()
    };
    let eval = match &data {
        DataSet::Driving(d) => {
            let truth: Vec<f32> = rows.iter().map(|&i| d.rows()[i].steering).collect();
            let got = outputs(d)?;
            ensure!(got.iter().all(|y| y.len() == 1), "a steering model has one output");
            let n = truth.len() as f64;
            let mae = got.iter().zip(&truth).map(|(y, t)| (y[0] - t).abs() as f64).sum::<f64>() / n;
            let mse = got.iter().zip(&truth).map(|(y, t)| ((y[0] - t) as f64).powi(2)).sum::<f64>() / n;
            Evaluation::Steering(SteeringEval { mae, mse, ..baselines(&truth) })
        }
        DataSet::Classification(c) => {
            let got = outputs(c)?;
            let k = c.num_classes();
            ensure!(got.iter().all(|y| y.len() == k), "the model gives {} scores; the data has {k} classes", got.first().map_or(0, Vec::len));
            let pairs = rows.iter().zip(&got).map(|(&i, y)| (c.labels()[i] as usize, argmax(y)));
            Evaluation::Classes(ClassEval::from_predictions(c.class_names().to_vec(), pairs, f64::NAN))
        }
    };
    bar.finish_and_clear();
    Ok(eval)
}

/// Makes example `i` without augmentation, whatever the data's kind.
trait ExampleSource: Sync {
    fn make(&self, i: usize, out: &mut [i8]);
}

impl<D: Examples> ExampleSource for D {
    fn make(&self, i: usize, out: &mut [i8]) {
        self.example(i, &mut Rng::new(0), false, out);
    }
}
