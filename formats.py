"""The forms image datasets are published in, read into the arrays a CSV gives: MNIST's own
IDX files (plain or gzipped), NumPy's .npz archives, and CSVs (csvfiles.py).

load_images is the one reader the rest of the project calls: it tells the form
from the file's name and first bytes, reads it with NumPy's own readers
(np.frombuffer for IDX, np.load with allow_pickle=False for .npz) and returns
what load_csv returns: pixels uint8 (n, n_pixels) and labels (n,), int64 or,
for labels given as names, str. One line through `report` says how the file
was read when it is not a standard CSV.
"""

import gzip
import os
import re
import zipfile
import zlib

import numpy as np

import csvfiles
import images
from errors import InputError, no_such_file

# ----------------------------------------------------------------------------
# IDX (LeCun et al.'s format for MNIST: yann.lecun.com/exdb/mnist/)
#
# Two zero bytes, a byte for the type of the values, a byte for the number of
# dimensions; then each dimension as a big-endian 32-bit integer; then the
# values, big-endian, in row-major order.

IDX_TYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def _read_bytes(path):
    """The bytes of a file, gunzipped when it is gzip (by its first bytes). Raises InputError."""
    try:
        with open(path, "rb") as f:
            raw = f.read()
        return gzip.decompress(raw) if raw[:2] == b"\x1f\x8b" else raw
    except (OSError, EOFError, zlib.error) as e:
        raise InputError(f"{path}: cannot be read ({getattr(e, 'strerror', None) or e})") from None


def _idx_header(head):
    """The (type, dims) an IDX header at the start of head says, or None if it is not one."""
    if len(head) < 4 or head[:2] != b"\x00\x00" or head[2] not in IDX_TYPES or not 1 <= head[3] <= 4:
        return None
    ndim = head[3]
    if len(head) < 4 + 4 * ndim:
        return None
    return IDX_TYPES[head[2]], tuple(int(d) for d in np.frombuffer(head[4:4 + 4 * ndim], ">u4"))


def is_idx(path):
    """Whether a file (plain or gzipped) starts with an IDX header."""
    try:
        with open(path, "rb") as f:
            head = f.read(2)
        with (gzip.open(path, "rb") if head == b"\x1f\x8b" else open(path, "rb")) as f:
            return _idx_header(f.read(20)) is not None
    except (OSError, EOFError, zlib.error):
        return False


def read_idx(path):
    """Read an IDX file (plain or gzipped) into an array of its own dtype and shape.

    Returns an ndarray (native byte order) of the header's shape, e.g. uint8
    (60000, 28, 28) for MNIST's images, (60000,) for its labels. Raises
    InputError for a file that is not IDX or is cut short.
    """
    raw = _read_bytes(path)
    header = _idx_header(raw[:20])
    if header is None:
        raise InputError(f"{path}: is not an IDX file (it does not start with IDX's 0 0 type "
                         "dims bytes): is it damaged, or another kind of file with an IDX name?")
    dtype, dims = header
    start, count = 4 + 4 * len(dims), int(np.prod(dims))
    size = np.dtype(dtype).itemsize * count
    if len(raw) - start != size:
        raise InputError(f"{path}: holds {len(raw) - start} bytes of values, its IDX header "
                         f"({' x '.join(map(str, dims))} of {np.dtype(dtype).name}) says {size}: "
                         "cut short or damaged; download it again")
    return np.frombuffer(raw, dtype, count, offset=start).reshape(dims).astype(
        np.dtype(dtype).newbyteorder("="), copy=False)


def idx_labels_beside(path):
    """The labels file that goes with an IDX images file by the standard names, or None.

    MNIST's train-images-idx3-ubyte[.gz] goes with train-labels-idx1-ubyte[.gz]
    (t10k- likewise, EMNIST's emnist-letters-train-... too, and the
    train-images.idx3-ubyte spelling): "images" becomes "labels" and "idx3"
    "idx1"; the labels may be gzipped or not whatever the images are.
    """
    folder, name = os.path.split(path)
    stem = name[:-3] if name.lower().endswith(".gz") else name
    if "images" not in stem or "idx3" not in stem:
        return None
    wanted = stem.replace("images", "labels").replace("idx3", "idx1")
    for candidate in (wanted, wanted + ".gz"):
        if os.path.isfile(os.path.join(folder, candidate)):
            return os.path.join(folder, candidate)
    return os.path.join(folder, wanted + (".gz" if name.lower().endswith(".gz") else ""))


def load_idx(path, labels, report):
    """Read IDX images and their labels. labels -- the labels file, or "" to find it beside
    the images (idx_labels_beside). Returns (X uint8 (n, n_pixels), y (n,)). Raises InputError."""
    A = read_idx(path)
    if A.ndim not in (3, 4):
        raise InputError(f"{path}: an IDX file of {A.ndim} dimension(s) "
                         f"({' x '.join(map(str, A.shape))}), not images: images are n x "
                         "rows x columns (idx3); is this the labels file?")
    said = "named" if labels else "beside it"
    labels = labels or idx_labels_beside(path)
    if labels is None:
        raise InputError(f"{path}: IDX images without a labels file: name it with "
                         "TRAIN_LABELS=/TEST_LABELS= (its standard name is the images' with "
                         "'labels' and 'idx1' for 'images' and 'idx3')")
    if not os.path.exists(labels):
        raise InputError(f"{path}: its labels file {labels} does not exist: put it beside the "
                         "images or name it with TRAIN_LABELS=/TEST_LABELS=")
    y = read_idx(labels)
    if y.ndim != 1:
        raise InputError(f"{labels}: an IDX file of {' x '.join(map(str, y.shape))}, not labels "
                         "(n values, idx1): is this the images file?")
    if len(y) != len(A):
        raise InputError(f"{labels}: holds {len(y)} labels, {path} {len(A)} images: not the "
                         "labels of these images; name the right file with TRAIN_LABELS= or "
                         "TEST_LABELS=")
    notes = []
    X = images.flat_pixels(A, path, notes)
    report(f"{path}: IDX images, {len(X)} of {images.describe(X.shape[1])}, "
           f"labels from {labels} ({said})" + "".join(f"; {n}" for n in notes))
    return X, _labels(y, labels)


# ----------------------------------------------------------------------------
# .npz (NumPy's archive of arrays, as Keras' mnist.npz is)

NPZ_NAMES = {"train": (("x_train", "y_train"), ("x", "y")),
             "test": (("x_test", "y_test"), ("x", "y"))}


def is_npz(path):
    """Whether a file is a NumPy .npz archive: a zip of .npy members (or named .npz)."""
    if path.lower().endswith(".npz"):
        return True
    try:
        with zipfile.ZipFile(path) as archive:
            names = archive.namelist()
        return bool(names) and all(n.endswith(".npy") for n in names)
    except (OSError, zipfile.BadZipFile):
        return False


def load_npz(path, role, report):
    """Read the images and labels of an .npz archive for a role ("train" or "test").

    The training file's arrays are x_train and y_train, the test file's x_test
    and y_test (Keras' names), either falling back to a single x and y.
    Images may be (n, side, side), (n, n_pixels), or colour with the channels
    last or first; labels (n,) numbers or names; no y: no labels. Read with
    np.load(allow_pickle=False): an archive cannot run code. Returns
    (X uint8 (n, n_pixels), y or None). Raises InputError.
    """
    try:
        with np.load(path, allow_pickle=False) as archive:
            names = list(archive.files)
            x_name, y_name = next(((x, y) for x, y in NPZ_NAMES[role] if x in names),
                                  (None, None))
            if x_name is None:
                wanted = " or ".join(f"{x}/{y}" for x, y in NPZ_NAMES[role])
                raise InputError(f"{path}: holds arrays {', '.join(names) or 'none'}; the "
                                 f"{role}ing images are read from {wanted}: rename them")
            A = archive[x_name]
            y = archive[y_name] if y_name in names else None
    except (OSError, ValueError, zipfile.BadZipFile, EOFError, zlib.error) as e:
        why = " ".join(str(e).split())[:100]
        if "allow_pickle" in why or "Object arrays" in why:
            why = "it holds Python objects (pickled), which are not read: save plain arrays"
        raise InputError(f"{path}: cannot be read as an .npz archive ({why})") from None
    if A.ndim < 2:
        raise InputError(f"{path}: {x_name} has shape {A.shape}, not images: save it as (n, side, "
                         "side), (n, side, side, 3) or (n, pixels)")
    if y is not None and (y.ndim != 1 or len(y) != len(A)):
        raise InputError(f"{path}: {y_name} has shape {y.shape}, {x_name} {A.shape}: save one "
                         f"label per image, {y_name} of shape ({len(A)},)")
    notes = []
    X = images.flat_pixels(A, path, notes)
    report(f"{path}: .npz archive, {x_name} ({len(X)} of {images.describe(X.shape[1])})"
           + (f" and {y_name}" if y is not None else ", no labels")
           + "".join(f"; {n}" for n in notes))
    return X, None if y is None else _labels(y, f"{path}: {y_name}")


def _labels(y, where):
    """Labels as read: whole numbers as int64, names (text) as str. Raises InputError."""
    if y.dtype.kind in "US":
        return np.char.strip(y.astype(str))
    if y.dtype.kind == "b" or y.dtype.kind not in "iuf":
        raise InputError(f"{where}: labels of type {y.dtype}: save them as whole numbers or as "
                         "text (class names)")
    bad = np.flatnonzero(~np.isfinite(y) | (y != np.round(y)) | (y < 0)) if y.dtype.kind == "f" \
        else np.flatnonzero(y < 0)
    if len(bad):
        raise InputError(f"{where}: label {y[bad[0]]!r} (row {bad[0] + 1}) is not a whole "
                         "number >= 0")
    return y.astype(np.int64)


# ----------------------------------------------------------------------------
# the one entry point


def form_of(path):
    """The form a path holds: "folder", "npz", "idx" or "csv" (any CSV layout). Raises
    InputError for a path that does not exist."""
    if not os.path.exists(path):
        raise no_such_file(path)
    if os.path.isdir(path):
        return "folder"
    if is_npz(path):
        return "npz"
    if re.search(r"[-.]idx\d-ubyte", os.path.basename(path).lower()) or is_idx(path):
        return "idx"
    return "csv"


def load_images(path, label_max=255, label_note="", report=print, role="train", labels=""):
    """Load a file of images in any form this project reads: (X, y).

    path      -- a CSV (any layout load_csv reads), IDX images (plain or .gz),
                 an .npz archive, or a folder of class folders of pictures
    label_max -- the largest numeric label a CSV may hold (checked there as it
                 is read; other forms are checked by the caller, data.load_data)
    role      -- "train" or "test": which arrays of an .npz are read
    labels    -- the labels file of IDX images, "" to find it beside them
    report    -- called with the line that says how the file was read
    Returns X uint8 (n, n_pixels) and y (n,): int64, str for names, or None.
    Raises InputError.
    """
    form = form_of(path)
    if form == "idx":
        return load_idx(path, labels, report)
    if labels:
        raise InputError(f"{labels}: a labels file is only for IDX images, and {path} is not "
                         "one: drop TRAIN_LABELS/TEST_LABELS")
    if form == "npz":
        return load_npz(path, role, report)
    if form == "folder":
        import folders  # Pillow is imported only for a folder of pictures
        return folders.load_folder(path, report)
    notes, said = [], []
    X, y = csvfiles.load_csv(path, label_max, label_note, said.append)
    if (images.shape_of(X.shape[1]) or (0, 1))[1] == 3:
        X = images.channels_last(X, notes)
    if said or notes:
        report("; ".join([*said, *notes]) if said else f"{path}: " + "; ".join(notes))
    return X, y
