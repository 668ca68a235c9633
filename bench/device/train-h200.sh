#!/bin/bash
# The H200 training-throughput check: bench/train on tfjs-backend-webgpu (Dawn on Vulkan) against PyTorch CUDA
# fp32 (default settings, no AMP), the small net and ResNet-18 at 32×32, batch 256, as ratios in one run.
# The device machine has PyTorch but no Node, so Node and node_modules travel in .device/ (../shared/tools/device-pack.sh).
#
# Here, once (from the project root):   bash ../shared/tools/device-pack.sh
# Then one device `run` with carry [".device"] and the command:
#   bash bench/device/train-h200.sh
# (timeout_s 540 leaves time for one rerun inside the 15-minute allowance). It writes train-*.json and the log
# to $OUT; append its rows to bench/RESULTS.md with the ratio as 1/N.
set -u
OUT=${OUT:-/tmp/out}; mkdir -p "$OUT"
bash .device/unpack.sh
export PATH=/tmp/devnode:$PATH
export VK_DRIVER_FILES=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
export __EGL_VENDOR_LIBRARY_FILENAMES=/usr/local/nvidia/share/glvnd/egl_vendor.d/10_nvidia.json
{
  nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader
  python3 -c 'import torch; print("torch", torch.__version__, "cuda", torch.version.cuda, torch.cuda.get_device_name(0))'
  node --version
} 2>&1 | tee "$OUT/env.txt"
# 60 s per backend×net; tfjs first, then the PyTorch peer at the batch tfjs was measured at (256 unless over budget)
timeout 480 node --import tsx bench/train/train.bench.ts --backends webgpu --nets small,resnet18 --batch 256 --budget 60 \
  --python python3 --torch-device cuda 2>&1 | tee "$OUT/train-h200.log"
cp bench/results/train-*.json "$OUT/" 2>/dev/null || true
