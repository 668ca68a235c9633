#!/bin/bash
# The H200 kernel check for issue 7, one prepared script per device session (see bench/device/train-h200.sh for
# the packing: Node and node_modules travel in .device/, built here with `bash ../shared/tools/device-pack.sh`).
# One device `run` with carry [".device"], timeout_s 540, and the command:
#   bash bench/profile/h200.sh
# It measures, on tfjs-backend-webgpu over Dawn/Vulkan: the 4096² fp32 matmul, stock vs Curio's tiled kernel
# (checked equal first); the small net's conv layers (forward, dx, dw) at batch 512, stock vs Curio; then where a
# small-net SimCLR step at batch 256 spends its time, stock and with Curio's kernels. Logs and bench/results/profile-*.json go to $OUT.
set -u
OUT=${OUT:-/tmp/out}; mkdir -p "$OUT"
bash .device/unpack.sh
export PATH=/tmp/devnode:$PATH
export VK_DRIVER_FILES=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
export __EGL_VENDOR_LIBRARY_FILENAMES=/usr/local/nvidia/share/glvnd/egl_vendor.d/10_nvidia.json
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader 2>&1 | tee "$OUT/env.txt"
P="node --import tsx bench/profile/profile.ts"
timeout 90 $P --matmul 4096 --backend webgpu --reps 10 2>&1 | tee "$OUT/matmul-4096.log"
timeout 110 $P --conv --backend webgpu --batch 512 --reps 5 2>&1 | tee "$OUT/conv-b512.log"
timeout 140 $P --backend webgpu --net small --batch 256 --steps 5 2>&1 | tee "$OUT/profile-small-stock.log"
timeout 140 $P --backend webgpu --net small --batch 256 --steps 5 --custom-kernels 2>&1 | tee "$OUT/profile-small-curio.log"
cp bench/results/profile-*.json "$OUT/" 2>/dev/null || true
