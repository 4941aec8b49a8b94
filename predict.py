"""--PREDICT: classify your own digit, or every row of a CSV, with the weights of a run.

A picture goes through digit.prepare_digit, which makes it look like an
MNIST digit (cropped, centred by its mass, scaled to 20 pixels in a 28-pixel
square, as the MNIST digits were); a CSV is read like the training data.
Data files of other forms (IDX, .npz), colour pictures, and folders or glob
patterns of pictures are read by predict_inputs.py; classes are shown by the
names the weights keep (their "classes").
"""

import os
import sys

import numpy as np

import committee
import data
import digit
import plots
import predict_inputs
import runs
import settings
import stopping
import utils


def resume_hint(path):
    """What to do with the weights of a stopped run at path: --RESUME continues it when its
    checkpoint is beside them; otherwise (it stopped before its first epoch ended, or the
    weights were copied) its command run again trains it anew, as main.py does."""
    if runs.has_checkpoint(os.path.dirname(path)):
        return "--RESUME continues its run"
    return ("no checkpoint beside them to resume from: run its command again without "
            "--RESUME to train it anew (a run that finishes replaces these weights)")


def predict(c, defaults, argv=()):
    """Classify an image of one digit, or every row of a CSV, with saved weights.

    c -- the settings (PREDICT the file, WEIGHTS the weights file or "" for
    those of the run of these settings, or a list of weights files: a
    committee, whose mean probabilities answer, committee.py); defaults -- main.py's constants,
    which name that run's folder; argv -- the command line, to say how to
    train the weights when there are none. Prints the answer, writes the
    predictions file or the picture of what the network saw beside the
    weights, and returns the exit status (4 when an output could not be
    written where asked). Raises data.InputError for bad input.
    """
    weights = runs.find_weights(c, defaults)
    paths = weights if isinstance(weights, list) else [weights]
    for weights in paths:  # a run's folder with a checkpoint and no weights yet: say so
        if runs.has_checkpoint(os.path.dirname(weights)) and not os.path.exists(weights):
            raise data.InputError(f"{weights}: no weights yet: the run of this folder is still "
                                  "training, or was stopped before its first save (--RESUME "
                                  "with its settings continues it)")
    for weights in paths if c["WEIGHTS"] else ():
        if not os.path.exists(weights):
            raise data.no_such_file(weights, "weights file")
    weights = paths[0]
    if len({os.path.abspath(p) for p in paths}) < len(paths):
        print("note: a weights file is listed twice in WEIGHTS: it counts twice in the "
              "committee's mean", file=sys.stderr)
    if not os.path.exists(weights):
        recipe = [a for a in argv if not a.startswith("--")]  # the recipe files given
        command = (" ".join(["python main.py", *recipe, *(a for a in argv if a.startswith("--")
                             and not a.startswith(("--PREDICT", "--WEIGHTS")))])
                   if recipe else settings.command(c, defaults))
        raise data.InputError(f"{weights}: no such weights file; train it first with: {command}")
    # a TRANSPOSED given on the command line says how to read a data file; else the weights do
    given = any(a.startswith("--TRANSPOSED=") for a in argv)
    transposed = c["TRANSPOSED"] if given else None
    rows = predict_inputs.is_data_file(c["PREDICT"]) and not predict_inputs.is_many(c["PREDICT"])
    if given and not rows:
        print(f"note: TRANSPOSED ignored: {c['PREDICT']} is read as pictures, which are "
              "never turned", file=sys.stderr)
    # pictures are never turned: only a data file must be read alike by every member
    members = committee.load(paths, same_way_up=rows and transposed is None)
    saved, label = members[0], committee.label(paths)
    activation = saved["config"].get("ACTIVATION", "relu")
    network = {"LAYERS": saved["layers"], "ACTIVATION": activation,
               "BATCH_NORM": saved["config"].get("BATCH_NORM", False)}
    for member, member_path in zip(members, paths):  # weights that did not finish: say so
        if member.get("status", "finished") == "finished" and \
                runs.has_checkpoint(os.path.dirname(member_path)):
            print(f"warning: {member_path}: its run was stopped while writing its results (its "
                  "checkpoint is still beside it): --RESUME with its settings finishes it",
                  file=sys.stderr)
        if member.get("status", "finished") != "finished":
            epochs = member.get("best_epoch") or 0
            print(f"warning: {member_path}: the weights of a run {member['status']} after {epochs} "
                  f"epoch{'s' * (epochs != 1)}"
                  + (f" (test accuracy {member['test_accuracy']:.2%})"
                     if member.get("test_accuracy") is not None else "")
                  + (f"; {resume_hint(member_path)}" if member["status"] == "stopped" else ""),
                  file=sys.stderr)
    for key, value in network.items():  # the file defines the network, not the settings
        if c["WEIGHTS"] and c[key] != defaults[key] and c[key] != value:
            print(f"note: {key}={c[key]!r} ignored: {weights} holds a network "
                  f"with {key}={value!r}", file=sys.stderr)
    folder, path = os.path.dirname(weights), c["PREDICT"]
    if predict_inputs.is_many(path):  # a folder or a pattern of pictures
        return predict_inputs.predict_many(path, saved, weights,
                                           lambda X: committee.probabilities(members, X),
                                           committee.suffix(paths))
    classes = saved.get("classes")
    name = os.path.basename(path)
    packed = name.lower().endswith((".gz", ".bz2", ".xz", ".zip"))
    stem, ext = os.path.splitext(os.path.splitext(name)[0] if packed else name)
    if ext.lower() != ".csv":  # paper7.jpg and paper7.png get outputs of their own
        stem = f"{stem}-{ext.lstrip('.').lower()}"
    stem += committee.suffix(paths)  # a committee's outputs beside, not over, its first's
    if rows:  # a data file (CSV, IDX, .npz), not pictures
        X, y = predict_inputs.rows_to_predict(path, saved, transposed)
        kind, phrase = data.looks_unlike_mnist(X)
        if kind:
            print(f"warning: {path}: {phrase}: a network trained on MNIST reads it poorly",
                  file=sys.stderr)
        Z = committee.logits(members, X)
        turned = transposed in ("test", "both")
        if transposed is not None and turned != committee.reads_transposed(saved):
            stem += "-transposed" if turned else "-upright"  # not the weights' own reading's
        stem = runs.prediction_name(folder, path, stem)  # never another input's outputs
        ids = data.row_ids(path) if data.formats.form_of(path) == "csv" else None
        with stopping.finishing("writing the predictions and their pictures first"):
            written = [wanted := os.path.join(folder, f"predictions-{stem}.csv")]
            written[0], failed = runs.save_or_spare(
                wanted, lambda p: runs.write_predictions(p, Z.argmax(axis=1), ids, classes))
            if failed:
                print(f"warning: could not write {wanted} ({failed.strerror}); the predictions "
                      f"are in {written[0]}", file=sys.stderr)
            if y is not None:
                print(f"accuracy on {path}: {utils.accuracy(Z, y):.2%}")
                if len(members) > 1:
                    print("\n".join(committee.accuracy_lines(members, paths, X, y)))
                written += plots.test_pictures(folder, f"-{stem}", f"{stem} (weights {label})",
                                               X, y, Z, classes)
            print(f"predictions for {len(X)} row{'s' * (len(X) != 1)} written; wrote "
                  + ", ".join(p for p in written if p))
        return 4 if failed else 0
    image, x = predict_inputs.picture_input(path, saved["layers"][0], weights)
    P = committee.probabilities(members, x[None, :])[0]
    print(f"{path} (weights {label}):")
    for k in np.argsort(-P, kind="stable")[:3]:
        print(f"  {data.images.class_name(classes, k)}: {P[k]:.1%}")
    stem = runs.prediction_name(folder, path, stem)
    shown = os.path.join(os.path.basename(os.path.dirname(os.path.abspath(weights))),
                         os.path.basename(weights))  # the run's folder and the file
    shown = shown if len(paths) == 1 else f"{shown} and {len(paths) - 1} more"
    picture = plots.draw(os.path.join(folder, f"predicted-{stem}.png"), plots.plot_prediction,
                         image, x, P, f"{name}, weights {shown}", size=digit.picture_size(path),
                         classes=classes)
    if picture:
        print(f"what the network saw: {picture}")
    return 0
