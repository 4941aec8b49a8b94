"""A committee of trained networks: the mean of their class probabilities.

Ciresan, Meier, Gambardella and Schmidhuber (2011, "Convolutional neural
network committees for handwritten character classification") average the
outputs of networks trained alike but from other seeds (or on other
distortions): their errors differ, so the average errs less than any one.
Here each member is a weights file as runs.save_weights writes it; the
members may differ in anything but what they read and answer (the number of
inputs and of classes). --PREDICT with several WEIGHTS uses it.
"""

import os
import zlib

import numpy as np

import runs
import utils
from data import InputError


def load(paths, same_way_up=True):
    """Load each weights file of a committee: a list of runs.load_weights' dicts.

    paths -- one path or a list of them (a committee of one is that network).
    same_way_up -- refuse members whose test files were read the other way
    up (TRANSPOSED); False when the command line says how to read the file.
    Raises InputError (one line, naming the file) for an unreadable file, an
    empty list, or a member that takes other inputs, answers other classes
    (or the same in another order) or, with same_way_up, reads a data file
    the other way up than the first.
    """
    paths = [paths] if isinstance(paths, str) else list(paths)
    if not paths:
        raise InputError("WEIGHTS = []: a committee needs at least one weights file")
    members = [runs.load_weights(path) for path in paths]
    first = members[0]["layers"]
    for path, member in zip(paths[1:], members[1:]):
        layers = member["layers"]
        if (layers[0], layers[-1]) != (first[0], first[-1]):
            raise InputError(f"{path}: its network takes {layers[0]} inputs and gives "
                             f"{layers[-1]} classes; {paths[0]}'s takes {first[0]} and gives "
                             f"{first[-1]}: a committee's members must read and answer alike")
        # the probabilities are averaged class by class: the k-th output must be the same
        # class in every member, and every member must read a data file the same way up
        if classes_of(member) != classes_of(members[0]):
            raise InputError(f"{path}: its classes are {_shown(classes_of(member))}; "
                             f"{paths[0]}'s are {_shown(classes_of(members[0]))}: a "
                             "committee's members must answer the same classes")
        if same_way_up and reads_transposed(member) != reads_transposed(members[0]):
            turned = {True: "turned over their diagonal", False: "upright"}
            raise InputError(f"{path}: was trained on test files read "
                             f"{turned[reads_transposed(member)]} (TRANSPOSED="
                             f"{member['config'].get('TRANSPOSED', '')!r}); {paths[0]} on "
                             f"{turned[reads_transposed(members[0])]}: a committee's members "
                             "must read a file the same way up (or say how to read it: "
                             "--TRANSPOSED=test, or --TRANSPOSED=\"\")")
    return members


def classes_of(member):
    """A member's classes in output order: its saved names, or 0..k-1 when it has none."""
    names = member.get("classes")
    return list(names) if names else [str(k) for k in range(member["layers"][-1])]


def reads_transposed(member):
    """Whether a member's data files are read turned over their diagonal (TRANSPOSED test, both)."""
    return member["config"].get("TRANSPOSED") in ("test", "both")


def _shown(classes):
    """A list of classes, shortened for a message: 'zero, one, two, ...'."""
    return ", ".join(classes[:4]) + (", ..." if len(classes) > 4 else "")


def label(paths):
    """How the answers name their weights: the file, or "a committee of N: a, b, ..."."""
    return paths[0] if len(paths) == 1 else f"a committee of {len(paths)}: {', '.join(paths)}"


def suffix(paths):
    """What a committee adds to its outputs' names: "" for one network, else
    "-committee<N>-<8 hex digits>", the CRC-32 of its members' absolute paths, so that
    neither the first member's own outputs nor another committee's are replaced."""
    if len(paths) == 1:
        return ""
    crc = zlib.crc32("\n".join(os.path.abspath(p) for p in paths).encode())
    return f"-committee{len(paths)}-{crc:08x}"


def member_probabilities(member, X):
    """One member's class probabilities of the rows X: float32 (n, classes).

    member -- a dict of runs.load_weights; X -- uint8 pixels (n, inputs).
    """
    activation = member["config"].get("ACTIVATION", "relu")
    Z = utils.predict_logits(member["params"], X, activation, stats=member["stats"])
    return utils.softmax(Z)


def probabilities(members, X):
    """The committee's class probabilities: the mean of its members', float32 (n, classes).

    Each member's softmax outputs weigh alike (Ciresan et al. 2011); a
    committee of one gives exactly that network's probabilities.
    """
    total = member_probabilities(members[0], X)
    for member in members[1:]:
        total += member_probabilities(member, X)
    return total / np.float32(len(members)) if len(members) > 1 else total


def logits(members, X):
    """Logits whose softmax is the committee's probabilities: float32 (n, classes).

    For code written for one network's logits (argmax, the accuracy, the
    pictures of mistakes): one member's own logits; several members' the
    log of their mean probabilities (softmax(log p) = p; a probability of 0
    becomes float32's smallest normal number, so the log stays finite).
    """
    if len(members) == 1:
        member = members[0]
        return utils.predict_logits(member["params"], X,
                                    member["config"].get("ACTIVATION", "relu"),
                                    stats=member["stats"])
    return np.log(np.maximum(probabilities(members, X), np.finfo(np.float32).tiny))


def accuracy_lines(members, paths, X, y):
    """One line per member with its accuracy on (X, y), then the committee's: a list of str.

    The members' accuracies beside the committee's show what the average buys.
    """
    P = [member_probabilities(member, X) for member in members]
    lines = [f"  {path}: {utils.accuracy(p, y):.2%}" for path, p in zip(paths, P)]
    mean = sum(P) / np.float32(len(P))
    lines.append(f"  the committee of {len(P)} (mean probabilities): "
                 f"{utils.accuracy(mean, y):.2%}")
    return lines
