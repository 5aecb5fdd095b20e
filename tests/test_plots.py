"""Loss plots of a run and of the evaluation report."""


def test_loss_plots_place_their_legend_without_the_slow_best_search(tmp_path, monkeypatch):
    """matplotlib's loc="best" scans every point and warns on long runs (seen in the suite's warnings summary)."""
    import json

    from matplotlib import pyplot as plt
    from matplotlib.figure import Figure

    from chromatize.evaluate.figures import loss_curve_png
    from chromatize.train.rundir import plot_losses

    history = [{"epoch": e, "train_loss": 1 / e, "val_loss": 1.1 / e} for e in range(1, 30)]
    figures = []
    monkeypatch.setattr(plt, "close", figures.append)
    plot_losses(tmp_path, history)
    log = tmp_path / "metrics.jsonl"
    log.write_text("".join(json.dumps(row) + "\n" for row in history))
    monkeypatch.setattr(Figure, "tight_layout", lambda fig: figures.append(fig))
    loss_curve_png(log, "run")
    assert len(figures) == 2 and all(fig.axes[0].get_legend()._loc != 0 for fig in figures)  # 0 is "best"
