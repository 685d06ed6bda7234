#!/usr/bin/env python3
"""Training throughput of PilotNet and the sign CNN in Keras / TF-CPU, the same bare step that
`pilot bench train` times: batch 64 of random inputs, forward + backward + Adam, MSE loss against
random targets (the sign CNN's 43 outputs too), images per second.

    pip install tensorflow-cpu          # or tensorflow
    python3 host/scripts/keras_bench.py                          # Keras only, 3 rounds
    python3 host/scripts/keras_bench.py --pilot target/release/pilot --rounds 5

With --pilot, each round runs Keras and then `pilot bench train --bare-only` on the same machine,
one after the other, and prints both numbers and their ratio (pilot / Keras) per round and the
medians: pairing the rounds keeps the ratio meaningful when other work on the machine changes
the speed during the run.
"""
import argparse
import os
import re
import statistics
import subprocess
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import keras  # noqa: E402
from keras import layers  # noqa: E402


def pilotnet():
    """host/archs/pilotnet.toml: 66x200x3, five valid convolutions, four dense layers."""
    return keras.Sequential(
        [
            keras.Input((66, 200, 3)),
            layers.Conv2D(24, 5, strides=2, activation="relu"),
            layers.Conv2D(36, 5, strides=2, activation="relu"),
            layers.Conv2D(48, 5, strides=2, activation="relu"),
            layers.Conv2D(64, 3, activation="relu"),
            layers.Conv2D(64, 3, activation="relu"),
            layers.Flatten(),
            layers.Dropout(0.2),
            layers.Dense(100, activation="relu"),
            layers.Dense(50, activation="relu"),
            layers.Dense(10, activation="relu"),
            layers.Dense(1),
        ]
    )


def sign():
    """host/archs/sign.toml with 43 classes: 32x32x3, two conv + max-pool pairs, two dense."""
    return keras.Sequential(
        [
            keras.Input((32, 32, 3)),
            layers.Conv2D(32, 3, activation="relu"),
            layers.MaxPooling2D(2),
            layers.Conv2D(64, 3, activation="relu"),
            layers.MaxPooling2D(2),
            layers.Flatten(),
            layers.Dropout(0.3),
            layers.Dense(128, activation="relu"),
            layers.Dropout(0.3),
            layers.Dense(43),
        ]
    )


class Bench:
    """A compiled model and one random batch; `rate(steps)` times `steps` training steps."""

    def __init__(self, build, batch, jit):
        self.model = build()
        self.model.compile(optimizer=keras.optimizers.Adam(1e-4), loss="mse", jit_compile=jit)
        rng = np.random.default_rng(1)
        shape = self.model.input_shape[1:]
        self.x = rng.random((batch,) + tuple(shape), dtype=np.float32)
        self.y = rng.random((batch, self.model.output_shape[-1]), dtype=np.float32)
        for _ in range(3):  # tracing and compilation
            self.model.train_on_batch(self.x, self.y)

    def rate(self, steps):
        start = time.perf_counter()
        for _ in range(steps):
            self.model.train_on_batch(self.x, self.y)
        return steps * len(self.x) / (time.perf_counter() - start)


def pilot_rates(pilot, batch, steps):
    """Runs `pilot bench train --bare-only` once; returns {network: images/s}."""
    cmd = [pilot, "bench", "train", "--bare-only", "--batch", str(batch), "--steps", str(steps)]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    rates = {}
    for line in out.splitlines():
        m = re.match(r"^(pilotnet|sign)\s+(\d+)", line)
        if m:
            rates[m.group(1)] = float(m.group(2))
    if set(rates) != {"pilotnet", "sign"}:
        sys.exit(f"{' '.join(cmd)} printed no images/s for both networks:\n{out}")
    return rates


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--steps", type=int, default=10, help="timed PilotNet steps per round (sign CNN: 4x)")
    ap.add_argument("--jit", default="auto", choices=["auto", "true", "false"], help="Keras jit_compile (XLA)")
    ap.add_argument("--pilot", help="the pilot binary: alternate with `pilot bench train --bare-only`")
    args = ap.parse_args()
    jit = {"auto": "auto", "true": True, "false": False}[args.jit]

    import tensorflow as tf

    print(f"Keras {keras.__version__}, TensorFlow {tf.__version__} ({keras.backend.backend()} backend), "
          f"{os.cpu_count()} CPUs, batch {args.batch}, jit_compile={args.jit}")
    nets = {"pilotnet": (Bench(pilotnet, args.batch, jit), args.steps),
            "sign": (Bench(sign, args.batch, jit), args.steps * 4)}
    keras_rates = {n: [] for n in nets}
    pilot_all = {n: [] for n in nets}
    for r in range(1, args.rounds + 1):
        for name, (bench, steps) in nets.items():
            keras_rates[name].append(bench.rate(steps))
        line = f"round {r}: " + ", ".join(f"{n} keras {keras_rates[n][-1]:.0f}" for n in nets)
        if args.pilot:
            rates = pilot_rates(args.pilot, args.batch, args.steps)
            for n in nets:
                pilot_all[n].append(rates[n])
            line += " | " + ", ".join(
                f"{n} pilot {rates[n]:.0f} ({rates[n] / keras_rates[n][-1]:.2f}x)" for n in nets)
        print(line + " images/s", flush=True)

    print(f"{'network':<10} {'keras img/s (median)':>22} {'rounds':>24}", end="")
    print(f" {'pilot img/s (median)':>22} {'ratio':>7}" if args.pilot else "")
    for n in nets:
        k = keras_rates[n]
        print(f"{n:<10} {statistics.median(k):>22.0f} {', '.join(f'{v:.0f}' for v in k):>24}", end="")
        if args.pilot:
            p = pilot_all[n]
            ratios = [a / b for a, b in zip(p, k)]
            print(f" {statistics.median(p):>22.0f} {statistics.median(ratios):>6.2f}x")
        else:
            print()


if __name__ == "__main__":
    main()
