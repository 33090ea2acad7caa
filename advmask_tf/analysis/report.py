"""Side-by-side reports of analysed networks: markdown, PNG, TensorBoard."""

from __future__ import annotations

import os

import numpy as np
import tensorflow as tf

from advmask_tf.plotting import context_line, pyplot, save_figure


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


def analysis_context(results: dict) -> str:
    """The title line of a comparison: dataset, eps, points, checkpoint."""
    first = next(iter(results.values()))
    return context_line(first.get("dataset"), first["settings"]["eps"],
                        first["points"], first.get("checkpoint"))


def _outside_legend(fig, axes, handles=None, labels=None):
    """One legend for the figure, right of the panels."""
    if handles is None:
        handles, labels = axes.get_legend_handles_labels()
    return fig.legend(handles, labels, loc="outside right upper",
                      fontsize=8)


def _plain_log_ticks(ax) -> None:
    """Log y ticks as plain numbers; a panel spanning under 1.5 decades
    gets labelled ticks between the powers of ten too."""
    from matplotlib import ticker

    low, high = ax.get_ylim()
    decades = np.log10(high / low) if low > 0 else 2.0
    plain = ticker.FuncFormatter(lambda value, _: f"{value:g}")
    ax.yaxis.set_major_formatter(plain)
    if decades < 1.5:
        subs = (2.0, 5.0) if decades >= 0.6 else tuple(range(2, 10))
        ax.yaxis.set_minor_locator(ticker.LogLocator(subs=subs))
        ax.yaxis.set_minor_formatter(plain)
    else:
        ax.yaxis.set_minor_formatter(ticker.NullFormatter())
    ax.tick_params(which="both", labelsize=7)


def plot_spectra(results: dict, path: str, tensorboard=None) -> None:
    """One panel per layer: each model's circular spectrum, descending."""
    plt = pyplot()
    spectra = next(iter(results.values()))["spectra"]
    names = [name for name in spectra["order"]
             if spectra["layers"][name].get("quantiles")]
    columns = min(4, max(1, len(names)))
    rows = max(1, -(-len(names) // columns))
    fig, axes = plt.subplots(rows, columns, figsize=(3.1 * columns + 1.8,
                                                     2.5 * rows + 0.8),
                             squeeze=False, layout="constrained")
    for ax, name in zip(axes.ravel(), names):
        for label, r in results.items():
            entry = r["spectra"]["layers"].get(name, {})
            values = entry.get("quantiles")
            if values:
                ax.plot(100 * np.linspace(0, 1, len(values)), values,
                        label=label)
        ax.set_title(name.replace("+", " + "), fontsize=7)
        ax.set_yscale("log")
        _plain_log_ticks(ax)
        ax.grid(alpha=0.3)
    for ax in axes.ravel()[len(names):]:
        ax.axis("off")
    fig.supxlabel("position in the layer's spectrum, largest first (% of "
                  "its singular values)", fontsize=9)
    fig.supylabel("singular value", fontsize=9)
    _outside_legend(fig, axes.ravel()[0])
    fig.suptitle("Singular values of each layer's operator (norms folded "
                 "in)\n" + analysis_context(results), fontsize=10)
    save_figure(fig, path, tensorboard)


def plot_ecdf(points: dict, key: str, path: str, xlabel: str, title: str,
              tensorboard=None) -> None:
    """One empirical distribution function per model of a per-point
    quantity: the share of points at or below each value (infinite values,
    points no attack broke, stay out of the x range but count)."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(7.6, 4.4))
    styles = ("-", "--", ":", "-.")
    for index, (label, p) in enumerate(points.items()):
        values = np.sort(np.asarray(p[key], np.float64))
        if not values.size:
            continue
        shares = 100 * np.arange(1, values.size + 1) / values.size
        finite = np.isfinite(values)
        ax.step(values[finite], shares[finite], where="post", label=label,
                color=f"C{index % 10}", linestyle=styles[index // 10 % 4],
                linewidth=1.4)
    ax.set_xlabel(xlabel)
    ax.set_ylabel("points at or below the value (%)")
    ax.set_ylim(0, 100)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    ax.set_title(title, fontsize=10)
    fig.tight_layout()
    save_figure(fig, path, tensorboard)


def plot_boundary(results: dict, path: str, tensorboard=None) -> None:
    """Fraction of test points within distance r of the boundary."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(7.6, 4.4))
    for index, (label, r) in enumerate(results.items()):
        ax.plot(r["boundary"]["radii"],
                [100 * f for f in r["boundary"]["fraction_within"]],
                marker=".", label=label, clip_on=False,
                color=f"C{index % 10}",
                linestyle=("-", "--", ":", "-.")[index // 10 % 4])
    ax.set_xlabel("r (Linf distance, pixels in [0, 1])")
    ax.set_ylabel("points within r of the boundary (%)")
    ax.set_ylim(0, 100)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    first = next(iter(results.values()))
    ax.set_title(f"Distance to the decision boundary (PGD-"
                 f"{first['settings']['attack_steps']}, bisection)\n"
                 + analysis_context(results), fontsize=10)
    fig.tight_layout()
    save_figure(fig, path, tensorboard)


def plot_smoothness(results: dict, path: str, tensorboard=None) -> None:
    """Feature-change ratio per layer: one panel for random d, one for
    adversarial d, one line per model."""
    plt = pyplot()
    names = next(iter(results.values()))["smoothness_order"]
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.8), sharey=True,
                             layout="constrained")
    for ax, kind in zip(axes, ("random", "adversarial")):
        for index, (label, r) in enumerate(results.items()):
            ax.plot(range(len(names)),
                    [r["smoothness"][n][kind] for n in r["smoothness_order"]],
                    marker="o", markersize=4, label=label,
                    color=f"C{index % 10}",
                    linestyle=("-", "--", ":", "-.")[index // 10 % 4])
        ax.set_xticks(range(len(names)))
        ax.set_xticklabels(names, rotation=90, fontsize=7)
        ax.set_yscale("log")
        ax.set_title("d: a random corner of the ball" if kind == "random"
                     else "d: PGD perturbation", fontsize=9)
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("||f(x + d) - f(x)||_2 / ||d||_2 (log scale)")
    fig.supxlabel("layer (its output)", fontsize=9)
    _outside_legend(fig, axes[0])
    eps = next(iter(results.values()))["settings"]["eps"]
    fig.suptitle(f"Feature smoothness per layer, d in the Linf ball of "
                 f"radius {eps:g}\n" + analysis_context(results),
                 fontsize=10)
    save_figure(fig, path, tensorboard)


PLOTS = ("spectra", "margins", "normalized_margins", "confidence",
         "boundary", "smoothness")


def write_plots(results: dict, points: dict, out: str,
                log_dir: str | None = None) -> list:
    """All comparison plots into `out` (and, with `log_dir`, as
    TensorBoard images `regularisation/<plot>`); returns their paths."""
    paths = {name: os.path.join(out, name + ".png") for name in PLOTS}

    def board(name):
        return None if log_dir is None else (log_dir, f"regularisation/{name}", 0)

    context = analysis_context(results)
    plot_spectra(results, paths["spectra"], board("spectra"))
    plot_ecdf(points, "margin", paths["margins"],
              "logit margin f_y(x) - max_(j != y) f_j(x) (logits)",
              "Logit margins of the test points\n" + context,
              board("margins"))
    normalized = {label: {"normalized_margin": np.asarray(p["margin"])
                          / results[label]["spectra"]["product"]}
                  for label, p in points.items()}
    plot_ecdf(normalized, "normalized_margin", paths["normalized_margins"],
              "logit margin / product of the layers' spectral norms",
              "Margins normalised by the spectral norm product\n" + context,
              board("normalized_margins"))
    plot_ecdf(points, "confidence", paths["confidence"],
              "confidence: largest softmax probability",
              "Confidence on the test points\n" + context,
              board("confidence"))
    plot_boundary(results, paths["boundary"], board("boundary"))
    plot_smoothness(results, paths["smoothness"], board("smoothness"))
    return list(paths.values())


def write_tensorboard(log_dir: str, summary: dict, points: dict) -> None:
    """One analysed network in TensorBoard: histograms of margins,
    confidence and boundary distances, and its tables (network-wide values,
    then spectra and smoothness per layer) as text
    `regularisation/tables`. The tags sort after the training curves
    (epoch_*) and the evaluation (eval/*), which TensorBoard shows first."""
    writer = tf.summary.create_file_writer(log_dir)
    with writer.as_default():
        tf.summary.histogram("regularisation/margin", points["margin"], step=0)
        tf.summary.histogram("regularisation/confidence", points["confidence"],
                             step=0)
        finite = points["distance"][np.isfinite(points["distance"])]
        tf.summary.histogram("regularisation/boundary_distance", finite, step=0)
        name = os.path.basename(str(summary.get("workdir", "network")))
        if summary.get("condition") is not None:
            name += f"@{summary['condition']:g}"
        tf.summary.text("regularisation/tables",
                        summary_markdown({name: summary}), step=0)
    writer.flush()
    writer.close()
