"""PyTorch peer for bench/src/mobilenet.ts: the float MobileNet rebuilt from the TFLite file's
dequantised weights (packages/adapters/fixtures/tflite_ref.py), timed on the same input.

usage: mobilenet_torch.py <model.tflite> <input.f32> <batch> <size> <threads> <iterations> <output.f32>
Prints one JSON line: {"seconds": [...]} (per iteration); writes the first output to output.f32.
"""
import json
import os
import sys
import time

import numpy as np
import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..', 'packages', 'adapters', 'fixtures'))
from tflite_ref import load, torch_float  # noqa: E402

path, inp, batch, size, threads, iterations, out = sys.argv[1:8]
batch, size, threads, iterations = int(batch), int(size), int(threads), int(iterations)
torch.set_num_threads(threads)
net = torch_float(load(path), pool_only=True)
x = torch.from_numpy(np.fromfile(inp, dtype=np.float32).reshape(batch, 3, size, size))
seconds = []
with torch.no_grad():
    y = net(x)  # warm-up
    y.flatten(1).numpy().astype(np.float32).tofile(out)
    for _ in range(iterations):
        t = time.perf_counter()
        net(x)
        seconds.append(time.perf_counter() - t)
print(json.dumps({'seconds': seconds}))
