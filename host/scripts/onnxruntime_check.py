#!/usr/bin/env python3
"""Checks an int8 ONNX model exported by `pilot export` against the reference outputs that
`pilot verify --dump DIR` wrote: onnx.checker, then onnxruntime must give identical bytes.

    pip install onnx onnxruntime numpy
    pilot verify --onnx M.int8.onnx --blob M.pnn8 --data DATA --samples 1000 --dump /tmp/d
    python3 host/scripts/onnxruntime_check.py M.int8.onnx /tmp/d [M.float.onnx]
"""
import sys

import numpy as np
import onnx
import onnxruntime as ort


def main():
    model_path, dump = sys.argv[1], sys.argv[2]
    model = onnx.load(model_path)
    onnx.checker.check_model(model, full_check=True)
    print(f"{model_path}: onnx.checker passed")
    session = ort.InferenceSession(model_path, providers=["CPUExecutionProvider"])
    inp = session.get_inputs()[0]
    shape = [d for d in inp.shape]
    n_in = int(np.prod(shape[1:]))
    x = np.fromfile(f"{dump}/inputs.i8", dtype=np.int8).reshape(-1, n_in)
    ref = np.fromfile(f"{dump}/reference.i8", dtype=np.int8).reshape(len(x), -1)
    mismatches = 0
    for i in range(len(x)):
        out = session.run(None, {inp.name: x[i].reshape([1] + shape[1:])})[0].reshape(-1)
        mismatches += int(np.count_nonzero(out != ref[i]))
    print(f"onnxruntime {ort.__version__}: {len(x)} inputs, {ref.size} output bytes, {mismatches} mismatching")
    for extra in sys.argv[3:]:
        onnx.checker.check_model(onnx.load(extra), full_check=True)
        print(f"{extra}: onnx.checker passed")
    sys.exit(1 if mismatches else 0)


if __name__ == "__main__":
    main()
