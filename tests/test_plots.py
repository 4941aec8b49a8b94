"""plots.py: the picture of the mistakes, the most confident first; what the network saw;
the pictures inside a network (layers.png, activations.png, weights.png) for several shapes
of network.

The pictures of a whole run (curves, confusion matrix, mistakes, comparison, inside) are
checked to be small PNGs in test_main.py.
"""

import warnings

import numpy as np
import pytest
from helpers import assert_small_png

import diagnostics
import plots
import utils


def random_probabilities(n, k, rng):
    Z = rng.standard_normal((n, k)) * 2
    return utils.softmax(Z)


def test_plot_mistakes_shows_wrong_predictions_most_confident_first(tmp_path):
    rng = np.random.default_rng(3)
    n, k = 60, 10
    X = rng.integers(0, 256, (n, 784), dtype=np.uint8)
    P = random_probabilities(n, k, rng)
    pred = P.argmax(axis=1)
    y = np.where(rng.random(n) < 0.4, pred, (pred + rng.integers(1, k, n)) % k)
    wrong = np.flatnonzero(pred != y)
    assert len(wrong) > 24  # enough mistakes that the cut at `count` matters
    path = tmp_path / "mistakes.png"
    shown = np.asarray(plots.plot_mistakes(X, y, P, "test", str(path), count=24))
    assert len(shown) == 24
    assert len(set(shown.tolist())) == 24
    assert (pred[shown] != y[shown]).all(), "a correct prediction is shown as a mistake"
    confidence = P[shown, pred[shown]]
    assert (np.diff(confidence) <= 0).all(), "not sorted by decreasing confidence"
    not_shown = np.setdiff1d(wrong, shown)
    assert P[not_shown, pred[not_shown]].max() <= confidence.min(), "a surer mistake is missing"
    assert_small_png(path)


def test_plot_mistakes_with_few_or_no_mistakes(tmp_path):
    rng = np.random.default_rng(4)
    X = rng.integers(0, 256, (10, 784), dtype=np.uint8)
    P = random_probabilities(10, 10, rng)
    y = P.argmax(axis=1)
    y[[2, 7]] = (y[[2, 7]] + 1) % 10
    shown = np.asarray(plots.plot_mistakes(X, y, P, "two", str(tmp_path / "two.png")))
    assert sorted(shown.tolist()) == [2, 7]
    assert_small_png(tmp_path / "two.png")
    y = P.argmax(axis=1)
    shown = np.asarray(plots.plot_mistakes(X, y, P, "none", str(tmp_path / "none.png")))
    assert len(shown) == 0
    assert_small_png(tmp_path / "none.png")


def test_plot_prediction_shows_picture_input_and_probabilities(tmp_path):
    """What the network saw: a grey picture, and one with alpha (on a checkerboard)."""
    rng = np.random.default_rng(5)
    x = rng.integers(0, 256, 784, dtype=np.uint8)
    P = random_probabilities(1, 10, rng)[0]
    grey = rng.random((300, 240)).astype(np.float32)
    plots.plot_prediction(grey, x, P, "a photo", str(tmp_path / "grey.png"))
    assert_small_png(tmp_path / "grey.png")
    with_alpha = np.dstack([np.ones((280, 280)), rng.random((280, 280))]).astype(np.float32)
    plots.plot_prediction(with_alpha, x, P, "a canvas", str(tmp_path / "alpha.png"))
    assert_small_png(tmp_path / "alpha.png")
    # the two pictures differ: the picture is drawn, not a fixed frame
    assert (tmp_path / "grey.png").read_bytes() != (tmp_path / "alpha.png").read_bytes()


def test_plot_prediction_titles_the_picture_with_its_own_size(tmp_path, monkeypatch):
    """read_image shrinks a 4000x3000 photo to 1000x750: the title gives the file's size."""
    figures = []
    monkeypatch.setattr(plots, "_save_figure", lambda fig, path, dpi=110: figures.append(fig))
    rng = np.random.default_rng(6)
    x = rng.integers(0, 256, 784, dtype=np.uint8)
    P = random_probabilities(1, 10, rng)[0]
    shrunk = rng.random((750, 1000)).astype(np.float32)
    plots.plot_prediction(shrunk, x, P, "a photo", str(tmp_path / "p.png"), size=(4000, 3000))
    plots.plot_prediction(shrunk, x, P, "a photo", str(tmp_path / "q.png"))
    assert figures[0].axes[0].get_title() == "the picture (4000x3000)"
    assert figures[1].axes[0].get_title() == "the picture (1000x750)"


def test_a_title_in_a_script_the_font_lacks_draws_without_a_warning(tmp_path):
    """A picture named in Chinese: matplotlib's font has no glyph for it and warns on
    stderr; draw leaves the glyph blank, quietly, and still writes the picture."""
    rng = np.random.default_rng(7)
    x = rng.integers(0, 256, 784, dtype=np.uint8)
    P = random_probabilities(1, 10, rng)[0]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        drawn = plots.draw(str(tmp_path / "p.png"), plots.plot_prediction,
                           rng.random((60, 60)), x, P, "my digit ü 七__7.png, weights w.pkl")
    assert drawn == str(tmp_path / "p.png")
    assert_small_png(tmp_path / "p.png")
    assert [str(w.message) for w in caught] == []


# ----------------------------------------------------------------------------
# inside the network: layers.png, activations.png, weights.png


def records_of(layers, activation, epochs=3, optimiser="momentum"):
    """history["layers"] of a network whose weights drift a little every 'epoch' (no
    training: the pictures need only records of the right shape and plausible values)."""
    rng = np.random.default_rng(5)
    params = utils.init_params(layers, rng, utils.default_init(activation), dtype=np.float64)
    X, y = rng.random((300, layers[0])), rng.integers(0, layers[-1], 300)
    out = [diagnostics.layer_stats(params, X, y, activation, lr=0.05, optimiser=optimiser)]
    for epoch in range(1, epochs + 1):
        before = diagnostics.weights_of(params)
        for layer in params:
            layer["W"] += rng.normal(0, 0.01, layer["W"].shape)
        out.append(diagnostics.layer_stats(params, X, y, activation, before=before,
                                           lr=0.05 / epoch, optimiser=optimiser, epoch=epoch))
    return out, params


@pytest.mark.parametrize(("layers", "activation", "epochs"), [
    ([784, 64, 32, 10], "relu", 3), ([50] + [20] * 6 + [10], "sigmoid", 3),
    ([784, 10], "tanh", 0)],
    ids=["relu", "deep-sigmoid-not-square", "no-hidden-layer-one-record"])
def test_the_pictures_inside_a_network_are_small_pngs(tmp_path, capsys, layers, activation,
                                                      epochs):
    records, params = records_of(layers, activation, epochs)
    written = plots.inside_pictures(str(tmp_path), "test", records, params[0]["W"], activation,
                                    "a subtitle", kept_epoch=epochs)
    names = (["layers.png"] + (["activations.png"] if len(layers) > 2 else [])
             + (["weights.png"] if layers[0] == 784 else []))
    assert written == [str(tmp_path / name) for name in names]
    for name in names:
        assert_small_png(tmp_path / name)
    said = capsys.readouterr().out
    assert ("weights.png not drawn" in said) == (layers[0] != 784), said
    assert ("activations.png not drawn" in said) == (len(layers) == 2), said


def test_the_first_layer_weights_worst_case_stays_small(tmp_path):
    """Untrained (random) weights compress worst: 64 units of 28x28 noise still < 200 KB."""
    W = utils.init_params([784, 256, 10], np.random.default_rng(0))[0]["W"]
    plots.plot_weights(W, "random weights", str(tmp_path / "weights.png"))
    assert_small_png(tmp_path / "weights.png")
    with pytest.raises(ValueError, match="not a square image"):
        plots.plot_weights(W[:700], "700 inputs", str(tmp_path / "no.png"))
    assert not (tmp_path / "no.png").exists()


# ----------------------------------------------------------------------------
# pictures that say what they show (issue 21, item 13)


@pytest.fixture
def figures(monkeypatch):
    """The figures the plot functions draw, kept instead of saved."""
    kept = []
    monkeypatch.setattr(plots, "_save_figure", lambda fig, path, dpi=110: kept.append(fig))
    return kept


def test_the_step_panel_marks_the_schedule_s_end_rather_than_plunging(figures):
    """A cosine schedule ends at a rate near 0, and so does its last epoch's step: the axis
    keeps to the epochs at a tenth of the peak rate or more, and the last is marked."""
    records, _ = records_of([784, 32, 16, 10], "relu", 3)
    for record, lr in zip(records, [0.05, 0.04, 0.02, 1e-9]):
        record["step"] = [v * lr / record["lr"] for v in record["step"]]
        record["lr"] = lr
    plots.plot_layers(records, "t", "layers.png")
    ax_step = figures[0].axes[1]
    assert ax_step.get_ylim()[0] > 1e-5, ax_step.get_ylim()
    legend = [t.get_text() for t in ax_step.get_legend().get_texts()]
    assert any("the schedule's end: 1e-09" in t for t in legend), legend


def test_activations_legends_sit_off_the_data_and_a_dead_layer_is_drawn(figures):
    records, _ = records_of([784, 32, 16, 10], "relu", 2)
    last = records[-1]
    last["hist"][1] = {**last["hist"][1], "counts": [0] * len(last["hist"][1]["counts"]),
                       "zero": 1.0}
    last["dead"][1] = 1.0
    plots.plot_activations(records, "t", "activations.png")
    fig = figures[0]
    fig.canvas.draw()
    dead = fig.axes[1]
    assert "every unit dead" in dead.get_title()
    assert [line.get_xdata()[0] for line in dead.get_lines()] == [0], "no 'after' drawn"
    assert "100% units dead" in dead.get_legend().get_texts()[1].get_text()
    for ax in fig.axes[:2]:
        assert not ax.get_legend().get_window_extent().overlaps(ax.get_window_extent())
    assert "unit of activation" not in fig.axes[0].get_ylabel()  # a unit is a neuron here


@pytest.mark.parametrize("augmented", [True, False])
def test_the_curves_say_when_training_figures_come_from_augmented_batches(figures, augmented):
    history = {"epoch": [1, 2], "train_loss": [0.5, 0.3], "train_acc": [0.9, 0.95],
               "val_loss": [0.4, 0.3], "val_acc": [0.92, 0.96]}
    plots.plot_history(history, "t", "curves.png", augmented=augmented)
    legend = [t.get_text() for t in figures[0].axes[1].get_legend().get_texts()]
    assert legend[0] == ("train (augmented batches)" if augmented else "train"), legend
