"""The live view: a page in the browser that shows a run while it trains.

    python main.py --LIVE=True                       # train, and watch at http://127.0.0.1:8000/
    python main.py --LIVE=True --WEIGHTS=runs/x/weights.pkl   # a finished run, no training

The page (web/: one HTML file, its script and style, and the vendored uPlot
for the charts) shows the learning curves, each layer's statistics with the
diagnosis beside the layer it is about, the first layer's weights, the
validation rows' confusion matrix and most confident mistakes, and a pad to
draw a digit on, which the network as it stands answers, prepared exactly
as --PREDICT prepares a picture (digit.read_image, digit.prepare_digit).
It can pause, continue and stop the run.

How it hangs together. main.py's training loop calls a watcher's methods
(begin, step, epoch, end; the protocol is main.py's). Live is that watcher
and also the state the page reads: the training thread writes into it, and
the standard library's ThreadingHTTPServer, on a thread of its own,
answers the page from it. The page polls; nothing is queued for a browser,
so a slow, paused or closed one costs training nothing. The network the pad
answers with is a copy taken in `step`, between two training steps, when a
request has asked for one (at most every FRESH seconds), so it is never
half-updated; pausing blocks in `step`.

Safety. It listens on 127.0.0.1 unless LIVE_HOST says otherwise; it serves
only the files of web/, read once at start into a table (no request path is
ever used as a file path, so `..`, `%2e%2e` and absolute paths find
nothing); bodies are limited (MAX_BODY, a drawing MAX_DRAWING bytes and
MAX_SIDE pixels a side) and checked, and an answer to a bad request is a
4xx with a message, never a traceback; pause, continue and stop take only a
POST carrying the run's random token in a header, which another web page
cannot send (a custom header needs a CORS preflight, which this server
never grants); on a loopback address the Host header must name it (a page
of another site rebound to 127.0.0.1 by DNS is refused).
"""

import base64
import binascii
import collections
import http.server
import io
import json
import math
import os
import re
import secrets
import socket
import sys
import tempfile
import threading
import time
import urllib.parse
import webbrowser
from pathlib import Path

import numpy as np

import diagnostics
import digit
import utils
from data import InputError

WEB = Path(__file__).resolve().parent / "web"
TYPES = {".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8",
         ".css": "text/css; charset=utf-8", ".png": "image/png", ".svg": "image/svg+xml"}
LOOPBACK = ("127.0.0.1", "localhost", "::1")
PORT_TRIES = 20  # LIVE_PORT taken: the next free one among this many
MAX_BODY = 1_500_000  # bytes of a request body: a 1 MB PNG as a base64 data URL is 1.37 MB
MAX_DRAWING = 1_000_000  # bytes of the drawing's PNG
MAX_SIDE = 2048  # pixels of the drawing a side
DRAIN = 8_000_000  # a body too large but under this is read and dropped, then refused
MAX_REQUESTS = 8  # requests answered at once; more get 503
RUNNING_POINTS = 1000  # points of the running training loss kept (the latest)
POINT_SECONDS = 0.1  # a point of the running loss (and the progress figures) at most this often
RATE_WINDOW = 20  # points over which steps per second are measured
FRESH = 0.5  # seconds a copy of the network serves the pad before a new one is asked for
COPY_WAIT = 2.0  # seconds a request waits for the training thread's copy before using the last
TILES = 64  # first-layer units shown as weight tiles (as plots.plot_weights)
MISTAKES = 16  # most confident validation mistakes shown
EVAL_ROWS = diagnostics.PROBE_ROWS  # validation rows of the confusion matrix and mistakes
TOKEN_HEADER = "X-Live-Token"


class RequestError(Exception):
    """A request the server refuses: the HTTP status and a one-line message for the page."""

    def __init__(self, status, message):
        super().__init__(message)
        self.status = status


# ----------------------------------------------------------------------------
# the network


def first_weights(params):
    """The first layer's W, (n_in, n_out)."""
    return params[0]["W"]


def answer(net, x):
    """The network's probabilities for one prepared row, and each hidden layer's activations.

    net -- a Snapshot; x -- uint8 (n_in,). Evaluation as predict_logits does
    it (batch normalisation with the running statistics). Returns (P float64
    (k,), a list of float32 arrays, one per hidden layer, (width,)).
    """
    Z, cache = utils.forward(net.params, utils.normalise(x[None, :]), net.activation,
                             stats=net.stats)
    P = utils.softmax(Z.astype(np.float64))[0]
    return P, [step["A"][0] for step in cache[:-1]]


class Snapshot:
    """A copy of a network taken between two training steps: params, stats (or None), the
    activation, and which step and epoch it is of."""

    def __init__(self, params, stats, activation, step, epoch, copy=True):
        self.params = utils.copy_params(params) if copy else params
        self.stats = utils.copy_params(stats) if copy else stats
        self.activation, self.step, self.epoch = activation, step, epoch
        self.taken = time.monotonic()


# ----------------------------------------------------------------------------
# turning what the page sends into a row


def read_body(raw):
    """The JSON object of a request body; RequestError 400 if it is not one."""
    try:
        body = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as e:
        raise RequestError(400, f"the body is not JSON ({type(e).__name__})") from None
    if not isinstance(body, dict):
        raise RequestError(400, "the body must be a JSON object")
    return body


def prepare_drawing(body, n_in):
    """The row the network is shown for a drawing, and the doubts prepare_digit reported.

    body -- {"png": "data:image/png;base64,..."}, a drawing as the page's
    canvas gives it, prepared exactly as `--PREDICT=picture.png` prepares
    a picture (digit.read_image on the file, then digit.prepare_digit to a
    side x side row, the digit in a box of 20/28 of it); or {"pixels": [n_in
    integers 0..255]}, a row already prepared (the page sends back the one
    it was given, to have it answered again as the network trains).
    Returns (uint8 (n_in,), list of str). Raises RequestError: 400 for a
    malformed body, not a PNG, a blank drawing; 413 for more than
    MAX_DRAWING bytes or MAX_SIDE pixels a side.
    """
    if "pixels" in body:
        pixels = body["pixels"]
        if (not isinstance(pixels, list) or len(pixels) != n_in or not all(
                isinstance(v, int) and not isinstance(v, bool) and 0 <= v <= 255 for v in pixels)):
            raise RequestError(400, f"pixels must be a list of {n_in} integers 0..255")
        return np.array(pixels, dtype=np.uint8), []
    url = body.get("png")
    prefix = "data:image/png;base64,"
    if not isinstance(url, str) or not url.startswith(prefix):
        raise RequestError(400, 'expected {"png": "data:image/png;base64,..."} or '
                                '{"pixels": [...]}')
    try:
        raw = base64.b64decode(url[len(prefix):], validate=True)
    except (binascii.Error, ValueError):
        raise RequestError(400, "the drawing is not valid base64") from None
    if len(raw) > MAX_DRAWING:
        raise RequestError(413, f"the drawing is {len(raw):,} bytes; at most {MAX_DRAWING:,}")
    side = math.isqrt(n_in)
    if side * side != n_in:
        raise RequestError(400, f"the network takes {n_in} inputs, not a square picture")
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(raw)) as img:  # the header only: its format and size
            kind, (w, h) = img.format, img.size
    except (UnidentifiedImageError, OSError, ValueError):
        raise RequestError(400, "the drawing is not a picture Pillow can read") from None
    if kind != "PNG":
        raise RequestError(400, f"the drawing must be a PNG, not {kind}")
    if max(w, h) > MAX_SIDE:
        raise RequestError(413, f"the drawing is {w}x{h} pixels; at most {MAX_SIDE} a side")
    doubts = []
    with tempfile.TemporaryDirectory(prefix="live-") as folder:  # read_image reads a file
        path = os.path.join(folder, "drawing.png")
        with open(path, "wb") as f:
            f.write(raw)
        try:
            image = digit.read_image(path)
            x = digit.prepare_digit(image, side=side, box=round(side * 20 / 28),
                                    report=doubts.append, path=path)
        except InputError as e:
            raise RequestError(400, str(e).replace(f"{path}: ", "the drawing ")) from None
        except ValueError:
            raise RequestError(400, "the drawing is blank: draw a digit") from None
    return x, doubts


# ----------------------------------------------------------------------------
# what the page shows, computed from plain values


def plain(value):
    """A value JSON can carry: NaN and infinities become None, NumPy numbers Python's."""
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if isinstance(value, (float, np.floating)):
        return float(value) if math.isfinite(value) else None
    if isinstance(value, np.integer):
        return int(value)
    return value


def curves(history):
    """The per-epoch figures of a history, as lists (a copy: training appends to its own)."""
    keys = ("epoch", "train_loss", "train_acc", "val_loss", "val_acc", "lr", "seconds")
    return {k: list(history.get(k, [])) for k in keys}


def layer_of(line, n_layers):
    """The layers (0-based) a line of the diagnosis is about: those it names first."""
    if line.startswith("the output layer"):
        return [n_layers - 1]
    listed = re.match(r"layers? (\d+(?:, \d+)*(?: and \d+)?)", line)
    if listed:
        return [int(n) - 1 for n in re.findall(r"\d+", listed.group(1))]
    named = re.search(r"\blayer (\d+)|(the output layer)", line)
    if named:
        return [int(named.group(1)) - 1 if named.group(1) else n_layers - 1]
    return []


def layers_view(records, diagnosis):
    """The layers panel: each layer's figures over the records, its latest histogram, and
    the lines of the diagnosis that name it (the rest apart)."""
    if not records:
        return None
    n_layers = len(records[-1]["dW_rms"])

    def series(key, l):
        return [None if r.get(key) is None else r[key][l] for r in records]

    about = [[] for _ in range(n_layers)]
    general = []
    for line in diagnosis:
        ls = [l for l in layer_of(line, n_layers) if 0 <= l < n_layers]
        for l in ls:
            about[l].append(line)
        if not ls:
            general.append(line)
    last = records[-1]
    layers = []
    for l in range(n_layers):
        hidden = l < n_layers - 1
        layers.append({
            "name": "output layer" if not hidden else f"layer {l + 1}",
            "hidden": hidden,
            "act_mean": series("act_mean", l) if hidden else None,
            "act_std": series("act_std", l) if hidden else None,
            "dead": series("dead", l) if hidden else None,
            "saturated": series("saturated", l) if hidden else None,
            "hist": last["hist"][l] if hidden else None,
            "dW_rms": series("dW_rms", l), "step": series("step", l),
            "update": series("update", l), "W_norm": series("W_norm", l),
            "diagnosis": about[l]})
    return {"epochs": [r["epoch"] for r in records], "rows": last.get("rows"),
            "layers": layers, "general": general}


def weight_tiles(W, count=TILES):
    """The first `count` units' incoming weights as square tiles, each divided by its own
    largest |weight| (as plots.plot_weights), sent as bytes 0..255 (128 is 0), base64."""
    n_in, n_out = W.shape
    side = math.isqrt(n_in)
    if side * side != n_in:
        return None
    shown = min(count, n_out)
    tiles = np.asarray(W[:, :shown], dtype=np.float64).T
    tiles = tiles / np.maximum(np.abs(tiles).max(axis=1, keepdims=True), 1e-12)
    data = np.round((tiles + 1) * 127.5).clip(0, 255).astype(np.uint8)
    return {"side": side, "count": shown, "data": base64.b64encode(data.tobytes()).decode()}


def validation_view(net, X, y, n_classes):
    """The confusion matrix of the first EVAL_ROWS validation rows and their MISTAKES most
    confident mistakes (pixels base64, the label, the answer and both probabilities)."""
    X, y = X[:EVAL_ROWS], y[:EVAL_ROWS]
    Z = utils.predict_logits(net.params, X, net.activation, stats=net.stats)
    P = utils.softmax(Z.astype(np.float64))
    pred = P.argmax(axis=1)
    wrong = np.flatnonzero(pred != y)
    shown = wrong[np.argsort(-P[wrong, pred[wrong]], kind="stable")][:MISTAKES]
    return {"rows": len(y), "accuracy": float(np.mean(pred == y)),
            "confusion": utils.confusion_matrix(y, pred, n_classes).tolist(),
            "mistakes": [{"pixels": base64.b64encode(X[i].tobytes()).decode(),
                          "label": int(y[i]), "said": int(pred[i]),
                          "p_label": float(P[i, y[i]]), "p_said": float(P[i, pred[i]])}
                         for i in shown]}


# ----------------------------------------------------------------------------
# the watcher and the state the page reads


class Live:
    """The live view's state, and a watcher of main.py's training loop.

    The training thread calls begin(run), step(done, total, loss) after
    every step, epoch(history) after every epoch and end(result); the
    server's threads read what they left under `lock`, and ask for a copy
    of the network through `network()`. With COMPARE, begin is called once
    per entry: each entry's curves are kept, the latest is the current one.
    """

    def __init__(self):
        self.lock = threading.Lock()
        self.cond = threading.Condition(threading.RLock())
        self.token = secrets.token_urlsafe(24)
        self.entries = []  # per run: label, settings shown, curves, records, diagnosis
        self.version = 0  # counts epochs, begins and ends: the page asks for /api/epoch anew
        self.status = "waiting"  # training, paused, stopping, finished, stopped, diverged
        self.progress = {}
        self.running = collections.deque(maxlen=RUNNING_POINTS)
        self.snapshot = None  # the network the pad answers with
        self.at_epoch = None  # the network at the end of the latest epoch (the pictures')
        self.view_cache = (None, None)  # (version, the epoch view computed for it)
        self.run = None
        self._want = False  # a request asks the training thread for a copy of the network
        self._copies = 0
        self._paused = False
        self._steps = 0
        self._loss_sum, self._loss_n = 0.0, 0
        self._next_point = 0.0
        self._rate = collections.deque(maxlen=RATE_WINDOW)
        self.url = None
        self.server = None
        self.stopped_here = False  # the run was stopped from the page (not by Ctrl-C)

    # the watcher protocol, in the training thread

    def begin(self, run):
        """A run starts (or a COMPARE entry): keep what the page shows of it."""
        c = run["config"]
        history = run["history"]
        with self.lock:
            self.run = run
            self.entries.append({"label": run.get("label") or "", "layers": list(c["LAYERS"]),
                                 "activation": c["ACTIVATION"], "batch_norm": c["BATCH_NORM"],
                                 "epochs": run["epochs"], "curves": curves(history),
                                 "records": list(history.get("layers", [])),
                                 "diagnosis": list(history.get("diagnosis", []))})
            self.status = "paused" if self._paused else "training"
            self.running.clear()
            self._steps, self._loss_sum, self._loss_n = 0, 0.0, 0
            self._rate.clear()
            self.progress = {"epoch": len(history.get("epoch", [])) + 1, "done": 0,
                             "total": run["steps_per_epoch"], "loss": None, "steps": 0,
                             "steps_per_s": None, "eta": None}
            self.snapshot = self.at_epoch = Snapshot(run["params"], run["stats"],
                                                     c["ACTIVATION"], 0, 0.0)
            self.version += 1

    def step(self, done, total, loss):
        """After every training step: a few counters; a copy of the network when one is
        asked for; blocks while paused."""
        self._steps += 1
        self._loss_sum += loss
        self._loss_n += 1
        now = time.perf_counter()
        if now >= self._next_point or done == total:
            self._point(done, total, now)
        if self._want:
            self._copy(done, total)
        if self._paused:
            self._hold(done, total)

    def epoch(self, history):
        """After every epoch: its figures, and the network as the epoch left it."""
        run = self.run
        with self.lock:
            entry = self.entries[-1]
            entry["curves"] = curves(history)
            entry["records"] = list(history.get("layers", []))
            entry["diagnosis"] = list(history.get("diagnosis", []))
            n = len(entry["curves"]["epoch"])
            self.at_epoch = Snapshot(run["params"], run["stats"], entry["activation"],
                                     self._steps, float(entry["curves"]["epoch"][-1]) if n else 0)
            self.progress.update(epoch=n + 1, done=0)
            self._loss_sum, self._loss_n = 0.0, 0
            self.version += 1

    def end(self, result):
        """After the run is tested and saved: the page shows the kept network from now on."""
        with self.lock:
            entry = self.entries[-1]
            entry["curves"] = curves(result["history"])
            entry["records"] = list(result["history"].get("layers", []))
            entry["diagnosis"] = list(result["history"].get("diagnosis", []))
            entry["test_accuracy"] = result.get("test_accuracy")
            entry["status"] = result.get("status", "finished")
            epochs = entry["curves"]["epoch"]
            self.snapshot = self.at_epoch = Snapshot(
                result["params"], result["stats"], entry["activation"], self._steps,
                float(epochs[-1]) if epochs else 0.0)
            self.status = entry["status"]
            # the last epoch run, not the next one, which will not come
            self.progress.update(eta=0, epoch=min(self.progress["epoch"], max(len(epochs), 1)))
            self.version += 1
        with self.cond:
            self._paused = False
            self._want = False
            self.cond.notify_all()

    # in the training thread, called from step

    def _point(self, done, total, now):
        """A point of the running loss, and the progress figures: steps/s, time left."""
        self._next_point = now + POINT_SECONDS
        self._rate.append((now, self._steps))
        (t0, s0), (t1, s1) = self._rate[0], self._rate[-1]
        rate = (s1 - s0) / (t1 - t0) if t1 > t0 else None
        with self.lock:
            entry = self.entries[-1]
            p = self.progress
            loss = self._loss_sum / max(self._loss_n, 1)
            seconds = [s for s in entry["curves"]["seconds"] if s]
            left = total - done
            later = entry["epochs"] - p["epoch"]  # whole epochs after this one
            eta = None
            if rate:
                per_epoch = float(np.median(seconds)) if seconds else total / rate
                eta = left / rate + later * per_epoch
            p.update(done=done, total=total, loss=loss, steps=self._steps, steps_per_s=rate,
                     eta=eta)
            self.running.append((p["epoch"] - 1 + done / total, loss))

    def _copy(self, done, total):
        """Take the copy of the network a request asked for (params are consistent here)."""
        with self.cond:
            entry = self.entries[-1]
            self.snapshot = Snapshot(self.run["params"], self.run["stats"], entry["activation"],
                                     self._steps, self.progress["epoch"] - 1 + done / total)
            self._want = False
            self._copies += 1
            self.cond.notify_all()

    def _stopped(self):
        """Whether the run's stop flag is set (Ctrl-C, or stop from the page)."""
        stop = self.run.get("stop") if self.run else None
        return bool(getattr(stop, "set", False))

    def _hold(self, done, total):
        """Paused: wait, answering requests for copies, until continued or stopped."""
        with self.lock:
            self.status = "paused"
        self._point(done, total, time.perf_counter())
        self._copy(done, total)  # the pad answers with the paused network
        with self.cond:
            while self._paused and not self._stopped():
                if self._want:
                    self._copy(done, total)
                self.cond.wait(0.1)
        with self.lock:
            self.status = "stopping" if self._stopped() else "training"
        self._rate.clear()  # the pause is not training time

    # for the server's threads

    def network(self):
        """A copy of the network as it stands, taken between steps by the training thread.

        While a run trains, asks the training thread for a new copy when the
        last is over FRESH seconds old and waits up to COPY_WAIT seconds for
        it (between epochs, validation and checkpoints take a while); then
        uses the last copy. Returns a Snapshot, or None before any run began.
        """
        with self.cond:
            snap = self.snapshot
            if self.status in ("training", "paused") and (
                    snap is None or time.monotonic() - snap.taken > FRESH):
                target = self._copies + 1
                self._want = True
                self.cond.wait_for(lambda: self._copies >= target
                                   or self.status not in ("training", "paused"), COPY_WAIT)
            return self.snapshot

    def pause(self):
        """Pause training at the next step (the pad still answers)."""
        with self.lock:
            if self.status not in ("training", "paused"):
                raise RequestError(409, f"the run is {self.status}: nothing to pause")
        with self.cond:
            if not self._paused:
                print("\npaused from the live page: continue there, or press Ctrl-C to stop",
                      flush=True)
            self._paused = True
        with self.lock:
            self.status = "paused"

    def resume(self):
        """Continue a paused run."""
        with self.cond:
            if self._paused:
                print("continued from the live page", flush=True)
                with self.lock:
                    if self.status == "paused":
                        self.status = "training"
            self._paused = False
            self.cond.notify_all()

    def stop(self):
        """Stop the run as Ctrl-C does (after this batch; the best weights saved)."""
        with self.lock:
            if self.status not in ("training", "paused"):
                raise RequestError(409, f"the run is {self.status}: nothing to stop")
            self.status = "stopping"
            run = self.run
        self.stopped_here = True
        run["stop"].request("stop pressed on the live page")
        with self.cond:  # a paused run goes on to the stop
            self._paused = False
            self.cond.notify_all()

    def state(self):
        """What the page polls: status, progress, the running loss, every entry's curves."""
        with self.lock:
            return plain({"status": self.status, "version": self.version,
                          "progress": dict(self.progress), "running": list(self.running),
                          "current": len(self.entries) - 1,
                          "entries": [{"label": e["label"], "layers": e["layers"],
                                       "epochs": e["epochs"], "curves": e["curves"],
                                       "test_accuracy": e.get("test_accuracy")}
                                      for e in self.entries]})

    def epoch_view(self):
        """What changes once an epoch: the layers, the weights, the validation rows' pictures.

        Computed once per version, in the server's thread, from the copy the
        epoch left (never the live params)."""
        with self.lock:
            version, cached = self.view_cache
            if version == self.version:
                return cached
            version, net = self.version, self.at_epoch
            entry = self.entries[-1] if self.entries else None
            run = self.run
        if entry is None:
            return {"version": version, "layers": None, "tiles": None, "validation": None}
        diagnosis = entry["diagnosis"]
        if not diagnosis and entry["records"]:
            diagnosis = diagnostics.diagnose(entry["records"], entry["activation"],
                                             entry["batch_norm"])
        X_val, y_val = run.get("X_val"), run.get("y_val")
        view = {"version": version, "layers": layers_view(entry["records"], diagnosis),
                "tiles": weight_tiles(first_weights(net.params)),
                "validation": (validation_view(net, X_val, y_val, entry["layers"][-1])
                               if X_val is not None and len(X_val) else None)}
        view = plain(view)
        with self.lock:
            self.view_cache = (version, view)
        return view

    def predict(self, body):
        """The answer to a drawing: the row it became, each class's probability, the most
        likely class, each hidden layer's activations."""
        net = self.network()
        if net is None:
            raise RequestError(503, "no network yet: the run has not begun")
        n_in = first_weights(net.params).shape[0]
        x, doubts = prepare_drawing(body, n_in)
        P, hidden = answer(net, x)
        return plain({"input": x.tolist(), "probs": P.tolist(), "answer": int(P.argmax()),
                      "hidden": [np.round(A.astype(np.float64), 4).tolist() for A in hidden],
                      "step": net.step, "epoch": round(net.epoch, 3), "warnings": doubts})

    def show_saved(self, saved, label=""):
        """Show a finished run, as runs.load_weights returns it: its curves, its layers, its
        weights, and the pad answering with them."""
        history = saved.get("history") or {}
        config = {"ACTIVATION": "relu", "BATCH_NORM": False, **saved.get("config", {}),
                  "LAYERS": list(saved["layers"])}
        self.begin({"config": config, "label": label, "params": saved["params"],
                    "stats": saved["stats"], "history": history,
                    "epochs": len(history.get("epoch", [])), "steps_per_epoch": 0})
        self.end({**saved, "history": history, "status": saved.get("status") or "finished"})

    # the server

    def serve(self, host="127.0.0.1", port=8000, tries=PORT_TRIES, out=None):
        """Start the server on a thread of its own; returns the address, or None (one line
        said why) when no port could be had. Port 0 lets the system choose."""
        out = out or sys.stdout
        server, error = None, None
        for p in [port] if port == 0 else range(port, min(port + tries, 65536)):
            try:
                server = Server((host, p), Handler, self)
                break
            except OSError as e:
                error = e
                if e.errno not in (98, 48, 10048):  # EADDRINUSE (Linux, macOS, Windows)
                    break
        if server is None:
            print(f"warning: live view: could not listen on {host}:{port} "
                  f"({getattr(error, 'strerror', None) or error}); the run goes on without it",
                  file=out, flush=True)
            return None
        bound = server.server_address[1]
        if port and bound != port:
            print(f"live view: port {port} is taken; using {bound}", file=out)
        shown = f"[{host}]" if ":" in host else host
        self.server, self.url = server, f"http://{shown}:{bound}/"
        threading.Thread(target=self._serve_forever, name="live-view", daemon=True).start()
        return self.url

    def _serve_forever(self):
        try:
            self.server.serve_forever(poll_interval=0.25)
        except Exception as e:  # noqa: BLE001 -- whatever broke, the run goes on
            print(f"warning: live view stopped ({type(e).__name__}: {e}); the run goes on",
                  file=sys.stderr, flush=True)

    def close(self):
        """Stop the server (the page stops updating)."""
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
            self.server = None

    def linger(self):
        """After the run: keep serving the finished run until Ctrl-C."""
        if self.server is None:
            return
        print(f"the live page shows the finished run at {self.url} until Ctrl-C", flush=True)
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            print()
        finally:
            self.close()


class Server(http.server.ThreadingHTTPServer):
    """The standard library's threading server, quiet, knowing its Live, its files, and how
    many requests it answers at once."""

    daemon_threads = True
    allow_reuse_address = False  # a port another process listens on counts as taken

    def __init__(self, address, handler, live):
        self.address_family = socket.AF_INET6 if ":" in address[0] else socket.AF_INET
        super().__init__(address, handler)
        self.live = live
        self.files = web_files()
        self.slots = threading.BoundedSemaphore(MAX_REQUESTS)
        host = address[0]
        port = self.server_address[1]
        self.hosts = ({f"{h}:{port}" for h in ("127.0.0.1", "localhost", "[::1]")}
                      if host in LOOPBACK else None)

    def handle_error(self, request, client_address):
        """A connection that broke (a closed tab): nothing to print."""


def web_files(folder=WEB):
    """Every file of the page, read once: {"/path": (bytes, content type)}; "/" is index.html.

    Only regular files inside the folder, never a link: nothing a request
    names is ever opened."""
    files = {}
    root = folder.resolve()
    for path in sorted(root.rglob("*")):
        if path.is_symlink() or not path.is_file() or path.suffix not in TYPES:
            continue
        if root not in path.resolve().parents:
            continue
        files["/" + path.relative_to(root).as_posix()] = (path.read_bytes(), TYPES[path.suffix])
    if "/index.html" in files:
        files["/"] = files["/index.html"]
    return files


class Handler(http.server.BaseHTTPRequestHandler):
    """One request: a file of the page, the state, an epoch's view, a drawing, a control."""

    server_version = "live"
    sys_version = ""
    protocol_version = "HTTP/1.1"

    def log_message(self, format, *args):
        """No line on the console per request."""

    def handle_one_request(self):
        """Answer one request, never letting an exception reach the console."""
        try:
            super().handle_one_request()
        except (ConnectionError, TimeoutError):
            self.close_connection = True
        except Exception as e:  # noqa: BLE001 -- a bug must not print a traceback in the run
            self.close_connection = True
            try:
                self.reply(500, {"error": f"the server failed ({type(e).__name__})"})
            except OSError:
                pass

    def reply(self, status, payload, kind="application/json", extra=()):
        """Send a whole answer: JSON (a dict) or bytes of the given type."""
        body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.send_header("X-Content-Type-Options", "nosniff")
        self.send_header("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; "
                                                    "style-src 'self' 'unsafe-inline'")
        for name, value in extra:
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def refuse(self, status, message):
        self.reply(status, {"error": message})

    def checked(self, method):
        """Answer through the method, turning a RequestError into its 4xx; at most
        MAX_REQUESTS at once."""
        if not self.server.slots.acquire(blocking=False):
            self.close_connection = True
            return self.refuse(503, "too many requests at once")
        try:
            if self.server.hosts is not None and self.headers.get("Host") not in self.server.hosts:
                raise RequestError(403, "this server answers only to its own address "
                                        "(the Host header names another)")
            method()
        except RequestError as e:
            if e.status >= 413 or e.status == 411:
                self.close_connection = True  # the body was not read
            self.refuse(e.status, str(e))
        finally:
            self.server.slots.release()

    def do_GET(self):
        self.checked(self.get)

    def do_HEAD(self):
        self.checked(self.get)

    def do_POST(self):
        self.checked(self.post)

    def path_only(self):
        return urllib.parse.urlsplit(self.path).path

    def get(self):
        path, live = self.path_only(), self.server.live
        if path == "/api/state":
            return self.reply(200, live.state())
        if path == "/api/epoch":
            return self.reply(200, live.epoch_view())
        if path.startswith("/api/"):
            raise RequestError(405 if path in POSTS else 404, f"no such GET: {path}")
        found = self.server.files.get(path)
        if found is None:
            raise RequestError(404, "not found")
        content, kind = found
        if path in ("/", "/index.html"):  # the page carries this run's token
            content = content.replace(b"{{TOKEN}}", live.token.encode())
        self.reply(200, content, kind)

    def post(self):
        path, live = self.path_only(), self.server.live
        if path not in POSTS:
            raise RequestError(404, f"no such POST: {path}")
        length = self.headers.get("Content-Length")
        if length is None or not length.isdigit():
            raise RequestError(411, "a POST needs a Content-Length")
        if int(length) > MAX_BODY:
            left = int(length) if int(length) <= DRAIN else 0
            while left > 0:  # read it (up to DRAIN), so that the client hears the answer
                chunk = self.rfile.read(min(65536, left))
                left = left - len(chunk) if chunk else 0
            raise RequestError(413, f"the body is {int(length):,} bytes; at most {MAX_BODY:,}")
        if self.headers.get_content_type() != "application/json":
            raise RequestError(415, "a POST's body must be JSON (Content-Type: application/json)")
        raw = self.rfile.read(int(length))
        if path != "/api/predict":
            token = self.headers.get(TOKEN_HEADER, "")
            if not secrets.compare_digest(token.encode(), live.token.encode()):
                raise RequestError(403, f"{path} needs the page's token (the {TOKEN_HEADER} "
                                        "header)")
            getattr(live, POSTS[path])()
            return self.reply(200, {"status": live.status})
        self.reply(200, live.predict(read_body(raw)))


POSTS = {"/api/predict": "predict", "/api/pause": "pause", "/api/continue": "resume",
         "/api/stop": "stop"}


# ----------------------------------------------------------------------------
# starting it from main.py


def has_display():
    """Whether a browser can be shown here: a desktop (macOS, Windows) or an X or Wayland
    display; never on a server or in CI without one."""
    if sys.platform in ("darwin", "win32"):
        return True
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


def start(c, open_browser=True, out=None, live=None,
          what="live view of the training (the page stays after the run until Ctrl-C)"):
    """The live view of main.py's settings: a Live (a new one, or live) serving at
    LIVE_HOST:LIVE_PORT, its address printed on a line of its own after what it shows
    (what), a browser opened where there is a display. Returns the Live, or None when it
    could not listen (one warning line; the run trains all the same)."""
    out = out or sys.stdout
    live = live or Live()
    url = live.serve(c["LIVE_HOST"], c["LIVE_PORT"], out=out)
    if url is None:
        return None
    if c["LIVE_HOST"] not in LOOPBACK:
        print(f"warning: LIVE_HOST = {c['LIVE_HOST']!r}: anyone who can reach this address "
              "can watch the run, and pause or stop it", file=out)
    print(f"{what}:\n{url}", file=out, flush=True)
    if open_browser and has_display():
        threading.Thread(target=webbrowser.open, args=(url,), daemon=True).start()
    return live


def watchers(c, open_browser=True):
    """main.py's live view: [a Live serving its page] when LIVE is set (and a port could be
    had), else []."""
    page = start(c, open_browser) if c["LIVE"] else None
    return [page] if page is not None else []


def linger(views, results):
    """After main.py's runs: each live page stays, showing them, until Ctrl-C; not after a
    run that Ctrl-C or SIGTERM stopped (the user asked to be done), only after one stopped
    from the page."""
    for view in views:
        if isinstance(view, Live) and not (results and results[-1]["status"] == "stopped"
                                           and not view.stopped_here):
            view.linger()


def show_weights(c, path, load, open_browser=True):
    """Serve a finished run from its weights file, without training, until Ctrl-C.

    load -- runs.load_weights (which checks the file and raises InputError).
    Returns an exit status: 0, or 4 when no port could be had. Raises
    InputError for a list of files (a committee) or a file that is not weights."""
    if not isinstance(path, str):  # a list: a committee, which has no single network to show
        raise InputError("WEIGHTS: the live page shows one network: give one weights file, "
                         "not a list")
    live = Live()
    live.show_saved(load(path), os.path.basename(os.path.dirname(os.path.abspath(path))))
    try:
        shown = f"the finished run of {path} (nothing trains; the page stays until Ctrl-C)"
        if start(c, open_browser, live=live, what=shown) is None:
            return 4
        live.linger()
    except KeyboardInterrupt:  # before linger was waiting for it: the same end
        live.close()
    return 0
