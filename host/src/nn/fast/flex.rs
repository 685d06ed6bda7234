//! The glue between burn tensors and the slice kernels: unwraps a tensor into the flex backend's
//! primitive (or `Autodiff<Flex>`'s), runs the kernel, and registers our backward pass in the
//! autodiff graph.

use std::sync::Arc;

use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::NoCheckpointing;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::backend::flex::FlexTensor;
use burn::backend::{Autodiff, Flex};
use burn::tensor::{Shape, Tensor, TensorData};

use super::conv::{self, Geom, Wanted};
use super::pool::{self, PoolGeom};

type Ad = Autodiff<Flex>;

/// Runs the convolution on flex (tracked by autodiff or not); hands `x` back when the tensors
/// live elsewhere, for the caller's fallback. (Handing the input back is the point of the
/// `Err`, so its size is that of a tensor.)
#[allow(clippy::result_large_err)]
pub fn conv2d(x: Tensor<4>, weight: Tensor<4>, bias: Tensor<1>, geom: Geom) -> Result<Tensor<4>, Tensor<4>> {
    if let (Ok(xa), Ok(wa), Ok(ba)) = (x.clone().try_into_primitive::<Ad>(), weight.clone().try_into_primitive::<Ad>(), bias.clone().try_into_primitive::<Ad>())
    {
        let (xp, wp) = (xa.primitive().clone(), wa.primitive().clone());
        let y = forward(&geom, &xp, &wp, ba.primitive());
        let out = match ConvBackward.prepare::<NoCheckpointing>([xa.node(), wa.node(), ba.node()]).compute_bound().stateful() {
            OpsKind::Tracked(prep) => prep.finish((xp, wp, geom), y),
            OpsKind::UnTracked(prep) => prep.finish(y),
        };
        return Ok(Tensor::from_primitive::<Ad>(out));
    }
    if let (Ok(xp), Ok(wp), Ok(bp)) = (x.clone().try_into_primitive::<Flex>(), weight.try_into_primitive::<Flex>(), bias.try_into_primitive::<Flex>()) {
        return Ok(Tensor::from_primitive::<Flex>(forward(&geom, &xp, &wp, &bp)));
    }
    Err(x)
}

fn forward(geom: &Geom, x: &FlexTensor, weight: &FlexTensor, bias: &FlexTensor) -> FlexTensor {
    let (x, weight, bias) = (x.to_contiguous(), weight.to_contiguous(), bias.to_contiguous());
    let y = conv::forward(geom, x.storage(), weight.storage(), bias.storage());
    tensor(y, [geom.n, geom.o, geom.oh, geom.ow])
}

fn tensor(values: Vec<f32>, shape: [usize; 4]) -> FlexTensor {
    FlexTensor::from_data(TensorData::new(values, Shape::new(shape)))
}

/// The convolution's node in the autodiff graph; the state is the forward pass's input and
/// weights (flex tensors share their buffers, so this copies nothing).
#[derive(Debug)]
struct ConvBackward;

impl Backward<Flex, 3> for ConvBackward {
    type State = (FlexTensor, FlexTensor, Geom);

    fn backward(self, ops: Ops<Self::State, 3>, grads: &mut Gradients, _: &mut Checkpointer) {
        let [node_x, node_w, node_b] = ops.parents;
        let dy = grads.consume::<Flex>(&ops.node).to_contiguous();
        let (x, weight, g) = ops.state;
        let (x, weight) = (x.to_contiguous(), weight.to_contiguous());
        let wanted = Wanted { x: node_x.is_some(), weight: node_w.is_some(), bias: node_b.is_some() };
        let out = conv::backward(&g, x.storage(), weight.storage(), dy.storage(), wanted);
        if let (Some(node), Some(dx)) = (node_x, out.x) {
            grads.register::<Flex>(node.id, tensor(dx, [g.n, g.c, g.h, g.w]));
        }
        if let (Some(node), Some(dw)) = (node_w, out.weight) {
            grads.register::<Flex>(node.id, tensor(dw, [g.o, g.c, g.kh, g.kw]));
        }
        if let (Some(node), Some(db)) = (node_b, out.bias) {
            grads.register::<Flex>(node.id, FlexTensor::from_data(TensorData::new(db, Shape::new([g.o]))));
        }
    }
}

/// Runs the max pooling on flex (tracked by autodiff or not); hands `x` back when the tensor
/// lives elsewhere.
#[allow(clippy::result_large_err)]
pub fn max_pool2d(x: Tensor<4>, geom: PoolGeom) -> Result<Tensor<4>, Tensor<4>> {
    if let Ok(xa) = x.clone().try_into_primitive::<Ad>() {
        let input = xa.primitive().to_contiguous();
        let (y, arg) = pool::max_forward(&geom, input.storage());
        let y = tensor(y, [geom.n, geom.c, geom.oh, geom.ow]);
        let out = match MaxPoolBackward.prepare::<NoCheckpointing>([xa.node()]).compute_bound().stateful() {
            OpsKind::Tracked(prep) => prep.finish((Arc::new(arg), geom), y),
            OpsKind::UnTracked(prep) => prep.finish(y),
        };
        return Ok(Tensor::from_primitive::<Ad>(out));
    }
    if let Ok(xp) = x.clone().try_into_primitive::<Flex>() {
        let (y, _) = pool::max_forward(&geom, xp.to_contiguous().storage());
        return Ok(Tensor::from_primitive::<Flex>(tensor(y, [geom.n, geom.c, geom.oh, geom.ow])));
    }
    Err(x)
}

/// The max pooling's node in the autodiff graph; the state is which input each output took.
#[derive(Debug)]
struct MaxPoolBackward;

impl Backward<Flex, 1> for MaxPoolBackward {
    type State = (Arc<Vec<u32>>, PoolGeom);

    fn backward(self, ops: Ops<Self::State, 1>, grads: &mut Gradients, _: &mut Checkpointer) {
        let [node_x] = ops.parents;
        let dy = grads.consume::<Flex>(&ops.node).to_contiguous();
        let (arg, g) = ops.state;
        if let Some(node) = node_x {
            let dx = pool::max_backward(&g, &arg, dy.storage());
            grads.register::<Flex>(node.id, tensor(dx, [g.n, g.c, g.h, g.w]));
        }
    }
}
