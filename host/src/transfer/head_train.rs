//! Training a head on cached bottleneck features, with the trainer's own loop
//! ([`crate::train::engine`]): the features are the batches, and every best head is saved
//! behind the frozen backbone as an ordinary run. Without the backbone in the loop an epoch
//! takes moments.

use anyhow::Result;
use burn::tensor::{Device, Tensor, TensorData};
use common::Shape;

use super::features::Features;
use crate::fsutil::atomic_write;
use crate::nn::net::{Act, Block, Net};
use crate::train::checkpoint::RunDir;
use crate::train::engine::{BatchSource, Checkpoints};
use crate::train::history::History;
use crate::train::{State, Target};

/// Feature rows and their targets as training batches for a head whose input has `shape`.
pub struct FeatureBatches<'a, T> {
    pub features: &'a Features,
    pub targets: &'a [T],
    pub shape: Shape,
}

impl<T: Target> BatchSource for FeatureBatches<'_, T> {
    type Target = T;
    type Batch = Vec<f32>;

    fn fill(&self, rows: &[usize], _seed: u64, _train: bool) -> (Vec<f32>, Vec<T>) {
        let mut v = Vec::with_capacity(rows.len() * self.features.dim);
        for &r in rows {
            v.extend_from_slice(self.features.row(r));
        }
        (v, rows.iter().map(|&r| self.targets[r]).collect())
    }

    fn act(&self, v: Vec<f32>, device: &Device) -> Act {
        let n = v.len() / self.features.dim.max(1);
        let s = self.shape;
        if s.is_flat() {
            Act::Flat(Tensor::from_data(TensorData::new(v, [n, self.features.dim]), device))
        } else {
            // Rows are already in burn's (channel, row, column) order.
            Act::Image(Tensor::from_data(TensorData::new(v, [n, s.c as usize, s.h as usize, s.w as usize]), device))
        }
    }
}

/// Saves a head's best epochs behind the frozen backbone, as a complete run (`model.bpk`,
/// `best.toml`), and the history after every epoch. (No `last/`: a head retrains in moments.)
pub struct HeadCheckpoints<'r> {
    pub run: &'r RunDir,
    /// The backbone's blocks up to the cut, unchanged.
    pub backbone: Vec<Block>,
    pub loss: &'static str,
    pub metric: &'static str,
}

impl Checkpoints for HeadCheckpoints<'_> {
    fn best(&mut self, head: &Net, state: &State) -> Result<()> {
        let net = Net::from_blocks(self.backbone.iter().cloned().chain(head.blocks.iter().cloned()).collect());
        self.run.save_best(&net, state)
    }

    fn epoch(&mut self, _head: &Net, _optim: &[u8], state: &State, history: &History) -> Result<()> {
        atomic_write(&self.run.history_path(), history.to_csv().as_bytes())?;
        crate::plot::history(history, self.loss, self.metric, state.best_epoch, &self.run.dir)
    }
}
