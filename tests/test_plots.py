"""Every figure the toolkit writes is readable: titled with what was
measured, labelled, legible, clamped; and the same images, tables and
trials reach TensorBoard."""

import os
import warnings

import numpy as np
import pytest
import tensorflow as tf
from tensorboard.backend.event_processing.event_accumulator import (
    EventAccumulator,
)

from advmask_tf import plotting
from advmask_tf.analysis.report import write_plots, write_tensorboard
from advmask_tf.evaluation.reports import (
    plot_conditioning,
    plot_sweep,
)
from advmask_tf.plotting import PlotLayoutWarning, context_line
from advmask_tf.runs.evaluate import compare_workdirs
from advmask_tf.training.monitoring import save_radius_grid
from advmask_tf.tuning.dashboard import log_trial
from advmask_tf.tuning.pareto import pareto_front, plot_front

CONTEXT = context_line("Fashion-MNIST", 0.1, 10000, "best")


def report(clean, robust, points=10000):
    def entry(accuracy):
        return {"accuracy": accuracy, "correct": round(accuracy * points),
                "total": points}

    return {"clean": entry(clean), "pgd20": entry(robust + 0.01),
            "worst_case": entry(robust),
            "eps": 0.1, "limit": points, "checkpoint": "best",
            "config": {"dataset": "Fashion-MNIST"}}


@pytest.fixture
def drawn(monkeypatch):
    """Records each saved figure's titles and layout problems; a layout
    problem fails the test."""
    seen = []
    check = plotting.layout_problems

    def recording(fig):
        problems = check(fig)
        titles = [t.get_text() for f in plotting._all_figures(fig)
                  for t in [f._suptitle] if t is not None]
        titles += [ax.get_title() for ax in fig.get_axes()]
        texts = [t.get_text() for ax in fig.get_axes() for t in ax.texts]
        seen.append({"titles": "\n".join(titles), "problems": problems,
                     "texts": texts})
        return problems

    monkeypatch.setattr(plotting, "layout_problems", recording)
    with warnings.catch_warnings():
        warnings.simplefilter("error", PlotLayoutWarning)
        yield seen


def test_the_layout_check_names_each_problem():
    plt = plotting.pyplot()
    fig, ax = plt.subplots()
    ax.plot([80.0, 90.0], [-0.04, 70.0], label="a")
    ax.plot([80.0, 90.0], [10.0, 20.0], label="b")
    ax.set_ylabel("robust accuracy (%)")
    ax.annotate("Madry", (85.0, 30.0))
    ax.annotate("TRADES", (85.0, 30.0))
    problems = plotting.layout_problems(fig)
    plt.close(fig)
    assert "the figure has no title" in problems
    assert "an axes: the x axis has no label" in problems
    assert "an axes: 2 labelled series but no legend" in problems
    assert any("texts overlap: 'Madry' and 'TRADES'" in p for p in problems)
    assert any("the y axis is in % but runs from -" in p for p in problems)


def test_crowded_labels_are_placed_apart_and_axes_clamped(drawn, tmp_path):
    # Two runs at the same point and a run at 0% robust: the old plot put
    # the labels on top of each other and ran the axis below 0.
    runs = {"madry": report(0.8401, 0.7253), "copy": report(0.8401, 0.7253),
            "trades": report(0.8252, 0.6785), "standard": report(0.9182, 0.0)}
    compare_workdirs(runs, str(tmp_path))
    assert drawn[-1]["problems"] == []
    assert CONTEXT in drawn[-1]["titles"]
    assert os.path.getsize(tmp_path / "tradeoff.png") > 5000


def test_conditioning_sweep_and_front_plots_are_readable(drawn, tmp_path):
    curve = [(f"c={c:g}", report(a, r)) for c, a, r in (
        (0, 0.9109, 0.0451), (0.05, 0.8732, 0.5846), (0.1, 0.8509, 0.6556))]
    mix = [(f"t={t:g}", report(a, r)) for t, a, r in (
        (0, 0.9109, 0.0451), (0.5, 0.8903, 0.4567), (1, 0.8509, 0.6556))]
    plot_conditioning({"told c": curve, "mix t": mix},
                      {"Madry": report(0.8401, 0.7253),
                       "TRADES": report(0.8252, 0.6785)},
                      str(tmp_path / "conditioning.png"), "curve\n" + CONTEXT)
    plot_sweep([{"eps": e, "report": report(0.84, max(0.0, 0.72 - 3 * e))}
                for e in (0.0, 0.1, 0.3)], str(tmp_path / "sweep.png"),
               "sweep\n" + CONTEXT)
    rows = [{"trial": str(i), "clean": c, "robust": r, "score": 0.0}
            for i, (c, r) in enumerate([(0.73, 0.22), (0.77, 0.61),
                                        (0.77, 0.0), (0.6, 0.0004)])]
    front = pareto_front({r["trial"]: (r["clean"], r["robust"])
                          for r in rows})
    plot_front(rows, front, str(tmp_path / "pareto.png"), "front\n" + CONTEXT)
    assert [d["problems"] for d in drawn] == [[], [], []]
    assert all(CONTEXT in d["titles"] for d in drawn)


def test_trials_on_the_same_point_share_one_label(drawn, tmp_path):
    # A tiny search often ends with trials at identical accuracies.
    rows = [{"trial": str(i), "clean": c, "robust": r, "score": 0.0}
            for i, (c, r) in enumerate([(0.52, 0.08), (0.52, 0.08),
                                        (0.52, 0.08), (0.61, 0.02)])]
    front = pareto_front({r["trial"]: (r["clean"], r["robust"])
                          for r in rows})
    plot_front(rows, front, str(tmp_path / "pareto.png"), "front\n" + CONTEXT)
    assert drawn[-1]["problems"] == []
    fig_texts = drawn[-1]["texts"]
    assert "1, 2, 3" in fig_texts and "4" in fig_texts


def test_analysis_plots_are_readable_distributions(drawn, tmp_path):
    rng = np.random.default_rng(0)
    layers = ["input_normalization", "conv0+conv0_norm", "conv1+conv1_norm",
              "logits"]
    results, points = {}, {}
    for k, label in enumerate(["standard", "madry", "trades", "iaat",
                               "gairat", "robmask@0", "robmask@0.1"]):
        smooth = {n.split("+")[-1]: {"random": 1.0 + k, "adversarial": 2.0}
                  for n in layers}
        results[label] = {
            "accuracy": 0.8, "points": 10000, "checkpoint": "best",
            "dataset": "Fashion-MNIST",
            "settings": {"eps": 0.1, "attack_steps": 20},
            "spectra": {"order": layers, "product": 50.0 + k, "layers": {
                n: {"top": 3.0, "quantiles": list(np.linspace(k + 2, 0.01,
                                                              20))}
                for n in layers}},
            "smoothness_order": list(smooth), "smoothness": smooth,
            "boundary": {"radii": [0.0, 0.1, 0.2, 0.3],
                         "fraction_within": [0.1, 0.4 + k / 20, 1.0, 1.0]}}
        points[label] = {"margin": rng.normal(k, 3, 500),
                         "confidence": rng.random(500)}
    paths = write_plots(results, points, str(tmp_path))
    assert len(drawn) == len(paths) == 6
    assert [d["problems"] for d in drawn] == [[]] * 6
    assert all(CONTEXT in d["titles"] for d in drawn)


def test_radius_grid_is_titled(drawn, tmp_path):
    title = "iaat radii\n" + context_line("Fashion-MNIST", None, 40,
                                          split="training")
    save_radius_grid(str(tmp_path / "radii.png"), np.random.rand(40, 8, 8, 1),
                     np.arange(40) % 10, np.linspace(0, 0.2, 40),
                     per_end=4, title=title)
    assert drawn[0]["problems"] == [] and title in drawn[0]["titles"]


def _events(log_dir):
    events = EventAccumulator(str(log_dir), size_guidance={"images": 0,
                                                           "tensors": 0})
    events.Reload()
    return events


def test_plots_tables_and_trials_reach_tensorboard(tmp_path):
    plt = plotting.pyplot()
    fig, ax = plt.subplots()
    ax.plot([0, 1], [0, 50])
    ax.set(title="t", xlabel="eps", ylabel="accuracy (%)", ylim=(0, 100))
    plotting.save_figure(fig, str(tmp_path / "a.png"),
                         tensorboard=(str(tmp_path / "board"), "eval/a", 7))
    images = _events(tmp_path / "board").Tensors("eval/a")
    assert images[0].step == 7
    # An image summary holds width, height and the PNG's bytes.
    assert images[0].tensor_proto.string_val[2][:4] == b"\x89PNG"

    summary = {"workdir": "/runs/madry", "accuracy": 0.8, "points": 10,
               "settings": {"eps": 0.1, "max_eps": 0.3, "bisections": 8,
                            "attack_steps": 20},
               "spectra": {"order": ["conv", "logits"], "product": 6.0,
                           "layers": {"conv": {"top": 3.0},
                                      "logits": {"top": 2.0}}},
               "smoothness_order": ["logits"],
               "smoothness": {"logits": {"random": 0.5, "adversarial": 1.5}},
               "margin": {"quantiles": {"0.5": 1.0}},
               "normalized_margin": {"quantiles": {"0.5": 0.1}},
               "confidence": {"mean": 0.9},
               "boundary": {"median_distance": 0.1,
                            "fraction_within_eps": 0.5}}
    write_tensorboard(str(tmp_path / "analysis"), summary,
                      {"margin": np.ones(10), "confidence": np.ones(10),
                       "distance": np.ones(10)})
    events = _events(tmp_path / "analysis")
    tags = events.Tags()
    assert tags["scalars"] == []  # no values over a layer index
    # TensorBoard orders groups by name: the training curves (epoch_*) and
    # the evaluation (eval/*) must come first.
    assert all(tag > "eval/~" for tag in tags["histograms"] + tags["tensors"])
    table = events.Tensors("regularisation/tables")[0].tensor_proto.string_val[0]
    assert b"| conv | 3 |" in table

    log_trial(str(tmp_path), "2", {"method": "trades", "beta": 6.0},
              {"val_clean": 0.8, "val_robust": 0.6, "score": 0.7})
    trial = _events(tmp_path / "tensorboard" / "trial_2")
    assert "_hparams_/session_start_info" in trial.Tags()["tensors"]
    value = tf.make_ndarray(trial.Tensors("val_robust")[0].tensor_proto)
    assert float(value) == pytest.approx(0.6)
