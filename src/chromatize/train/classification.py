"""The ``classification`` task: class-rebalanced multinomial cross-entropy over quantised ab (Zhang et al. 2016).

Targets are soft (5 nearest bins, Gaussian sigma 5); each pixel's loss is weighted by the rebalancing weight
of its nearest bin, from the training data's class prior. A model predicting per block of pixels
(``scale`` > 1) is scored on the mean of the block's targets. The prior is counted once when a run starts
(:meth:`ClassificationTask.prepare`) and kept in the model's ``prior`` buffer, so it is saved in every
checkpoint and a resumed run trains with exactly the same weights.
"""

from __future__ import annotations

import logging

import torch
import torch.nn.functional as F

from chromatize.color import rgb_to_l_ab
from chromatize.data.dataset import CachedImages
from chromatize.quantize import bin_counts, block_targets, rebalance_weights
from chromatize.train.tasks import Task, register_task

log = logging.getLogger("chromatize.train")

#: Training images (un-augmented, at the training size) counted for the class prior.
PRIOR_IMAGES = 2000


def rebalanced_cross_entropy(logits: torch.Tensor, ab_norm: torch.Tensor, centers: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """Mean over pixels of ``w[q*] * -sum_q Z_q log softmax(logits)_q``: target normalised ab ``[B,2,H,W]``
    soft-encoded to ``Z``, ``q*`` its nearest bin, ``weights [Q]`` the rebalancing weights; ``logits``
    ``[B,Q,H/s,W/s]`` predict each ``s`` x ``s`` block of pixels (s = 1: every pixel)."""
    scale = ab_norm.shape[-1] // logits.shape[-1]
    targets = block_targets(ab_norm, centers, scale, weights)
    return -(targets * F.log_softmax(logits.float(), dim=1)).sum(dim=1).mean()


class _Logits(torch.nn.Module):
    """A classifier seen through its ``logits`` method."""

    def __init__(self, classifier: torch.nn.Module):
        super().__init__()
        self.classifier = classifier

    def forward(self, L: torch.Tensor) -> torch.Tensor:
        return self.classifier.logits(L)


@register_task("classification")
class ClassificationTask(Task):
    """Trains a ``classifier`` model (any backbone): its :meth:`logits` against soft ab classes.
    The logged ``loss`` is the rebalanced cross-entropy, on training and validation images alike."""

    def __init__(self, cfg, device):
        super().__init__(cfg, device)
        if cfg.target != "lab" or not callable(getattr(self.model, "logits", None)):
            raise ValueError(f"task classification needs model.name: classifier (target lab), got {cfg.model.name!r}")

    @torch.no_grad()
    def prepare(self, train_data: CachedImages) -> None:
        """Count the nearest-bin pixels of up to :data:`PRIOR_IMAGES` training images, evenly spread over the
        (path-sorted, so source-grouped) training set, into ``model.prior``."""
        every = -(-len(train_data.indices) // PRIOR_IMAGES)
        images = CachedImages(train_data.cache, train_data.indices[::every], train_data.size)  # no augmentation
        counts = torch.zeros_like(self.model.prior)
        for start in range(0, len(images), 64):
            batch = torch.stack([images[i] for i in range(start, min(start + 64, len(images)))])
            counts += bin_counts(rgb_to_l_ab(images.prepare(batch.to(self.device)))[1], self.model.bin_centers)
        self.model.prior.copy_(counts)
        log.info(f"class prior: {int(counts.sum())} pixels of {len(images)} images, "
                 f"{int((counts > 0).sum())} of {len(counts)} ab bins used")

    def class_weights(self) -> torch.Tensor:
        """Rebalancing weights ``[Q]`` from the model's stored prior."""
        if not self.model.prior.sum() > 0:
            raise RuntimeError("the class prior is not set: start the run with chromatize.train.run.train (it calls prepare)")
        return rebalance_weights(self.model.prior, self.model.bin_centers)

    def training_view(self, key: str) -> torch.nn.Module:
        """Training runs the classifier's :meth:`logits` (a wrapper such as DDP sees it as ``forward``)."""
        return _Logits(self.model) if key == "model" else super().training_view(key)

    def loss(self, rgb: torch.Tensor, logits_fn=None) -> torch.Tensor:
        L, ab = self.split(rgb)
        logits = (logits_fn or self.model.logits)(L)
        return rebalanced_cross_entropy(logits, ab, self.model.bin_centers, self.class_weights())

    def train_step(self, rgb, stepper):
        loss = self.loss(rgb, self.net())
        stepper.step("model", loss)
        return {"loss": loss.detach()}

    @torch.no_grad()
    def eval_step(self, rgb):
        return {"loss": self.loss(rgb).item()}
