"""Side-by-side reports of analysed networks: markdown, PNG, TensorBoard."""

from __future__ import annotations

import os

import numpy as np
import tensorflow as tf

from advmask_tf.plotting import pyplot, save_figure


def _fmt(value, digits=3):
    if value is None:
        return "-"
    if np.isinf(value):
        return "inf"
    return f"{value:.{digits}g}"


def summary_markdown(results: dict) -> str:
    """Markdown tables comparing analysed networks.

    Args:
        results: label -> summary (as `profile_network` returns it).
    """
    labels = list(results)
    first = results[labels[0]]
    eps = first["settings"]["eps"]
    median = "0.5"
    lines = [
        f"Points analysed: {first['points']}. Boundary distance: smallest "
        f"Linf eps at which PGD-{first['settings']['attack_steps']} breaks a "
        f"point (bisection on [0, {first['settings']['max_eps']:g}], "
        f"{first['settings']['bisections']} halvings; 0 when misclassified "
        "clean). Smoothness: ||f_l(x + d) - f_l(x)|| / ||d|| at the logits, "
        f"d a random corner of the eps-{eps:g} ball or PGD at eps {eps:g}.",
        "",
        "| model | clean acc. | spectral norm product | median margin | "
        "median margin / product | mean confidence | median boundary "
        f"distance | within eps {eps:g} | logits smoothness, random | "
        "logits smoothness, adversarial |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for label, r in results.items():
        logits = r["smoothness"][r["smoothness_order"][-1]]
        lines.append(
            f"| {label} | {100 * r['accuracy']:.1f}% | "
            f"{_fmt(r['spectra']['product'])} | "
            f"{_fmt(r['margin']['quantiles'][median])} | "
            f"{_fmt(r['normalized_margin']['quantiles'][median])} | "
            f"{_fmt(r['confidence']['mean'])} | "
            f"{_fmt(r['boundary']['median_distance'])} | "
            f"{100 * r['boundary']['fraction_within_eps']:.1f}% | "
            f"{_fmt(logits['random'])} | {_fmt(logits['adversarial'])} |")
    layer_names = first["spectra"]["order"]
    same_layers = all(r["spectra"]["order"] == layer_names
                      for r in results.values())
    if same_layers:
        lines += ["", "Singular values of each layer's operator (norms "
                  "folded into the layer before them): top value "
                  "(convolutions: power iteration on the padded operator) / "
                  "median of the circular spectrum, and in brackets its "
                  "stable rank (sum sigma^2 / sigma_max^2):", "",
                  "| layer | " + " | ".join(labels) + " |",
                  "| --- |" + " --- |" * len(labels)]
        for name in layer_names:
            cells = []
            for r in results.values():
                entry = r["spectra"]["layers"][name]
                rank = entry.get("stable_rank")
                cells.append(_fmt(entry["top"]) + (
                    f" / {_fmt(entry['median'])} ({rank:.1f})"
                    if rank is not None else ""))
            lines.append(f"| {name} | " + " | ".join(cells) + " |")
        lines += ["", "Feature smoothness per layer, random / adversarial "
                  "delta:", "", "| layer | " + " | ".join(labels) + " |",
                  "| --- |" + " --- |" * len(labels)]
        for name in first["smoothness_order"]:
            cells = [f"{_fmt(r['smoothness'][name]['random'])} / "
                     f"{_fmt(r['smoothness'][name]['adversarial'])}"
                     for r in results.values()]
            lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def plot_spectra(results: dict, path: str) -> None:
    """One panel per layer: each model's circular spectrum, descending."""
    plt = pyplot()
    spectra = next(iter(results.values()))["spectra"]
    names = [name for name in spectra["order"]
             if spectra["layers"][name].get("quantiles")]
    columns = min(4, max(1, len(names)))
    rows = max(1, -(-len(names) // columns))
    fig, axes = plt.subplots(rows, columns, figsize=(3.2 * columns,
                                                     2.6 * rows),
                             squeeze=False)
    for ax, name in zip(axes.ravel(), names):
        for label, r in results.items():
            entry = r["spectra"]["layers"].get(name, {})
            values = entry.get("quantiles")
            if values:
                ax.plot(np.linspace(0, 1, len(values)), values, label=label)
        ax.set_title(name, fontsize=8)
        ax.set_xlabel("rank (fraction)", fontsize=7)
        ax.set_yscale("log")
        ax.tick_params(labelsize=7)
        ax.grid(alpha=0.3)
    for ax in axes.ravel()[len(names):]:
        ax.axis("off")
    axes.ravel()[0].legend(fontsize=7)
    fig.suptitle("Singular values per layer (circular spectrum)")
    fig.tight_layout()
    save_figure(fig, path)


def plot_histograms(points: dict, key: str, path: str, xlabel: str,
                    bins: int = 50, finite_only: bool = True) -> None:
    """Overlaid histograms of one per-point quantity, one per model."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6, 4))
    arrays = {label: np.asarray(p[key], np.float64)
              for label, p in points.items()}
    pooled = np.concatenate([a[np.isfinite(a)] for a in arrays.values()])
    edges = np.histogram_bin_edges(pooled, bins=bins) if pooled.size else bins
    for label, values in arrays.items():
        if finite_only:
            values = values[np.isfinite(values)]
        ax.hist(values, bins=edges, histtype="step", density=True,
                label=label, linewidth=1.4)
    ax.set_xlabel(xlabel)
    ax.set_ylabel("density")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    save_figure(fig, path)


def plot_boundary(results: dict, path: str) -> None:
    """Fraction of test points within distance r of the boundary."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6, 4))
    for label, r in results.items():
        ax.plot(r["boundary"]["radii"],
                [100 * f for f in r["boundary"]["fraction_within"]],
                marker=".", label=label)
    ax.set_xlabel("r (Linf, pixels in [0, 1])")
    ax.set_ylabel("points within r of the boundary (%)")
    ax.set_ylim(0, 100)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    save_figure(fig, path)


def plot_smoothness(results: dict, path: str) -> None:
    """Feature-change ratio per layer, random (dashed) and adversarial."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(7, 4))
    for index, (label, r) in enumerate(results.items()):
        names = r["smoothness_order"]
        color = f"C{index}"
        ax.plot(range(len(names)),
                [r["smoothness"][n]["adversarial"] for n in names],
                marker="o", color=color, label=f"{label}, adversarial")
        ax.plot(range(len(names)),
                [r["smoothness"][n]["random"] for n in names],
                marker="x", linestyle="--", color=color,
                label=f"{label}, random")
    names = next(iter(results.values()))["smoothness_order"]
    ax.set_xticks(range(len(names)))
    ax.set_xticklabels(names, rotation=60, ha="right", fontsize=7)
    ax.set_yscale("log")
    ax.set_ylabel("||f(x + d) - f(x)|| / ||d||")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    save_figure(fig, path)


def write_plots(results: dict, points: dict, out: str) -> list:
    """All comparison plots into `out`; returns their paths."""
    paths = {
        "spectra": os.path.join(out, "spectra.png"),
        "margins": os.path.join(out, "margins.png"),
        "normalized_margins": os.path.join(out, "normalized_margins.png"),
        "confidence": os.path.join(out, "confidence.png"),
        "boundary": os.path.join(out, "boundary.png"),
        "smoothness": os.path.join(out, "smoothness.png"),
    }
    plot_spectra(results, paths["spectra"])
    plot_histograms(points, "margin", paths["margins"],
                    "logit margin f_y - max_j f_j")
    normalized = {label: {"normalized_margin": np.asarray(p["margin"])
                          / results[label]["spectra"]["product"]}
                  for label, p in points.items()}
    plot_histograms(normalized, "normalized_margin",
                    paths["normalized_margins"],
                    "margin / spectral norm product")
    plot_histograms(points, "confidence", paths["confidence"],
                    "confidence (max softmax)")
    plot_boundary(results, paths["boundary"])
    plot_smoothness(results, paths["smoothness"])
    return list(paths.values())


def write_tensorboard(log_dir: str, summary: dict, points: dict) -> None:
    """Histograms of margins, confidence and boundary distances, and
    per-layer top singular values and smoothness as scalars (step = layer
    index), for one analysed network."""
    writer = tf.summary.create_file_writer(log_dir)
    with writer.as_default():
        tf.summary.histogram("analysis/margin", points["margin"], step=0)
        tf.summary.histogram("analysis/confidence", points["confidence"],
                             step=0)
        finite = points["distance"][np.isfinite(points["distance"])]
        tf.summary.histogram("analysis/boundary_distance", finite, step=0)
        spectra = summary["spectra"]
        for step, name in enumerate(spectra["order"]):
            tf.summary.scalar("analysis/top_singular_value",
                              spectra["layers"][name]["top"], step=step)
        for step, name in enumerate(summary["smoothness_order"]):
            entry = summary["smoothness"][name]
            tf.summary.scalar("analysis/smoothness_random", entry["random"],
                              step=step)
            tf.summary.scalar("analysis/smoothness_adversarial",
                              entry["adversarial"], step=step)
        tf.summary.scalar("analysis/spectral_norm_product",
                          summary["spectra"]["product"], step=0)
    writer.flush()
    writer.close()
