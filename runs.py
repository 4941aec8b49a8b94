"""What a run leaves behind: atomic writes, the weights file and its safe loading.

Every file is written whole or not at all (save_atomic), and a weights file
is read back by an unpickler that builds arrays and plain data only, so a
file from someone else cannot run code.
"""

import io
import itertools
import os
import pickle
import tempfile

import numpy as np

from data import InputError


def arch_name(layers):
    """A file-name-safe name of an architecture, e.g. '784-256-10'."""
    return "-".join(str(n) for n in layers)


def save_atomic(path, write):
    """Write a file through write(f) so that it is whole or not there at all.

    The data goes to a temporary file in the same folder, is flushed to disk,
    then os.replace puts it in place in one step: a crash, Ctrl-C or a full
    disk midway leaves any earlier file at `path` as it was.
    """
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=".tmp-", suffix=os.path.basename(path))
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        umask = os.umask(0)  # mkstemp makes the file private; give it the usual mode
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise


def save_weights(path, result):
    """Pickle the result dict (layers, params, config, history, ...) atomically."""
    save_atomic(path, lambda f: pickle.dump(result, f, protocol=pickle.HIGHEST_PROTOCOL))


class _SafeUnpickler(pickle.Unpickler):
    """An unpickler that builds only NumPy arrays, dtypes and builtin data.

    Plain pickle.load imports and calls whatever a file names, so a weights
    file from someone else could run any command. Lists, dicts, tuples,
    strings and numbers need no import; the few NumPy names below are all an
    array needs, and anything else is refused before it runs.
    """

    ALLOWED = frozenset({
        ("numpy", "ndarray"), ("numpy", "dtype"),
        ("numpy._core.multiarray", "_reconstruct"), ("numpy.core.multiarray", "_reconstruct"),
        ("numpy._core.multiarray", "scalar"), ("numpy.core.multiarray", "scalar"),
        ("numpy._core.numeric", "_frombuffer"), ("numpy.core.numeric", "_frombuffer"),
    })

    def find_class(self, module, name):
        if (module, name) in self.ALLOWED:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"refused to load {module}.{name}")


def load_weights(path):
    """Load a weights file written by save_weights, safely, and check its shapes.

    Returns the result dict; its params are checked to be float arrays whose
    shapes match its layers: (W, b) per layer, or (W, gamma, beta) for a
    hidden layer with batch normalisation. Its "stats" (the running
    statistics) are checked to hold a (mean, variance) pair of the layer's
    width for each such layer and None for the others; a file without
    "stats" (written before batch normalisation existed) loads with stats
    None. Raises InputError on anything else.
    """
    try:
        with open(path, "rb") as f:
            data = f.read()
    except FileNotFoundError:
        raise InputError(f"{path}: no such weights file") from None
    except OSError as e:
        raise InputError(f"{path}: cannot be read ({e.strerror})") from None
    try:
        result = _SafeUnpickler(io.BytesIO(data)).load()
    except pickle.UnpicklingError as e:
        raise InputError(f"{path}: not a weights file of this project ({e})") from None
    except (EOFError, ValueError, TypeError, IndexError, KeyError, AttributeError,
            MemoryError) as e:  # truncated or garbled files fail in many ways
        raise InputError(f"{path}: not a readable weights file ({type(e).__name__})") from None
    if not isinstance(result, dict) or "layers" not in result or "params" not in result:
        raise InputError(f"{path}: not a weights file of this project (no layers/params)")
    layers, params = result["layers"], result["params"]
    ok = (isinstance(layers, list) and len(layers) >= 2
          and all(isinstance(n, int) and n >= 1 for n in layers)
          and isinstance(params, list) and len(params) == len(layers) - 1)
    if ok:
        for l, ((n_in, n_out), layer) in enumerate(zip(itertools.pairwise(layers), params)):
            sizes = (2, 3) if l < len(params) - 1 else (2,)  # the output layer has a bias
            ok = (ok and isinstance(layer, (tuple, list)) and len(layer) in sizes
                  and _float_array(layer[0], (n_in, n_out))
                  and all(_float_array(a, (n_out,)) for a in layer[1:]))
    if not ok:
        raise InputError(f"{path}: its params do not match its layers {layers!r}")
    result["params"] = [tuple(layer) for layer in params]
    result["stats"] = _checked_stats(path, result.get("stats"), result["params"])
    return result


def _float_array(a, shape):
    """Whether a is a float ndarray of this shape."""
    return isinstance(a, np.ndarray) and a.dtype.kind == "f" and a.shape == shape


def _checked_stats(path, stats, params):
    """The running statistics of a weights file, checked against its (checked) params.

    None, or one (mean, variance) per layer with batch normalisation, each of
    the layer's width with no variance below 0, and None for every other
    layer. Raises InputError.
    """
    normalised = [len(layer) == 3 for layer in params]
    if stats is None:
        if any(normalised):
            raise InputError(f"{path}: has batch normalisation but no running statistics")
        return None
    ok = isinstance(stats, list) and len(stats) == len(params)
    if ok:
        for norm, layer, running in zip(normalised, params, stats):
            if not norm:
                ok = ok and running is None
                continue
            width = (len(layer[1]),)
            ok = (ok and isinstance(running, (tuple, list)) and len(running) == 2
                  and all(_float_array(a, width) for a in running)
                  and not np.any(running[1] < 0))
    if not ok:
        raise InputError(f"{path}: its running statistics do not match its params")
    return [None if running is None else tuple(running) for running in stats]


def write_predictions(path, labels):
    """Write predicted labels as Kaggle's submission CSV: ImageId,Label, ImageId from 1."""
    lines = ["ImageId,Label"] + [f"{i},{label}" for i, label in enumerate(labels, start=1)]
    save_atomic(path, lambda f: f.write(("\n".join(lines) + "\n").encode()))
