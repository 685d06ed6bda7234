//! Bottleneck features: the backbone's output at the cut for every example, computed once
//! (in burn or, for an ONNX backbone, in tract) and cached on disk.
//!
//! The cache key covers everything the features depend on: the backbone (architecture and
//! weights), the engine, the cut, the model input description and the exact int8 input bytes
//! of every example, which already reflect the data and the preprocessing; for a foreign graph
//! also its input preparation ([`Extractor::key`]). Examples are made
//! twice on a miss (once to hash, once to run), so no data set is ever held whole in memory.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{ensure, Context, Result};
use burn::module::Module;
use common::Shape;
use indicatif::{ProgressBar, ProgressStyle};
use tract_onnx::prelude::*;

use super::backbone::{Backbone, Cut};
use super::hash::Fnv;
use crate::data::Examples;
use crate::fsutil::atomic_write;
use crate::nn::net::{input_batch, input_values, Act, Net};
use crate::train::infer_device;

/// `rows` feature vectors of `dim` values each.
#[derive(Clone, Debug, PartialEq)]
pub struct Features {
    pub rows: usize,
    pub dim: usize,
    pub values: Vec<f32>,
}

impl Features {
    pub fn row(&self, i: usize) -> &[f32] {
        &self.values[i * self.dim..(i + 1) * self.dim]
    }
}

/// Runs a backbone up to its cut.
pub trait Extractor {
    /// The engine's name: part of the cache key (engines agree only within float tolerance).
    fn engine(&self) -> &'static str;
    /// What else the features depend on beyond the backbone, the cut and the examples (a
    /// foreign graph's tensor, layout and input preparation): part of the cache key when not
    /// empty.
    fn key(&self) -> String {
        String::new()
    }
    /// The features of `n` HWC int8 inputs (concatenated), `n` rows.
    fn run(&mut self, inputs: &[i8], n: usize) -> Result<Vec<f32>>;
}

/// The backbone's blocks in burn.
pub struct BurnExtractor {
    net: Net,
    input: Shape,
    scale_exp: i8,
}

impl BurnExtractor {
    pub fn new(backbone: &Backbone, cut: &Cut) -> BurnExtractor {
        let net = Net::from_blocks(backbone.net.blocks[..cut.blocks].to_vec());
        BurnExtractor { net: net.valid(), input: backbone.spec.input_shape(), scale_exp: backbone.spec.input.scale_exp }
    }
}

impl Extractor for BurnExtractor {
    fn engine(&self) -> &'static str {
        "burn"
    }

    fn run(&mut self, inputs: &[i8], _n: usize) -> Result<Vec<f32>> {
        let x = input_batch(inputs, self.input, self.scale_exp, &infer_device());
        let out = self.net.forward_range(Act::Image(x), 0..self.net.blocks.len()).flat();
        out.into_data().try_to_vec::<f32>().map_err(|e| anyhow::anyhow!("features: {e:?}"))
    }
}

/// An ONNX backbone in tract, with the cut's tensor as the output.
pub struct TractExtractor {
    plan: Arc<TypedRunnableModel>,
    input: Shape,
    scale_exp: i8,
}

impl TractExtractor {
    /// `None` when the backbone is not an ONNX file.
    pub fn new(backbone: &Backbone, cut: &Cut) -> Result<Option<TractExtractor>> {
        let Some((bytes, tensor)) = backbone.onnx_tensor(cut) else { return Ok(None) };
        let what = backbone.origin.display();
        let model = tract_onnx::onnx().model_for_read(&mut &bytes[..]).with_context(|| format!("tract cannot read {what}"))?;
        let model = model.with_outputs_by_name([tensor.as_str()]).with_context(|| format!("{what}: no tensor {tensor:?}"))?;
        let plan = model.into_optimized().with_context(|| format!("tract cannot optimize {what}"))?.into_runnable()?;
        Ok(Some(TractExtractor { plan, input: backbone.spec.input_shape(), scale_exp: backbone.spec.input.scale_exp }))
    }
}

impl Extractor for TractExtractor {
    fn engine(&self) -> &'static str {
        "tract"
    }

    fn run(&mut self, inputs: &[i8], n: usize) -> Result<Vec<f32>> {
        let s = self.input;
        let mut out = Vec::new();
        // The exported graph takes one image at a time ([1, C, H, W]).
        for img in inputs.chunks_exact(s.len()).take(n) {
            let x = tract_ndarray::Array4::from_shape_vec((1, s.c as usize, s.h as usize, s.w as usize), input_values(img, s, self.scale_exp))?;
            let outs = self.plan.run(tvec!(Tensor::from(x).into()))?;
            out.extend(outs[0].to_plain_array_view::<f32>()?.iter().copied());
        }
        Ok(out)
    }
}

/// Whether features came from the cache.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lookup {
    Hit,
    Miss,
}

/// Feature files, one per (backbone, cut, examples) key.
#[derive(Clone, Debug)]
pub struct Cache {
    pub dir: PathBuf,
}

const MAGIC: &[u8; 8] = b"PFEAT\x001\n";
const HEADER: usize = 8 + 3 * 8;

impl Cache {
    pub fn new(dir: impl Into<PathBuf>) -> Cache {
        Cache { dir: dir.into() }
    }

    /// `$PILOT_CACHE_DIR/features`, else `$XDG_CACHE_HOME/pilot/features`, else
    /// `~/.cache/pilot/features`, else `.pilot-cache/features`.
    pub fn default_dir() -> PathBuf {
        let env = |k: &str| std::env::var_os(k).filter(|v| !v.is_empty()).map(PathBuf::from);
        if let Some(d) = env("PILOT_CACHE_DIR") {
            return d.join("features");
        }
        match env("XDG_CACHE_HOME").or_else(|| env("HOME").map(|h| h.join(".cache"))) {
            Some(d) => d.join("pilot").join("features"),
            None => PathBuf::from(".pilot-cache").join("features"),
        }
    }

    pub fn path(&self, key: u64) -> PathBuf {
        self.dir.join(format!("{key:016x}.features"))
    }

    /// The cached features for `key`, if a whole, matching file is there. A damaged file is
    /// reported and treated as missing (it will be overwritten).
    pub fn load(&self, key: u64) -> Option<Features> {
        let path = self.path(key);
        let bytes = std::fs::read(&path).ok()?;
        match decode(&bytes, key) {
            Ok(f) => Some(f),
            Err(e) => {
                eprintln!("warning: ignoring the damaged feature cache file {}: {e}", path.display());
                None
            }
        }
    }

    pub fn store(&self, key: u64, f: &Features) -> Result<()> {
        std::fs::create_dir_all(&self.dir).with_context(|| format!("cannot create the feature cache folder {}", self.dir.display()))?;
        let mut bytes = Vec::with_capacity(HEADER + 4 * f.values.len());
        bytes.extend_from_slice(MAGIC);
        for v in [key, f.rows as u64, f.dim as u64] {
            bytes.extend_from_slice(&v.to_le_bytes());
        }
        bytes.extend(f.values.iter().flat_map(|v| v.to_le_bytes()));
        atomic_write(&self.path(key), &bytes)
    }
}

fn decode(bytes: &[u8], key: u64) -> Result<Features> {
    ensure!(bytes.len() >= HEADER && &bytes[..8] == MAGIC, "not a feature file");
    let word = |i: usize| u64::from_le_bytes(bytes[8 + 8 * i..16 + 8 * i].try_into().expect("8 bytes"));
    ensure!(word(0) == key, "written for another key");
    let (rows, dim) = (word(1) as usize, word(2) as usize);
    let n = rows.checked_mul(dim).and_then(|n| n.checked_mul(4)).context("impossible size")?;
    ensure!(bytes.len() - HEADER == n, "{} bytes of values, expected {n}", bytes.len() - HEADER);
    let values = bytes[HEADER..].chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect();
    Ok(Features { rows, dim, values })
}

/// What the features of a set of examples are computed with.
pub struct Job<'a> {
    pub backbone: &'a Backbone,
    pub cut: &'a Cut,
    pub extractor: &'a mut dyn Extractor,
    pub cache: Option<&'a Cache>,
    pub progress: bool,
    /// Shown on the progress bar ("training", "validation").
    pub label: &'a str,
}

const BATCH: usize = 64;

/// The features and targets of examples `rows` of `data` (as recorded, no augmentation).
pub fn features<D: Examples>(data: &D, rows: &[usize], job: Job<'_>) -> Result<(Features, Vec<D::Target>, Lookup)>
where
    D::Target: Default,
{
    ensure!(data.input() == &job.backbone.spec.input_spec(), "the data is made for another input than the backbone's");
    let n_in = data.input().shape.len();
    let mut targets = Vec::with_capacity(rows.len());
    let mut h = Fnv::new();
    h.write(&job.backbone.digest.to_le_bytes());
    h.write_str(job.extractor.engine());
    h.write_str(&job.cut.name);
    let extra = job.extractor.key();
    if !extra.is_empty() {
        h.write_str(&extra);
    }
    h.write_str(&format!("{:?}", data.input()));
    h.write(&(rows.len() as u64).to_le_bytes());
    each_batch(data, rows, n_in, |x, y| {
        h.write(common::i8_as_bytes(x));
        targets.extend_from_slice(y);
        Ok(())
    })?;
    let key = h.finish();
    let dim = job.cut.shape.len();
    if let Some(f) = job.cache.and_then(|c| c.load(key)).filter(|f| f.rows == rows.len() && f.dim == dim) {
        return Ok((f, targets, Lookup::Hit));
    }

    let bar = bar(job.progress, rows.len() as u64, job.label, job.extractor.engine());
    let mut values = Vec::with_capacity(rows.len() * dim);
    each_batch(data, rows, n_in, |x, y| {
        let v = job.extractor.run(x, y.len())?;
        ensure!(v.len() == y.len() * dim, "the backbone gave {} values for {} examples of {dim} features", v.len(), y.len());
        values.extend(v);
        bar.inc(y.len() as u64);
        Ok(())
    })?;
    bar.finish_and_clear();
    let f = Features { rows: rows.len(), dim, values };
    if let Some(cache) = job.cache {
        cache.store(key, &f)?;
    }
    Ok((f, targets, Lookup::Miss))
}

fn each_batch<D: Examples>(data: &D, rows: &[usize], n_in: usize, mut f: impl FnMut(&[i8], &[D::Target]) -> Result<()>) -> Result<()>
where
    D::Target: Default,
{
    for chunk in rows.chunks(BATCH) {
        let (mut x, mut y) = (vec![0i8; chunk.len() * n_in], vec![D::Target::default(); chunk.len()]);
        data.fill_batch(chunk, 0, false, &mut x, &mut y);
        f(&x, &y)?;
    }
    Ok(())
}

fn bar(progress: bool, n: u64, label: &str, engine: &str) -> ProgressBar {
    if !progress {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(n);
    bar.set_style(ProgressStyle::with_template("features {msg} [{bar:30}] {pos}/{len} {per_sec} eta {eta}").expect("valid template").progress_chars("=> "));
    bar.set_message(format!("({label}, {engine})"));
    bar
}

/// The cache folder to use: `dir`, or the default unless caching is off.
pub fn cache_for(dir: Option<&Path>, off: bool) -> Option<Cache> {
    match (off, dir) {
        (true, _) => None,
        (false, Some(d)) => Some(Cache::new(d)),
        (false, None) => Some(Cache::new(Cache::default_dir())),
    }
}
