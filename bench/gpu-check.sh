#!/usr/bin/env bash
# The GPU check, prepared for a machine with a GPU: what the machine has, which ONNX Runtime
# providers this install offers, then bench/dist/gpu-check.js (parity with the CPU, slices/s, a
# LoRA step) for each. Run from the repository root after `npm ci && npm run build`.
# CUDA needs onnxruntime-node's CUDA provider, which its install script downloads:
#   npm install onnxruntime-node --onnxruntime-node-install=cuda12   (CUDA 12 + cuDNN 9 on the system)
# WebGPU is bundled; it needs a GPU driver with Vulkan (Linux), Metal or D3D12.
set -uo pipefail
cd "$(dirname "$0")/.."
echo "== machine"; nproc; (nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv 2>/dev/null || echo "no nvidia-smi")
ls /usr/share/vulkan/icd.d 2>/dev/null || echo "no Vulkan ICDs"
echo "== onnxruntime-node providers"
node -e "console.log(JSON.stringify(require('onnxruntime-node').listSupportedBackends()))"
echo "== check"
node bench/dist/gpu-check.js
