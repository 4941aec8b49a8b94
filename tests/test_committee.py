"""committee.py: a committee of one is its network; a committee's probabilities are the mean
of its members'; members that read or answer otherwise are refused in one line."""

import numpy as np
import pytest

import committee
import runs
import utils
from data import InputError


def member(tmp_path, name, layers, seed, batch_norm=False):
    """A weights file of a random network, as runs.save_weights writes them: its path."""
    rng = np.random.default_rng(seed)
    params = utils.init_params(layers, rng, batch_norm=batch_norm)
    stats = utils.init_stats(params)
    path = tmp_path / f"{name}.pkl"
    runs.save_weights(str(path), {"layers": layers, "params": params, "stats": stats,
                                  "config": {"ACTIVATION": "tanh" if seed % 2 else "relu"}})
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
