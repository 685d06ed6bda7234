//! ONNX: the int8 export in QOperator form ([`int8`]), the float export, and
//! running exported models in tract ([`run`]).

pub mod builder;
pub mod int8;
pub mod run;
