"""A folder of class folders of pictures (torchvision's ImageFolder layout, Keras'
image_dataset_from_directory): read with Pillow into rows of pixels, the class names from
the folder names; and a folder or glob pattern of pictures, for --PREDICT.

    flowers/
        daisy/  001.png  002.jpg ...
        rose/   001.png ...

Every picture is brought to one square size (the most common one among them,
or the size the caller asks for: a network's input) and to grey, or to
colour when any picture has colour. Files Pillow cannot read, hidden files
and empty folders are named in one warning and left out, not fatal.
"""

import collections
import glob
import os
import sys

import numpy as np
from PIL import Image

from errors import InputError

GREY_MODES = {"1", "L", "LA", "I", "I;16", "F"}
PROGRESS_EVERY = 2000  # pictures between two progress lines, for a folder of more than this


def _walk(folder):
    """The files under a folder, sorted, and the hidden ones (a name starting with '.') apart:
    (files, hidden). Hidden folders are not entered."""
    files, hidden = [], []
    for root, dirs, names in os.walk(folder):
        hidden += [os.path.join(root, d) for d in dirs if d.startswith(".")]
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in sorted(names):
            (hidden if name.startswith(".") else files).append(os.path.join(root, name))
    return files, hidden


def _open_picture(path):
    """A picture as uint8 (h, w) grey or (h, w, 3) colour, or None when Pillow cannot read it."""
    try:
        with Image.open(path) as img:
            img.load()
            if img.mode in GREY_MODES:
                return np.asarray(img.convert("L"))
            rgb = np.asarray(img.convert("RGB"))
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError):
        return None
    if (rgb[..., 0] == rgb[..., 1]).all() and (rgb[..., 1] == rgb[..., 2]).all():
        return rgb[..., 0]
    return rgb


def progress(done, total, started_line):
    """One progress line, rewritten in place (a terminal) for a large folder."""
    if total > PROGRESS_EVERY and (done % PROGRESS_EVERY == 0 or done == total):
        live = sys.stdout.isatty()  # a terminal: one line rewritten; a log: a line each
        print(f"{chr(13) if live else ''}{started_line}: {done:,} of {total:,} pictures",
              end="\n" if done == total or not live else "", flush=True)


def read_pictures(paths, where, side=None, colour=None):
    """Read picture files into rows of pixels of one square size.

    paths  -- the files; where -- what to call them in messages (a folder)
    side   -- the size to bring every picture to, or None: the most common
              size among them (its larger side when not square)
    colour -- True/False to force colour or grey, or None: colour when any
              picture has colour
    Returns (X uint8 (n, side * side) or (n, 3 * side * side) channels last,
    the paths read, the paths left out as unreadable, notes: what was done).
    """
    pictures, read, unreadable = [], [], []
    for i, path in enumerate(paths, start=1):
        picture = _open_picture(path)
        if picture is None:
            unreadable.append(path)
        else:
            pictures.append(picture)
            read.append(path)
        progress(i, len(paths), f"reading {where}")
    if not pictures:
        return None, read, unreadable, []
    sizes = collections.Counter(p.shape[:2] for p in pictures)
    notes = []
    if side is None:
        (h, w), _ = sizes.most_common(1)[0]
        side = max(h, w)
        why = "the most common size"
    else:
        why = "the network's input"
    if colour is None:
        colour = any(p.ndim == 3 for p in pictures)
    others = sum(n for (h, w), n in sizes.items() if (h, w) != (side, side))
    if others:
        notes.append(f"{others} of {len(pictures)} pictures resized to {side}x{side} ({why})")
    rows = np.empty((len(pictures), side * side * (3 if colour else 1)), np.uint8)
    for k, picture in enumerate(pictures):
        if picture.ndim == 3 and not colour:
            picture = np.asarray(Image.fromarray(picture).convert("L"))
        elif picture.ndim == 2 and colour:
            picture = np.repeat(picture[..., None], 3, axis=2)
        if picture.shape[:2] != (side, side):
            picture = np.asarray(Image.fromarray(picture).resize((side, side), Image.BILINEAR))
        rows[k] = picture.reshape(-1)
    notes.append(f"{side}x{side} {'colour' if colour else 'grey'}")
    return rows, read, unreadable, notes


def _left_out(where, unreadable, hidden, empty):
    """One warning line naming what was left out of a folder, or nothing."""
    parts = []
    for items, what in ((unreadable, "unreadable file"), (hidden, "hidden file"),
                        (empty, "empty folder")):
        if items:
            shown = ", ".join(os.path.relpath(p, where) for p in items[:3])
            parts.append(f"{len(items)} {what}{'s' * (len(items) > 1)} ({shown}"
                         f"{', ...' if len(items) > 3 else ''})")
    if parts:
        print(f"warning: {where}: left out {'; '.join(parts)}")


def load_folder(folder, report, side=None):
    """Read a folder of class folders of pictures: (X, y).

    Each folder inside `folder` is a class named by the folder's name, and
    every picture under it (at any depth) one of its rows. Returns X uint8
    (n, n_pixels) as read_pictures gives it, and y the class names, str (n,)
    (numbered in alphabetical order by data.class_names), or int64 when every
    class folder is named by a whole number (0/ ... 9/). Raises InputError
    for a folder without class folders or without any readable picture.
    """
    try:
        entries = sorted(os.listdir(folder))
    except OSError as e:
        raise InputError(f"{folder}: cannot be read ({e.strerror})") from None
    classes = [name for name in entries
               if not name.startswith(".") and os.path.isdir(os.path.join(folder, name))]
    hidden = [os.path.join(folder, n) for n in entries if n.startswith(".")]
    loose = [n for n in entries if not n.startswith(".") and n not in classes]
    if not classes:
        raise InputError(f"{folder}: is a folder{' of ' + str(len(loose)) + ' files' if loose else ''}"
                         " without class folders: put each class's pictures in a folder named "
                         "after the class (cats/, dogs/), or give a CSV file")
    paths, labels, empty = [], [], []
    for name in classes:
        files, secret = _walk(os.path.join(folder, name))
        hidden += secret
        if not files:
            empty.append(os.path.join(folder, name))
        paths += files
        labels += [name] * len(files)
    X, read, unreadable, notes = read_pictures(paths, folder, side)
    _left_out(folder, unreadable, hidden, empty)
    if X is None:
        raise InputError(f"{folder}: none of its {len(paths)} files is a picture Pillow can "
                         "read (PNG, JPEG, BMP, GIF, TIFF, WebP, ...)")
    kept = set(read)
    y = np.array([label for path, label in zip(paths, labels) if path in kept])
    if all(name.isdecimal() and name.isascii() for name in set(y.tolist())):
        y = y.astype(np.int64)  # folders 0, 1, ..., 9: the labels are those numbers
        notes.append("class folders named by number: read as those labels")
    report(f"{folder}: a folder of {len(set(y.tolist()))} class folders, {len(X)} pictures; "
           + "; ".join(notes))
    if loose:
        print(f"warning: {folder}: {len(loose)} file(s) beside the class folders left out "
              f"({', '.join(loose[:3])}): only pictures inside a class folder are read")
    return X, y


def pictures_of(pattern):
    """The picture files a --PREDICT value names: every file of a folder (hidden ones left
    out, sub-folders included), or the files a glob pattern matches, sorted. Raises
    InputError when there are none."""
    if os.path.isdir(pattern):
        files, _ = _walk(pattern)
    else:
        files = sorted(p for p in glob.glob(pattern, recursive=True) if os.path.isfile(p))
    if not files:
        raise InputError(f"{pattern}: {'the folder is empty' if os.path.isdir(pattern) else 'no file matches'}"
                         ": name a folder of pictures or a pattern such as 'digits/*.png'")
    return files
