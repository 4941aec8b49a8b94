"""A picture of one digit, prepared the way MNIST's digits were made.

Used by `python main.py --PREDICT=picture.png` to classify a digit drawn or
photographed by the user. read_image reads the file with Pillow, upright
(as its EXIF orientation says) and as grey levels, keeping the alpha
channel where it varies (a drawing on a transparent canvas). prepare_digit
then finds the ink, whatever its polarity, shading or noise, crops to the
digit and makes a 28x28 row like MNIST's.
"""

import math
import os
import warnings

import numpy as np
from scipy import ndimage

from data import InputError, no_such_file

MAX_SIDE = 1024  # larger pictures are shrunk (by averaging) to at most this many pixels a side
ALPHA_RANGE = 0.2  # alpha varying by more than this is the ink (a transparent canvas)
# The share of the 28x28 pixels above 127 in MNIST's 60,000 training digits runs
# from 1.9% to 39.8% (99.98% of them lie within 2.8%..34.6%); outside these
# bounds no MNIST digit looks like what the network is shown.
INK_SHARE = (0.015, 0.45)
# The share of a prepared digit's ink that is more than 3 pixels from its edge:
# at most 37% in all 60,000 MNIST training digits (0.2% of them above 19%); a
# filled disc is 51%.
THICK = 0.40
# The spread of the background left around a digit's strokes (robust, in 0..1 of the
# ink's range) above which a picture with no digit is called noise rather than blank:
# a photo of an empty page spreads by about 0.005, uniform static by about 0.08.
NOISE = 0.03
# A mark smaller than this many pixels each way in the picture is too small to
# read a digit from: scaled up to 20x20, it is a smudge.
SMALLEST = 10
# Grey levels with less contrast than this share of the most contrasted colour
# channel's hide a mark the colours show (red ink on green paper of the same
# brightness): the channel is read instead.
COLOUR_CONTRAST = 0.25


# ----------------------------------------------------------------------------
# reading a picture


def _grey_and_alpha(img):
    """A Pillow image as float32 grey levels 0..1, and its alpha 0..1 (or None).

    Every mode Pillow opens is handled: 1, L, P (with or without a
    transparent colour), RGB, RGBA, LA, PA, CMYK, YCbCr, HSV, LAB, and 16-
    and 32-bit grey (I;16, I, F), which Pillow's own conversion to L would
    clip at 255. 16- and 32-bit integers are stretched to their own range:
    a camera's or scanner's 10 or 12 bits in a 16-bit file fill a sixteenth
    or less of it. Colour is read as grey levels (ITU-R 601 luma), or as the
    colour channel with the most contrast when the grey levels have little
    (_most_contrast). Pictures larger than MAX_SIDE are shrunk by averaging
    blocks.
    """
    mode = img.mode
    factor = math.ceil(max(img.size) / MAX_SIDE)
    alpha = None
    if mode == "F":  # floats hold whatever range was saved: the smallest of 1, 255, top that fits
        grey = np.asarray(img, dtype=np.float32)
        top = float(grey.max(initial=0))
        full = next(f for f in (1, 255, max(top, 1)) if top <= f)
        grey = _shrink(np.clip(grey / full, 0, 1), factor)
    elif mode == "I" or mode.startswith("I;16"):  # integers: stretched to their own range
        grey = np.asarray(img, dtype=np.float64 if mode == "I" else np.float32)
        lo, hi = (float(grey.min()), float(grey.max())) if grey.size else (0.0, 0.0)
        grey = _shrink((grey - lo) / (hi - lo) if hi > lo else np.zeros_like(grey), factor)
        grey = grey.astype(np.float32)
    elif mode in ("La", "RGBa"):  # premultiplied alpha: the alpha alone
        a = np.asarray(img, dtype=np.float32) / 255
        grey, alpha = _shrink(a[..., :-1].mean(axis=2), factor), _shrink(a[..., -1], factor)
    elif "A" in img.getbands() or "transparency" in img.info:
        rgba = img.convert("RGBA")
        if factor > 1:
            rgba = rgba.reduce(factor)
        a = np.asarray(rgba, dtype=np.float32) / 255
        grey = _most_contrast(a[..., :3] @ np.array([0.299, 0.587, 0.114], dtype=np.float32),
                              a[..., :3])  # ITU-R 601 luma
        alpha = a[..., 3]
    else:
        grey_img = img.getchannel(0) if mode == "LAB" else img.convert("L")
        if factor > 1:
            grey_img = grey_img.reduce(factor)
        grey = np.asarray(grey_img, dtype=np.float32) / 255
        if mode not in ("1", "L", "LAB"):  # colour: the grey levels may hide what it shows
            rgb = img if mode == "RGB" else img.convert("RGB")  # (no copy of a big photo)
            rgb = rgb.reduce(factor) if factor > 1 else rgb
            grey = _most_contrast(grey, np.asarray(rgb, dtype=np.float32) / 255)
    if alpha is not None and float(alpha.max() - alpha.min()) <= ALPHA_RANGE:
        grey = grey * alpha + (1 - alpha) if alpha.min() < 1 else grey  # on white, as viewers show it
        alpha = None
    return grey, alpha


def _most_contrast(grey, rgb):
    """The grey levels, or the colour channel with the most contrast when they have little.

    Red ink on green paper of the same brightness has the paper's grey
    level, yet the red channel shows it clearly (light on dark, which
    find_ink takes either way round). Contrast is the range of a channel
    once lightly blurred (3x3, so one odd pixel does not count); the
    channel is used when the grey levels' is below COLOUR_CONTRAST of the
    best channel's. grey: (h, w) floats 0..1; rgb: (h, w, 3) floats 0..1.
    Returns (h, w), grey's dtype.
    """
    def spread(a):
        smooth = _box_blur(a, 1)
        return float(smooth.max() - smooth.min()) if smooth.size else 0.0

    spreads = [spread(rgb[..., c]) for c in range(3)]
    best = int(np.argmax(spreads))
    if spread(grey) < COLOUR_CONTRAST * spreads[best]:
        return rgb[..., best].astype(grey.dtype)
    return grey


def _shrink(a, factor):
    """Average factor x factor blocks of a 2-D array (the ragged edge is dropped)."""
    if factor <= 1:
        return a
    h, w = a.shape[0] // factor * factor, a.shape[1] // factor * factor
    return a[:h, :w].reshape(h // factor, factor, w // factor, factor).mean(axis=(1, 3))


def _turn(img):
    """The Pillow transpose that shows img upright, as its EXIF orientation says, or None.

    From the EXIF standard, as Pillow's ImageOps.exif_transpose reads it: 6
    means a viewer turns the stored picture 90 degrees clockwise, 8
    counter-clockwise, 3 by 180; 2 and 4 mirror it; 5 and 7 mirror it
    across a diagonal. A broken EXIF block counts as no orientation.
    """
    from PIL import Image

    T = Image.Transpose
    try:
        return {2: T.FLIP_LEFT_RIGHT, 3: T.ROTATE_180, 4: T.FLIP_TOP_BOTTOM, 5: T.TRANSPOSE,
                6: T.ROTATE_270, 7: T.TRANSVERSE, 8: T.ROTATE_90}.get(
                    img.getexif().get(0x0112, 1))
    except Exception:  # noqa: BLE001 -- a broken EXIF block: the picture as stored
        return None


def _box_turned(box, turn, size):
    """Where box (left, top, right, bottom) of a picture of size (w, h) lands once turned."""
    from PIL import Image

    T = Image.Transpose
    (left, top, right, bottom), (w, h) = box, size
    return {None: box, T.FLIP_LEFT_RIGHT: (w - right, top, w - left, bottom),
            T.FLIP_TOP_BOTTOM: (left, h - bottom, right, h - top),
            T.ROTATE_180: (w - right, h - bottom, w - left, h - top),
            T.TRANSPOSE: (top, left, bottom, right),
            T.ROTATE_90: (top, w - right, bottom, w - left),  # counter-clockwise
            T.ROTATE_270: (h - bottom, left, h - top, right),  # clockwise
            T.TRANSVERSE: (h - bottom, w - right, h - top, w - left)}[turn]


def picture_size(path):
    """The (width, height) of the picture in a file, upright, in its own pixels.

    What a viewer shows: the width and height swapped when the EXIF
    orientation turns it a quarter; not shrunk (read_image shrinks large
    pictures to at most MAX_SIDE a side). Raises InputError (one line) for
    a file Pillow cannot open.
    """
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as img:
            w, h = img.size
            turn = _turn(img)
    except (OSError, UnidentifiedImageError, ValueError) as e:
        raise InputError(f"{path}: cannot be read as a picture ({type(e).__name__})") from None
    T = Image.Transpose
    return (h, w) if turn in (T.TRANSPOSE, T.TRANSVERSE, T.ROTATE_90, T.ROTATE_270) else (w, h)


def read_image(path, crop=None):
    """Read a picture of one digit with Pillow, upright, as grey levels (and alpha).

    The picture is turned as its EXIF orientation says (phones store photos
    sideways and tag them; every viewer shows them upright), converted from
    whatever mode it has to grey levels 0..1 (_grey_and_alpha), and shrunk
    by averaging to at most MAX_SIDE pixels a side. An alpha channel that
    varies by more than ALPHA_RANGE (a drawing on a transparent canvas) is
    kept: it is the ink. A still frame of an MPO (two-lens phone photos) is
    its first picture.

    crop -- None for the whole picture (a big JPEG is then decoded at 1/2
            to 1/8 of its size, which is quicker); or (left, top, right,
            bottom), in pixels of the upright picture at full size
            (picture_size), right and bottom excluded: only that part, at
            full resolution (shrunk only if it is itself larger than
            MAX_SIDE). The part is cut before it is turned or converted, so
            only the part is ever held as floats.
    Returns float32: (h, w) grey levels, or (h, w, 2) grey levels and alpha.
    Raises InputError (one line) for a missing, unreadable, truncated or
    animated file, or one too large to be a picture of a digit (Pillow's
    decompression-bomb limit, about 89 million pixels).
    """
    from PIL import Image, UnidentifiedImageError

    if not os.path.exists(path):
        raise no_such_file(path)
    if os.path.isdir(path):
        raise InputError(f"{path}: is a folder, not a picture")
    if os.path.getsize(path) == 0:
        raise InputError(f"{path}: is empty (0 bytes), not a picture")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as img:
                frames = getattr(img, "n_frames", 1)
                if frames > 1 and img.format != "MPO":
                    raise InputError(f"{path}: has {frames} frames (an animation?): save the "
                                     "one to classify as a PNG or JPEG")
                if crop is None and img.format in ("JPEG", "MPO"):  # 1/2..1/8 size: quicker
                    img.draft(img.mode, (MAX_SIDE, MAX_SIDE))
                img.load()
                turn = _turn(img)
                part = img
                if crop is not None:
                    T = Image.Transpose
                    back = {T.ROTATE_90: T.ROTATE_270, T.ROTATE_270: T.ROTATE_90}.get(turn, turn)
                    upright_size = img.size[::-1] if turn in (
                        T.TRANSPOSE, T.TRANSVERSE, T.ROTATE_90, T.ROTATE_270) else img.size
                    part = img.crop(_box_turned(tuple(crop), back, upright_size))
                grey, alpha = _grey_and_alpha(part if turn is None else part.transpose(turn))
    except InputError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise InputError(f"{path}: is too large for a picture of a digit (over "
                         f"{Image.MAX_IMAGE_PIXELS:,} pixels, Pillow's limit): shrink it") from None
    except UnidentifiedImageError:
        with open(path, "rb") as f:
            head = f.read(12)
        if head[4:8] == b"ftyp" and head[8:12] in (b"heic", b"heix", b"hevc", b"heim",
                                                    b"heis", b"hevm", b"hevs", b"mif1",
                                                    b"msf1"):
            raise InputError(f"{path}: is HEIC/HEIF (an iPhone photo?), which Pillow does "
                             "not read: export it as JPEG or PNG") from None
        raise InputError(f"{path}: not a picture Pillow can read (PNG, JPEG, GIF, BMP, "
                         "TIFF, WebP, ...)") from None
    except MemoryError:
        raise InputError(f"{path}: too large to read into memory") from None
    except Exception as e:  # noqa: BLE001 -- a damaged file fails in many ways inside Pillow
        reason = str(e).splitlines()[0][:80] if str(e) else type(e).__name__
        raise InputError(f"{path}: cannot be read as a picture ({reason})") from None
    if min(grey.shape) < 1:
        raise InputError(f"{path}: the picture is empty ({grey.shape[1]}x{grey.shape[0]})")
    return grey if alpha is None else np.dstack([grey, alpha])


# ----------------------------------------------------------------------------
# finding the ink


def _box_blur(a, r):
    """The mean over the (2r+1) x (2r+1) square around each pixel (edges repeated): float64.

    A light blur before thresholding, so that one odd pixel (noise, a
    speck of JPEG) does not count as ink: ndimage.uniform_filter, the
    running-sum box filter, with the edge pixels repeated beyond the edge.
    """
    a = np.asarray(a, dtype=np.float64)
    if r <= 0:
        return a
    return ndimage.uniform_filter(a, size=2 * r + 1, mode="nearest")


def otsu_threshold(values, bins=256):
    """The threshold that best splits values into two classes (Otsu 1979).

    Otsu's method picks the cut of the histogram that maximises the
    between-class variance w0 w1 (mu0 - mu1)^2, which is the same as
    minimising the spread within each class. values: any array of floats;
    returns a float between their min and max (their min if all are equal).
    """
    lo, hi = float(values.min()), float(values.max())
    if hi <= lo:
        return lo
    hist, edges = np.histogram(values, bins=bins, range=(lo, hi))
    p = hist / hist.sum()
    centres = (edges[:-1] + edges[1:]) / 2
    w0 = np.cumsum(p)  # the weight of the class below each cut
    mu = np.cumsum(p * centres)
    with np.errstate(divide="ignore", invalid="ignore"):
        between = (mu[-1] * w0 - mu) ** 2 / (w0 * (1 - w0))
    between[~np.isfinite(between)] = 0
    return float(edges[int(np.argmax(between)) + 1])


def local_background(a, dark_ink, side=128):
    """The page under the ink, estimated locally: what a photo's shading and shadows leave.

    A grey-level closing (a max filter, then a min filter: Gonzalez & Woods,
    Digital Image Processing, on morphological smoothing and "top-hat"
    background removal) wipes out every dark stroke narrower than its
    window while keeping light that changes over larger distances: shading,
    vignetting, the edge of a shadow. For light ink on a dark ground the
    dual, an opening, does the same (ndimage.grey_closing and grey_opening,
    the edge pixels repeated beyond the edge). The window is a quarter of
    the longer side, wider than any stroke of a digit that fits in the
    picture; the
    work is done on a copy shrunk to at most `side` pixels and enlarged back
    (bilinear), since the light changes slowly. a: 2-D floats; returns the
    background, same shape.
    """
    h, w = a.shape
    f = max(1, math.ceil(max(h, w) / side))
    padded = np.pad(a, ((0, -h % f), (0, -w % f)), mode="edge")
    small = _shrink(padded, f)
    k = max(3, max(small.shape) // 4) | 1
    morphology = ndimage.grey_closing if dark_ink else ndimage.grey_opening
    small = morphology(small, size=(k, k), mode="nearest")
    if f == 1:
        return small
    from PIL import Image

    big = Image.fromarray(small.astype(np.float32)).resize(
        (padded.shape[1], padded.shape[0]), Image.Resampling.BILINEAR)
    return np.asarray(big, dtype=np.float64)[:h, :w]


PAGE_FIT = (0.01, 0.8)  # a quadratic within 1% of the light over at least 80% of the pixels


def smooth_page(a, points=4000):
    """The page's light as one smooth surface, when it is one: (surface, tolerance) or None.

    A least-squares quadratic in x and y (six terms) is fitted to about
    `points` pixels of a, then again to those within 3 robust standard
    deviations (1.4826 times the median absolute deviation, at least 0.01)
    of the last fit, three times, so the strokes drop out of it. Used when
    its inliers lie within PAGE_FIT[0] of it (root mean square) and are at
    least PAGE_FIT[1] of the pixels: a sheet under light that changes
    evenly across it (a lamp to one side, a tilted phone). There it beats
    the closing of local_background at the picture's edges, where the
    closing carries the lighter inner page outwards over half its window
    and leaves a band of false ink along the darker edge. A page on a desk,
    a shadow's edge or a tight crop of a thick digit fit no quadratic, and
    give None. a: 2-D floats. Returns the surface, float64 of a's shape,
    and the tolerance within which a pixel is taken to be that page (3
    robust standard deviations of the inliers, at least 0.01): find_ink
    uses the surface except where the picture is lighter than it by more
    (darker, for light ink), so a sunlit strip that the fit left out keeps
    the closing's background instead of becoming ink of a negative amount.
    """
    h, w = a.shape
    step = max(1, int(math.sqrt(h * w / points)))
    rows, cols = np.mgrid[0:h:step, 0:w:step]
    z = a[::step, ::step].ravel()

    def terms(y, x):  # the six terms of a quadratic, in coordinates centred on the picture
        y, x = y / h - 0.5, x / w - 0.5
        return np.stack([np.ones_like(x), x, y, x * x, x * y, y * y], axis=-1)

    if len(z) < 60:  # too few pixels to tell a page's light from its ink
        return None
    A = terms(rows.ravel().astype(np.float64), cols.ravel().astype(np.float64))
    keep = np.ones(len(z), dtype=bool)
    for _ in range(3):
        if keep.sum() < 6:
            return None
        coef = np.linalg.lstsq(A[keep], z[keep], rcond=None)[0]
        r = z - A @ coef
        spread = 1.4826 * np.median(np.abs(r[keep] - np.median(r[keep])))
        keep = np.abs(r) < max(3 * spread, 0.01)
    if not keep.any() or keep.mean() < PAGE_FIT[1] or \
            math.sqrt(np.mean(r[keep] ** 2)) > PAGE_FIT[0]:
        return None
    # the same six terms as terms(), written out so that only three passes make the (h, w)
    # surface (summing terms()'s list over the grid took twice as long)
    y = (np.arange(h) / h - 0.5)[:, None]
    x = (np.arange(w) / w - 0.5)[None, :]
    surface = coef[0] + coef[1] * x + coef[3] * x * x + y * (coef[2] + coef[4] * x + coef[5] * y)
    return surface, max(3 * spread, 0.01)


def _components(mask):
    """Label the 8-connected components of a 2-D boolean mask (ndimage.label).

    Two ink pixels belong together when they touch, by a side or a corner
    (a pen's diagonal stroke is one stroke). Returns (labels, count):
    labels int32 of mask's shape, 0 off the mask and 1..count on it, the
    components numbered in the order their first pixel comes row by row.
    """
    return ndimage.label(mask, structure=np.ones((3, 3), dtype=bool))


def _digit_blocks(mask, side=200):
    """Which parts of an ink mask are the digit, not specks, smudges or the desk.

    The mask is pooled into blocks (at most `side` a side, so the labelling
    stays quick); the blocks' connected groups are the strokes. A group that
    covers more than 10% of the picture's edge is the world around the page
    (a desk, a table, a shadow), not ink, as long as some other group at
    least 1/25 of the picture's shorter side across is left: a digit drawn
    tight to the edges is then still the digit. Of the rest, the largest
    group by ink is the digit's; others join it, round after round, if they
    hold at least 2% of its ink and lie within a quarter of the size of what
    is kept so far (a 5's bar, a 4's second stroke, a pencil line broken in
    places); specks and marks farther away are left out.
    Returns (region, left_out): region a boolean mask, shape of mask, of the
    kept groups' blocks and the blocks around them (where the strokes' soft
    edges are); left_out the number of groups holding at least a quarter of
    the digit's ink that were left out (a second digit?), edges not counted.
    """
    h, w = mask.shape
    f = max(1, math.ceil(max(h, w) / side))
    H, W = math.ceil(h / f), math.ceil(w / f)
    padded = np.zeros((H * f, W * f), dtype=np.float64)
    padded[:h, :w] = mask
    counts = padded.reshape(H, f, W, f).sum(axis=(1, 3))
    inverse, count = _components(counts > 0)  # 0: no ink; group k is label k
    ink = np.bincount(inverse.ravel(), weights=counts.ravel(), minlength=count + 1)
    ink[0] = 0
    ring = np.zeros((H, W), dtype=bool)
    ring[[0, -1], :] = ring[:, [0, -1]] = True
    edge = np.bincount(inverse[ring], minlength=count + 1) / ring.sum()
    yy, xx = np.mgrid[0:H, 0:W]
    boxes = {}
    for k in np.argsort(-ink)[:50]:  # the 50 largest groups are plenty
        if ink[k] <= 0:
            break
        where = inverse == k
        boxes[k] = (yy[where].min(), yy[where].max(), xx[where].min(), xx[where].max())
    inside = {k: box for k, box in boxes.items() if edge[k] <= 0.1}
    if inside and max(max(b - t, r - lft) + 1 for t, b, lft, r in inside.values()) \
            >= min(H, W) / 25:
        boxes = inside  # the groups along the picture's edge are its surroundings
    first = max(boxes, key=lambda k: ink[k])
    kept, union = [first], list(boxes[first])
    while True:  # grow from the largest group, through groups near what is kept
        top, bottom, left, right = union
        reach = max(bottom - top, right - left) / 4 + 1
        near = [k for k, (t, b, lft, rgt) in boxes.items() if k not in kept
                and ink[k] >= 0.02 * ink[first]
                and max(t - bottom, top - b, lft - right, left - rgt, 0) <= reach]
        if not near:
            break
        for k in near:
            kept.append(k)
            t, b, lft, rgt = boxes[k]
            union = [min(union[0], t), max(union[1], b), min(union[2], lft), max(union[3], rgt)]
    left_out = sum(1 for k in boxes if k not in kept and ink[k] >= 0.25 * ink[kept].sum()
                   and edge[k] <= 0.1)
    keep = np.isin(inverse, kept)  # and the blocks around them: the strokes' soft edges
    keep = ndimage.binary_dilation(keep, structure=np.ones((3, 3), dtype=bool))
    return np.kron(keep, np.ones((f, f), dtype=bool))[:h, :w], left_out


def find_ink(img, dark_ink=None):
    """Separate a digit's ink from its background: (ink, box, dark_ink, left_out).

    img -- grey levels (h, w) or grey levels and alpha (h, w, 2), floats 0..1.
    The ink is the alpha where alpha varies, else the grey levels. Steps:
    a light box blur (radius 1 per 300 pixels of the shorter side); Otsu's
    threshold (Otsu 1979) splits the pixels in two, once a wide local mean
    is subtracted, and the smaller side is the ink (so dark on light and
    light on dark both work, with no fixed 0.5; when the two sides are
    nearly equal, a picture cropped tight to a thick digit, the ink is the
    dark side of a grey picture and the opaque side of a transparent one);
    the page under the ink is estimated locally (local_background) and
    divided out for dark ink, subtracted for light ink, which evens out
    shading and shadows; Otsu's threshold is taken again on what is left;
    the ink's intensity runs from 0 at the background's noise level to 1
    at the strokes' core (their 90th percentile). A picture whose ink is not
    clearly above the noise (8 times its spread) is blank. Only the strokes
    that make the digit are kept (_digit_blocks): specks and smudges away
    from it, and the desk around the page, go.
    dark_ink -- True or False forces the polarity (None: decide as above).
    Returns ink, float64 0..1 of shape (h, w); box, the (top, bottom, left,
    right) rows and columns of the digit's strokes, inclusive; whether the
    ink was taken to be the dark side; and how many marks as large as a
    quarter of the digit were left out.
    Raises ValueError when there is no ink to find (a blank picture).
    """
    if img.ndim == 3:
        signal = img[..., 1]
    else:
        signal = img
    signal = signal.astype(np.float64)
    r = round(min(signal.shape) / 300)
    smooth = _box_blur(signal, r)
    if smooth.max() - smooth.min() < 0.02:
        raise ValueError("the image is blank: no digit found")
    if dark_ink is None:  # a wide local mean subtracted first: a shadow over half the page
        flat = smooth - _box_blur(smooth, max(1, min(smooth.shape) // 4))
        bright = float(np.mean(flat > otsu_threshold(flat)))
        if min(bright, 1 - bright) < 0.3:
            dark_ink = bright > 0.5
        else:  # nearly half and half: a tight crop of a thick digit. Ink on
            # paper is dark; ink on a transparent canvas (alpha) is opaque.
            dark_ink = img.ndim == 2
    background = local_background(smooth, dark_ink)
    fitted = smooth_page(smooth)  # an evenly lit page: no false ink along its darker edge
    if fitted is not None:  # except where the picture is well lighter than that page (for
        page, tolerance = fitted  # dark ink; darker, for light): a sunlit strip, not page
        if dark_ink:
            background = np.where(smooth > page + tolerance, background,
                                  np.minimum(background, page))
        else:
            background = np.where(smooth < page - tolerance, background,
                                  np.maximum(background, page))
    if dark_ink:  # the share of the light the ink takes away: shading divides out
        ink = 1 - smooth / np.maximum(background, 1e-3)
    else:
        ink = smooth - background
    t = otsu_threshold(ink)
    mask = ink > t
    background = ink[~mask]
    level = np.median(background) if background.size else 0.0
    noise = 1.4826 * np.median(np.abs(background - level)) if background.size else 0.0
    core = np.percentile(ink[mask], 90) if mask.any() else level
    if core - level < max(0.04, 8 * noise) or mask.sum() < 4:
        if noise > NOISE:  # not a page: speckle or static everywhere
            raise ValueError("no digit found: the picture is noise everywhere, and no mark "
                             "stands out of it")
        raise ValueError("the image is blank: no digit found")
    low = level + min(3 * noise, (t - level) / 2)
    intensity = np.clip((ink - low) / (core - low), 0, 1)
    region, left_out = _digit_blocks(mask)
    strokes = mask & region
    rows, cols = np.flatnonzero(strokes.any(axis=1)), np.flatnonzero(strokes.any(axis=0))
    return (np.where(region, intensity, 0.0), (rows[0], rows[-1], cols[0], cols[-1]), dark_ink,
            left_out)


# ----------------------------------------------------------------------------
# a row like MNIST's


def implausible(x, side=28):
    """Why a prepared row looks like no MNIST digit, or "" when it could be one.

    Two measures, each with bounds just beyond what all 60,000 MNIST
    training digits show: the share of the side x side pixels above 127
    (1.9% to 39.8% there: INK_SHARE), and how much of its bounding box a
    digit at least half as wide as tall fills (at most 84% there): a filled
    blob is the background of a picture whose ink was taken the wrong way.
    """
    ink = x.reshape(side, side) > 127
    share = float(ink.mean())
    if not INK_SHARE[0] <= share <= INK_SHARE[1]:
        return (f"the ink covers {share:.0%} of the {side}x{side} input, outside the "
                f"{INK_SHARE[0]:.1%}-{INK_SHARE[1]:.0%} of any MNIST digit")
    rows, cols = np.flatnonzero(ink.any(axis=1)), np.flatnonzero(ink.any(axis=0))
    box = ink[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1]
    if min(box.shape) >= max(box.shape) / 2 and box.mean() > 0.9:
        return f"the ink fills {box.mean():.0%} of its box, a blob rather than strokes"
    core = ink
    for _ in range(3):  # strip 3 pixels off every stroke: a pen's stroke is gone by then
        core = core & np.roll(core, 1, 0) & np.roll(core, -1, 0) \
            & np.roll(core, 1, 1) & np.roll(core, -1, 1)
    if core.sum() > THICK * ink.sum():
        return (f"{core.sum() / ink.sum():.0%} of the ink lies more than 3 pixels inside it, a "
                "filled shape rather than strokes")
    return ""


def _to_row(ink, side, box):
    """Scale the cropped ink to fit a box x box square and centre it by mass in side x side."""
    from PIL import Image

    h, w = ink.shape
    scale = box / max(h, w)
    H, W = max(1, round(h * scale)), max(1, round(w * scale))
    digit = np.asarray(Image.fromarray(ink.astype(np.float32)).resize(
        (W, H), Image.Resampling.LANCZOS), dtype=np.float64).clip(0, None)
    total = digit.sum()
    if total <= 0:
        raise ValueError("the image is blank: no digit found")
    cy = digit.sum(axis=1) @ np.arange(H) / total  # the centre of mass, in the box
    cx = digit.sum(axis=0) @ np.arange(W) / total
    # MNIST's centres of mass lie at row and column 14.0 on average (13.5..14.5
    # in 90% of the training digits): the middle of the canvas, side / 2
    top = int(np.clip(round(side / 2 - cy), 0, side - H))  # stay on the canvas
    left = int(np.clip(round(side / 2 - cx), 0, side - W))
    canvas = np.zeros((side, side))
    canvas[top:top + H, left:left + W] = digit
    return np.clip(np.round(canvas / canvas.max() * 255), 0, 255).astype(np.uint8).ravel()


def _shrunk(img, factor):
    """A picture (h, w) or (h, w, 2) shrunk by averaging factor x factor blocks."""
    if img.ndim == 3:
        return np.dstack([_shrink(img[..., c], factor) for c in range(img.shape[2])])
    return _shrink(img, factor)


def _as_picture(img):
    """An array as prepare_digit takes it, as read_image gives pictures: floats 0..1, (h, w)
    grey levels or (h, w, 2) grey levels and an alpha that varies."""
    img = np.asarray(img)
    img = img.astype(np.float64) / (255 if img.dtype.kind in "ui" or img.max() > 1 else 1)
    if img.ndim == 3 and img.shape[2] >= 3:  # RGB or RGBA arrays: grey (and alpha)
        grey = _most_contrast(img[..., :3] @ np.array([0.299, 0.587, 0.114]), img[..., :3])
        img = np.dstack([grey, img[..., 3]]) if img.shape[2] == 4 else grey
    if img.ndim == 3 and img.max(axis=(0, 1))[1] - img.min(axis=(0, 1))[1] <= ALPHA_RANGE:
        img = img[..., 0] * img[..., 1] + (1 - img[..., 1])  # a flat alpha: on white
    return img


def _find_digit(img, full, size, path, dark_ink):
    """Find the digit on img, then again on its real pixels: (ink, (h, w), dark_ink, left_out).

    img is the picture as searched, shrunk; size its (width, height) in the
    picture's own pixels. When img was shrunk and the region around the
    digit, three times its size, fits in MAX_SIDE at full resolution, the
    region is cut from the picture at full resolution (read again from the
    file at path, or cut from the array full) and the ink found again there,
    the polarity kept: a 45-pixel digit in a 4000x3000 photo is otherwise
    read from an 11-pixel copy. A digit too large for that (over about a
    third of MAX_SIDE, 340 pixels) keeps over 30 pixels in img even in the
    largest square picture Pillow opens (about 9,500 a side, shrunk 10
    times): more than MNIST's 20-pixel box. Returns
    the digit's ink cropped to its strokes, float64; the strokes' height and
    width in the picture's own pixels; as find_ink for the rest.
    Raises ValueError when img is blank.
    """
    ink, (top, bottom, left, right), dark_ink, left_out = find_ink(img, dark_ink)
    sy, sx = size[1] / img.shape[0], size[0] / img.shape[1]  # the picture's pixels per img's
    digit = ink[top:bottom + 1, left:right + 1]
    strokes = (bottom - top + 1) * sy, (right - left + 1) * sx
    margin = max(strokes) + 2 * max(sy, sx)  # and the inaccuracy of the shrunk copy
    region = (max(0, math.floor(left * sx - margin)), max(0, math.floor(top * sy - margin)),
              min(size[0], math.ceil((right + 1) * sx + margin)),
              min(size[1], math.ceil((bottom + 1) * sy + margin)))
    if min(sy, sx) < 1.5 or max(region[2] - region[0], region[3] - region[1]) > MAX_SIDE:
        # not shrunk, or the digit is over a third of MAX_SIDE: it kept its detail
        return digit, tuple(round(s) for s in strokes), dark_ink, left_out
    try:
        if path is not None:
            near = read_image(path, crop=region)
        else:
            near = full[region[1]:region[3], region[0]:region[2]]
        if near.ndim != img.ndim:  # the alpha no longer varies there: keep what was found
            raise ValueError("not the same kind of picture")
        ink, (top, bottom, left, right), _, _ = find_ink(near, dark_ink)
    except (ValueError, InputError):  # the shrunk copy's digit stands
        return digit, tuple(round(s) for s in strokes), dark_ink, left_out
    return ink[top:bottom + 1, left:right + 1], (bottom - top + 1, right - left + 1), dark_ink, \
        left_out


def prepare_digit(img, side=28, box=20, report=None, path=None):
    """Turn a picture of one digit into an MNIST-style row of side*side pixels.

    MNIST's digits are light on dark, scaled to fit a 20x20 box with their
    aspect ratio kept, then centred by their centre of mass in 28x28 (LeCun
    et al., the MNIST page). This does the same with the ink find_ink
    separates from the background: cropped to the digit; resized with
    Pillow's Lanczos filter (which averages when it shrinks, so thin strokes
    survive); then shifted so the centre of mass is the canvas's centre. If
    the result looks like no MNIST digit (implausible) and taking the ink
    the other way round gives one that could be, that one is used: a picture
    cropped so tight that its ink is more than half of it.
    A picture larger than MAX_SIDE is searched shrunk, then the digit is
    prepared from the picture's full-resolution pixels around it
    (_find_digit), so a small digit in a large photo keeps its strokes.

    img    -- a picture as read_image returns it, (h, w) or (h, w, 2), or an
              RGB(A) array (h, w, 3 or 4); floats in 0..1 or integers 0..255
    report -- called with one line when the result still looks like no
              MNIST digit, when the digit is under SMALLEST pixels in the
              picture's own pixels, or when other marks the size of a
              digit were left out (the answer is given all the same)
    path   -- the file img was read from with read_image (None: img is the
              whole picture): the digit's region is read from it again at
              full resolution
    Returns a uint8 array of shape (side * side,).
    Raises ValueError for a blank picture; InputError when path cannot be
    opened.
    """
    full = _as_picture(img)
    whole = (full.shape[1], full.shape[0]) if path is None else picture_size(path)
    img = _shrunk(full, math.ceil(max(full.shape[:2]) / MAX_SIDE))
    ink, size, dark_ink, left_out = _find_digit(img, full, whole, path, None)
    ink = even_strokes(ink, report)  # a fat marker thinned, a hairline thickened
    x = _to_row(ink, side, box)
    why = implausible(x, side)
    if why:
        try:
            ink2, size2, _, left_out2 = _find_digit(img, full, whole, path, not dark_ink)
            other = _to_row(ink2, side, box)
        except ValueError:
            other = None
        if other is not None and not implausible(other, side):
            x, why, left_out, size = other, "", left_out2, size2
    if max(size) < SMALLEST:  # says more than "a filled shape" of a smudge scaled up
        why = (f"the mark found is only {size[0]}x{size[1]} pixels, too small to read a digit "
               "from")
    if report is not None and why:
        report(f"{why}: the answer may be meaningless (is the digit alone, and clear, "
               "in the picture?)")
    elif report is not None and left_out:
        report(f"{left_out} other mark{'s' * (left_out > 1)} at least a quarter the size of "
               "the digit left out: only the largest is read (one digit per picture)")
    return x


# ----------------------------------------------------------------------------
# a pen much finer or fatter than MNIST's

# The width of MNIST's strokes as a share of the digit's height (its longer side, strokes
# included), measured as strokes_of does on the first 1000 training digits enlarged ten
# times with Lanczos (python benchmarks/fat_strokes.py --mnist 1000): median 0.121;
# percentiles 1, 10, 90, 95, 99: 0.070, 0.091, 0.162, 0.179, 0.205.
STROKE_MNIST = 0.12  # a hairline is thickened to this
STROKE_BOLD = 0.16  # a fat marker is thinned to this, the bold end of MNIST's pens: thinner
# still turned a fat MNIST 0 of test.csv (row 25, 0.25) into a 6 in benchmarks/photos.py
STROKE_RANGE = (0.06, 0.18)  # a width outside this is changed: below, to STROKE_MNIST;
STROKE_FAT = 0.21  # above, towards STROKE_BOLD, fully from STROKE_FAT (past 99% of MNIST's)
# so that a digit near the bound changes little; each thinning is said
STROKE_MIN_SIDE = 56  # a digit this many pixels tall or more: smaller ones are too coarse


def stroke_width(mask):
    """The width of the strokes of a bool (h, w) mask, in pixels: twice the median of the
    Euclidean distance to the background, beyond the mask's edge included
    (scipy.ndimage.distance_transform_edt), at the strokes' ridge, its local maxima: the middle of every stroke, however long, counts
    alike, and a blob (a loop a fat pen filled) adds few ridge pixels. 0 for no ink."""
    from scipy import ndimage

    depth = ndimage.distance_transform_edt(np.pad(mask, 1))  # a cropped digit: the edge too
    ridge = (depth > 0) & (depth >= ndimage.maximum_filter(depth, size=3))
    return 2 * float(np.median(depth[ridge])) if ridge.any() else 0.0


def strokes_of(ink):
    """The strokes of a digit's ink (h, w) float 0..1 as a bool mask, and their width in
    pixels (stroke_width): the ink smoothed a little (a Gaussian of a hundredth of its
    longer side, so a dithered picture's dots make one stroke) taken above half its peak."""
    from scipy import ndimage

    smooth = ndimage.gaussian_filter(np.asarray(ink, dtype=np.float64), max(ink.shape) / 100)
    mask = smooth > smooth.max() / 2
    return mask, stroke_width(mask)


def even_strokes(ink, report=None):
    """A digit's ink with strokes much finer or fatter than MNIST's brought to its width.

    ink -- float64 (h, w) 0..1, cropped to the digit (prepare_digit's). A digit drawn with
    a fat marker on a canvas (a stroke over STROKE_FAT of its longer side) is eroded until
    its strokes are STROKE_BOLD of it (between STROKE_RANGE[1] and STROKE_FAT, part of the
    way), one drawn with a hairline (under STROKE_RANGE[0]) dilated to STROKE_MNIST: the
    network learnt MNIST's pens, and Lanczos shrinking keeps a stroke's share of the
    digit. Both changes use the distance transform of the
    strokes (strokes_of; scipy.ndimage), so the result is their shape with a one-pixel soft
    edge. report -- called with a line when a stroke was thinned: a loop the marker filled
    stays filled, and the answer may be wrong. Digits under
    STROKE_MIN_SIDE pixels are left as they are. Returns the ink, a new array cropped to
    the changed strokes if changed.
    """
    from scipy import ndimage

    side = max(ink.shape)
    if side < STROKE_MIN_SIDE or ink.max() <= 0:
        return ink
    mask, width = strokes_of(ink)
    share = width / side
    if STROKE_RANGE[0] <= share <= STROKE_RANGE[1]:
        return ink
    # the width wanted: a share of the height the digit has once its strokes change
    wanted = STROKE_BOLD if share > STROKE_RANGE[1] else STROKE_MNIST
    target = wanted * (side - width) / (1 - wanted)
    if share > STROKE_RANGE[1]:
        inside = ndimage.distance_transform_edt(np.pad(mask, 1))[1:-1, 1:-1]
        ramp = min(1.0, (share - STROKE_RANGE[1]) / (STROKE_FAT - STROKE_RANGE[1]))
        thinned = np.clip(inside - ramp * (width - target) / 2, 0, 1)
        if report is not None:
            report(f"the strokes are {width:.0f} pixels wide, {share:.0%} of the digit's size "
                   f"(MNIST's are {STROKE_MNIST:.0%}, at most about 20%): thinned to "
                   f"{wanted:.0%}, but a loop the pen filled stays filled, and the answer may "
                   "be wrong")
        return _cropped(thinned)
    pad = math.ceil((target - width) / 2) + 1
    grown = np.pad(ink, pad)  # room for the strokes to grow at the box's edges
    outside = ndimage.distance_transform_edt(~np.pad(mask, pad))
    return _cropped(np.maximum(grown, np.clip((target - width) / 2 + 1 - outside, 0, 1)))


def _cropped(ink):
    """ink cut to the rows and columns that hold any (the digit's box once more)."""
    rows, cols = np.flatnonzero(ink.any(axis=1)), np.flatnonzero(ink.any(axis=0))
    return ink[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1] if len(rows) else ink
