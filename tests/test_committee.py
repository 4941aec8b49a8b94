"""committee.py: a committee of one is its network; a committee's probabilities are the mean
of its members'; members that read or answer otherwise are refused in one line."""

import numpy as np
import pytest

import committee
import runs
import utils
from data import InputError


def member(tmp_path, name, layers, seed, batch_norm=False, classes=None, transposed=""):
    """A weights file of a random network, as runs.save_weights writes them: its path."""
    rng = np.random.default_rng(seed)
    params = utils.init_params(layers, rng, batch_norm=batch_norm)
    stats = utils.init_stats(params)
    path = tmp_path / f"{name}.pkl"
    runs.save_weights(str(path), {"layers": layers, "params": params, "stats": stats,
                                  "classes": classes,
                                  "config": {"ACTIVATION": "tanh" if seed % 2 else "relu",
                                             "TRANSPOSED": transposed}})
    return str(path)


@pytest.fixture
def rows():
    return np.random.default_rng(0).integers(0, 256, (50, 784), dtype=np.uint8)


def test_a_committee_of_one_is_that_network(tmp_path, rows):
    path = member(tmp_path, "one", [784, 32, 10], 0)
    saved = runs.load_weights(path)
    Z = utils.predict_logits(saved["params"], rows, "relu", stats=saved["stats"])
    members = committee.load(path)
    np.testing.assert_array_equal(committee.logits(members, rows), Z)
    np.testing.assert_array_equal(committee.probabilities(members, rows), utils.softmax(Z))


def test_a_committees_probabilities_are_the_mean_of_its_members(tmp_path, rows):
    """Three networks of other widths, activations and batch normalisation: the committee's
    probabilities are their mean, and its logits give them back through softmax."""
    paths = [member(tmp_path, "a", [784, 32, 10], 0), member(tmp_path, "b", [784, 16, 16, 10], 1),
             member(tmp_path, "c", [784, 24, 10], 2, batch_norm=True)]
    each = []
    for path in paths:
        saved = runs.load_weights(path)
        Z = utils.predict_logits(saved["params"], rows, saved["config"]["ACTIVATION"],
                                 stats=saved["stats"])
        each.append(utils.softmax(Z.astype(np.float64)))
    members = committee.load(paths)
    P = committee.probabilities(members, rows)
    np.testing.assert_allclose(P, np.mean(each, axis=0), rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(P.sum(axis=1), 1, rtol=1e-5)
    np.testing.assert_allclose(utils.softmax(committee.logits(members, rows)), P, rtol=1e-4,
                               atol=1e-7)
    assert not np.allclose(P, each[0], atol=1e-3)  # the members do differ
    y = P.argmax(axis=1)
    lines = committee.accuracy_lines(members, paths, rows, y)
    assert lines[-1] == "  the committee of 3 (mean probabilities): 100.00%"
    assert [line.split(":")[0].strip() for line in lines[:3]] == paths


def test_members_that_answer_other_classes_are_refused(tmp_path):
    paths = [member(tmp_path, "ten", [784, 8, 10], 0), member(tmp_path, "five", [784, 8, 5], 1)]
    with pytest.raises(InputError, match=r"five\.pkl: its network takes 784 inputs and gives 5"):
        committee.load(paths)
    with pytest.raises(InputError, match="at least one weights file"):
        committee.load([])


def test_members_whose_outputs_mean_other_classes_or_read_the_other_way_up_are_refused(tmp_path):
    """Probabilities are averaged output by output: a member whose k-th output is another
    class (names against numbers, or the same names in another order), or that reads a data
    file turned over its diagonal when the first does not, would give a silently wrong mean
    whose answer depends on the members' order."""
    words = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]
    numbered = member(tmp_path, "numbered", [784, 8, 10], 0)
    named = member(tmp_path, "named", [784, 8, 10], 1, classes=words)
    sorted_names = member(tmp_path, "sorted", [784, 8, 10], 2, classes=sorted(words))
    for paths, culprit in (([numbered, named], "named"), ([named, numbered], "numbered"),
                           ([named, sorted_names], "sorted")):
        with pytest.raises(InputError, match=rf"{culprit}\.pkl: its classes are .*: a "
                                             "committee's members must answer the same classes"):
            committee.load(paths)
    assert len(committee.load([named, member(tmp_path, "named2", [784, 8, 10], 3,
                                             classes=list(words))])) == 2
    turned = member(tmp_path, "turned", [784, 8, 10], 4, transposed="both")
    with pytest.raises(InputError, match=r"turned\.pkl: was trained on test files read turned "
                                         r"over their diagonal \(TRANSPOSED='both'\)"):
        committee.load([numbered, turned])
    assert len(committee.load([numbered, turned], same_way_up=False)) == 2  # --TRANSPOSED given
    train_only = member(tmp_path, "train_only", [784, 8, 10], 5, transposed="train")
    assert len(committee.load([numbered, train_only])) == 2  # test files read alike: upright


def test_pictures_are_never_turned_so_a_committee_may_mix_readings_for_them(tmp_path, capsys):
    """TRANSPOSED says how a data file is read; a picture is read upright by every member, so
    members trained on transposed files join one that was not, for pictures (and a
    --TRANSPOSED given for a picture is said to be ignored)."""
    from PIL import Image, ImageDraw

    import main
    import predict
    import settings

    picture = Image.new("L", (120, 120), 255)
    ImageDraw.Draw(picture).line([(60, 15), (60, 105)], fill=0, width=12)  # a 1
    picture.save(tmp_path / "one.png")
    paths = [member(tmp_path, "upright", [784, 8, 10], 0),
             member(tmp_path, "turned", [784, 8, 10], 2, transposed="both")]
    c = dict(main.DEFAULTS, PREDICT=str(tmp_path / "one.png"), WEIGHTS=paths)
    assert predict.predict(c, settings.SHIPPED, ["--PREDICT=x", "--TRANSPOSED=both"]) == 0
    out, err = capsys.readouterr()
    assert "a committee of 2" in out and "note: TRANSPOSED ignored" in err
    assert predict.predict(c, settings.SHIPPED, []) == 0
