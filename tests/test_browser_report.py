"""The evaluation report in a real browser (Debian's headless Chromium through Playwright): at 1280 px the
metrics table with two classifiers' agreement columns and the comparison table fit without sideways
scrolling and the file column is readable; on a phone the page is the screen's width (tables scroll in
their own boxes). Screenshots go to test-artifacts/ (git-ignored)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from test_browser import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS  # noqa: F401  (skips without chromium / playwright)

pytestmark = [pytest.mark.browser,
              pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium at /usr/bin/chromium")]
sync_api = pytest.importorskip("playwright.sync_api", reason="needs playwright (no browser download)")

from chromatize.checkpoint import save_checkpoint  # noqa: E402
from chromatize.evaluate.agreement import Judge  # noqa: E402
from chromatize.evaluate.gallery import render_gallery  # noqa: E402
from chromatize.evaluate.predictors import model_predictors  # noqa: E402
from chromatize.evaluate.report import write_report  # noqa: E402
from chromatize.evaluate.runner import evaluate_predictors  # noqa: E402
from chromatize.registry import create_model  # noqa: E402

MEASURE = """() => {
  const fileTh = document.querySelector('table.compare tbody th');
  return {page: document.documentElement.scrollWidth, fileColumn: fileTh.getBoundingClientRect().width,
          boxes: [...document.querySelectorAll('.scroll')].map(s => s.scrollWidth - s.clientWidth)};
}"""


class _Unused(torch.nn.Module):
    """The network of a classifier no colorizer here is built on."""


def _judge(name: str, network: type) -> Judge:
    def load() -> torch.nn.Module:
        torch.manual_seed(len(name))
        return torch.nn.Sequential(torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten(), torch.nn.Linear(3, 1000))

    return Judge(name, f"Stand-in classifier {name}", network, load, (0.5,) * 3, (0.5,) * 3, "made by the test")


@pytest.fixture(scope="module")
def report(tmp_path_factory) -> Path:
    """Three models with long run-directory names, scored by two classifiers (4 agreement columns), six photos
    with long file names."""
    root = tmp_path_factory.mktemp("report")
    data = root / "photos"
    data.mkdir()
    names = ["picos_de_europa_aitzol_berasategi.png", "bridge_sander_klootwijk_cc_by_sa.png", "heron.png",
             "drums_and_giraffe_gcompris_collection.png", "a.png", "dolphin_gcompris.png"]
    y, x = np.mgrid[0:48, 0:64]
    for i, name in enumerate(names):
        rgb = np.stack([x / 64, y / 48, 0.5 + 0.5 * np.sin(x / 3 + i)], axis=-1)
        Image.fromarray((rgb * 255).astype(np.uint8), "RGB").save(data / name)
    nets = {"default_recipe_long_name": create_model("baseline", width=4),
            "classification_recipe": create_model("unet", base=4, levels=2),
            "gan_finetune_recipe": create_model("baseline", width=4)}
    paths = [str(save_checkpoint(root / "runs" / tag / "best.pt", net)) for tag, net in nets.items()]
    baseline_class = type(nets["default_recipe_long_name"])
    judges = [_judge("first", baseline_class), _judge("second", _Unused)]  # baselines take the second, the U-Net the first
    predictors = model_predictors(paths, render_size=32)
    results = evaluate_predictors(predictors, data, size=64, best_worst=2, progress=False, judges=judges)
    assert len(results["classifier_agreement"]["classifiers"]) == 2
    return write_report(results, render_gallery(results, predictors, data), root / "eval")["html"]


def test_report_fits_a_1280_px_screen_and_a_phone(report):
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            seen = {}
            for width in (1280, 390):
                page = browser.new_page(viewport={"width": width, "height": 900})
                page.goto(report.as_uri())
                seen[width] = page.evaluate(MEASURE)
                page.screenshot(path=str(ARTIFACTS / f"report_{width}.png"), full_page=True)
                page.close()
        finally:
            browser.close()
    wide, phone = seen[1280], seen[390]
    assert wide["page"] == 1280 and phone["page"] == 390, seen  # the page never gets wider than the screen
    assert wide["boxes"] == [0, 0], f"sideways scrolling at 1280 px: {wide}"  # metrics + agreement, comparison
    assert wide["fileColumn"] >= 150, wide  # file names readable, not wrapped every few letters
