"""benchmarks/bench_core.py: the FLOP count runs its probe on the network's own device."""

import importlib.util
from pathlib import Path

import pytest
import torch

BENCH = Path(__file__).resolve().parents[1] / "benchmarks" / "bench_core.py"


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("bench_core", BENCH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class _StrictConv(torch.nn.Conv2d):
    """A convolution that, like one on CUDA, refuses an input on another device than its weights."""

    def forward(self, x):
        if x.device != self.weight.device:
            raise RuntimeError(f"Input type ({x.device}) and weight type ({self.weight.device}) should be the same")
        return super().forward(x)


def test_flops_are_counted_on_the_networks_device(bench):
    """A network on another device than the probe ("meta" stands in for cuda on a CPU-only machine)."""
    net = _StrictConv(1, 2, 3, padding=1, bias=False)
    x = torch.rand(1, 1, 8, 8)
    expected = 2 * (2 * 1 * 3 * 3) * 8 * 8  # multiply-adds of the convolution, as FlopCounterMode counts them
    assert bench.count_flops(net, x) == expected
    assert bench.count_flops(net.to("meta"), x) == expected
