"""The live view's server (live.py) through the standard library's HTTP client, and the
terminal's progress line (progress.py).

A small network is trained by tests/helpers.watched_run, which calls the
watchers where main.py's loop calls them. The tests check the answers'
shapes, that a drawing is prepared exactly as --PREDICT prepares a picture,
that the pad's network is a copy taken between two steps, the refusals
(404 for every escape tried, 413, 400, 403, 405, 411, 415), that no
traceback reaches the console, and pause, continue and stop.
"""

import base64
import http.client
import io
import json
import threading
import time

import numpy as np
import pytest
from helpers import FakeStop, draw, watched_run

import digit
import live
import progress
import utils


@pytest.fixture(scope="module")
def rows(mnist_small):
    """(X, y, X_val, y_val): 1000 training rows and 400 validation rows."""
    X, y = mnist_small
    return X[:1000], y[:1000], X[1000:1400], y[1000:1400]


@pytest.fixture(scope="module")
def finished(rows):
    """A Live serving a finished two-epoch run of [784, 32, 10]; the run's result."""
    watcher = live.Live()
    watcher.serve("127.0.0.1", 0)
    result = watched_run([watcher], *rows, epochs=2)
    yield watcher, result
    watcher.close()


def request(watcher, method, path, body=None, headers=None):
    """(status, parsed JSON or raw bytes) of one request to the watcher's server."""
    conn = http.client.HTTPConnection("127.0.0.1", watcher.server.server_address[1], timeout=20)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        answer = conn.getresponse()
        raw = answer.read()
    finally:
        conn.close()
    if answer.getheader("Content-Type", "").startswith("application/json"):
        return answer.status, json.loads(raw)
    return answer.status, raw


def post(watcher, path, payload, headers=None):
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    return request(watcher, "POST", path, body,
                   {"Content-Type": "application/json", **(headers or {})})


def png_url(picture):
    """A data URL of a PNG of a picture: (h, w) floats 0..1 or an uint8 array."""
    from PIL import Image

    a = np.asarray(picture)
    if a.dtype != np.uint8:
        a = np.round(a * 255).astype(np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(a).save(buffer, "PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


# ----------------------------------------------------------------------------
# the answers


def test_the_state_has_the_curves_and_the_progress(finished):
    watcher, result = finished
    status, state = request(watcher, "GET", "/api/state")
    assert status == 200
    assert state["status"] == "finished" and state["current"] == 0
    entry = state["entries"][0]
    assert entry["layers"] == [784, 32, 10] and entry["epochs"] == 2
    assert entry["curves"]["epoch"] == [1, 2]
    assert entry["curves"]["val_acc"] == pytest.approx(result["history"]["val_acc"])
    assert set(state["progress"]) >= {"epoch", "done", "total", "loss", "steps", "steps_per_s",
                                      "eta"}
    assert state["progress"]["steps"] == 20  # 1000 rows in batches of 100, twice
    assert state["progress"]["epoch"] == 2  # the last epoch run, not a third to come


def test_the_epoch_view_has_layers_weights_and_validation(finished):
    watcher, result = finished
    status, view = request(watcher, "GET", "/api/epoch")
    assert status == 200
    layers = view["layers"]
    assert layers["epochs"] == [0, 1, 2]
    assert [layer["name"] for layer in layers["layers"]] == ["layer 1", "output layer"]
    hidden = layers["layers"][0]
    assert len(hidden["hist"]["counts"]) == 40 and len(hidden["dW_rms"]) == 3
    assert hidden["update"][0] is None and hidden["update"][2] > 0
    tiles = view["tiles"]
    W = result["params"][0]["W"]
    shown = np.frombuffer(base64.b64decode(tiles["data"]), np.uint8).reshape(32, 784)
    assert tiles["count"] == 32 and tiles["side"] == 28
    k = int(np.argmax(np.abs(W[:, 0])))  # each tile's largest |weight| is at 0 or 255
    assert shown[0, k] == (255 if W[k, 0] > 0 else 0)
    val = view["validation"]
    C = np.array(val["confusion"])
    assert C.shape == (10, 10) and C.sum() == val["rows"] == 400
    assert val["accuracy"] == pytest.approx(np.trace(C) / 400)
    assert len(val["mistakes"]) == min(live.MISTAKES, 400 - np.trace(C))
    confidences = [m["p_said"] for m in val["mistakes"]]
    assert confidences == sorted(confidences, reverse=True)
    assert all(m["label"] != m["said"] for m in val["mistakes"])


def test_a_drawing_is_prepared_and_answered_as_predict_does(finished, tmp_path):
    watcher, result = finished
    picture = draw("seven", 240, 200)
    status, a = post(watcher, "/api/predict", {"png": png_url(picture)})
    assert status == 200, a
    path = tmp_path / "seven.png"  # --PREDICT's way: the file, read_image, prepare_digit
    path.write_bytes(base64.b64decode(png_url(picture).split(",", 1)[1]))
    x = digit.prepare_digit(digit.read_image(str(path)), path=str(path))
    assert a["input"] == x.tolist()
    P = utils.softmax(utils.predict_logits(result["params"], x[None, :]).astype(np.float64))[0]
    assert a["probs"] == pytest.approx(P.tolist(), abs=1e-6)
    assert a["answer"] == int(P.argmax())
    assert [len(h) for h in a["hidden"]] == [32]
    status, again = post(watcher, "/api/predict", {"pixels": a["input"]})  # a re-answer
    assert status == 200 and again["probs"] == pytest.approx(a["probs"])


def test_the_pads_network_is_a_copy_taken_between_two_steps(rows, monkeypatch):
    """Every copy the pad got equals the params as they were after the step it names."""
    monkeypatch.setattr(live, "FRESH", 0.0)  # a new copy for every request
    class Recorder:  # a watcher before Live: keeps the params after every step
        def begin(self, run):
            self.params, self.after = run["params"], {}

        def step(self, done, total, loss):
            self.after[len(self.after) + 1] = utils.copy_params(self.params)

    recorder, watcher = Recorder(), live.Live()
    watcher.serve("127.0.0.1", 0)
    copies = []

    def ask():
        while run.is_alive():
            net = watcher.network()
            if net is not None and net.step:
                copies.append(net)
            time.sleep(0.01)

    asker = threading.Thread(target=ask)
    run = threading.Thread(target=watched_run, args=([recorder, watcher], *rows),
                           kwargs={"epochs": 2, "pace": 0.005})
    run.start()
    asker.start()
    run.join()
    asker.join()
    watcher.close()
    assert len({net.step for net in copies}) >= 3
    for net in copies:
        for mine, theirs in zip(net.params, recorder.after[net.step]):
            assert mine.keys() == theirs.keys()
            for name in mine:
                np.testing.assert_array_equal(mine[name], theirs[name])


# ----------------------------------------------------------------------------
# the refusals


ESCAPES = ["/../live.py", "/%2e%2e/live.py", "/%2E%2E/%2E%2E/etc/passwd", "/..%2flive.py",
           "/.%2e/live.py", "/vendor/../../live.py", "/vendor/uplot/%2e%2e/%2e%2e/%2e%2e/main.py",
           "//etc/passwd", "/etc/passwd", "/%2fetc%2fpasswd", "/web/index.html", "/live.py",
           "/vendor/uplot/LICENSE", "/..\\live.py", "/%5c..%5clive.py", "/index.html%00.js",
           "/api/../../live.py", "/api/nothing"]


@pytest.mark.parametrize("path", ESCAPES)
def test_every_escape_is_a_404(finished, path):
    status, answer = request(finished[0], "GET", path)
    assert status == 404, path
    assert "error" in answer


def test_its_own_files_are_served(finished):
    watcher = finished[0]
    status, page = request(watcher, "GET", "/")
    assert status == 200 and b'id="pad"' in page and watcher.token.encode() in page
    for path in ("/app.js", "/style.css", "/vendor/uplot/uPlot.iife.min.js",
                 "/vendor/uplot/uPlot.min.css"):
        assert request(watcher, "GET", path)[0] == 200, path


def test_a_link_in_the_folder_is_not_served(tmp_path):
    (tmp_path / "web").mkdir()
    (tmp_path / "web" / "index.html").write_text("<p>page</p>")
    (tmp_path / "secret.js").write_text("secret")
    (tmp_path / "web" / "linked.js").symlink_to(tmp_path / "secret.js")
    assert set(live.web_files(tmp_path / "web")) == {"/", "/index.html"}


def test_an_oversized_body_is_a_413(finished):
    watcher = finished[0]
    status, answer = post(watcher, "/api/predict", b"x" * (live.MAX_BODY + 1))
    assert status == 413 and "at most" in answer["error"]
    conn = http.client.HTTPConnection("127.0.0.1", watcher.server.server_address[1], timeout=10)
    conn.putrequest("POST", "/api/predict")  # claims a gigabyte, sends none of it
    conn.putheader("Content-Type", "application/json")
    conn.putheader("Content-Length", str(10**9))
    conn.endheaders()
    assert conn.getresponse().status == 413
    conn.close()
    big = np.random.default_rng(0).integers(0, 256, (1000, 1010), dtype=np.uint8)  # noise: > 1 MB
    status, answer = post(watcher, "/api/predict", {"png": png_url(big)})
    assert status == 413 and "bytes; at most 1,000,000" in answer["error"]
    wide = np.zeros((4, live.MAX_SIDE + 1), dtype=np.uint8)
    status, answer = post(watcher, "/api/predict", {"png": png_url(wide)})
    assert status == 413 and "pixels" in answer["error"]


def jpeg_url():
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(np.zeros((20, 20), np.uint8)).save(buffer, "JPEG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


@pytest.mark.parametrize("payload, says", [
    (b"{not json", "not JSON"),
    (b"[1, 2]", "JSON object"),
    ({"drawing": 1}, "expected"),
    ({"png": "data:image/jpeg;base64,AAAA"}, "expected"),
    ({"png": "data:image/png;base64,!!!!"}, "base64"),
    ({"png": "data:image/png;base64," + base64.b64encode(b"hello").decode()}, "not a picture"),
    ({"png": jpeg_url()}, "must be a PNG"),
    ({"png": png_url(np.ones((50, 50)))}, "blank"),
    ({"pixels": [0, 1, 2]}, "784 integers"),
    ({"pixels": [300] * 784}, "0..255"),
    ({"pixels": [0.5] * 784}, "integers"),
])
def test_a_malformed_drawing_is_a_400_with_a_message(finished, payload, says):
    status, answer = post(finished[0], "/api/predict", payload)
    assert status == 400 and says in answer["error"]


def test_other_refusals(finished):
    watcher = finished[0]
    assert request(watcher, "GET", "/api/pause")[0] == 405
    assert request(watcher, "POST", "/api/nothing", b"{}",
                   {"Content-Type": "application/json"})[0] == 404
    assert request(watcher, "POST", "/api/predict", b"{}", {"Content-Type": "text/plain"})[0] == 415
    conn = http.client.HTTPConnection("127.0.0.1", watcher.server.server_address[1], timeout=10)
    conn.putrequest("POST", "/api/predict")  # no Content-Length
    conn.putheader("Content-Type", "application/json")
    conn.endheaders()
    assert conn.getresponse().status == 411
    conn.close()
    status, answer = request(watcher, "GET", "/api/state", headers={"Host": "evil.example:80"})
    assert status == 403 and "Host" in answer["error"]


@pytest.mark.parametrize("path", ["/api/pause", "/api/continue", "/api/stop"])
def test_controls_need_the_token(finished, path):
    watcher = finished[0]
    assert post(watcher, path, {})[0] == 403
    assert post(watcher, path, {}, {live.TOKEN_HEADER: "not-the-token"})[0] == 403
    status, answer = post(watcher, path, {"token": watcher.token})  # in the body: not enough
    assert status == 403 and live.TOKEN_HEADER in answer["error"]


def test_no_traceback_reaches_the_console(finished, capfd, monkeypatch):
    watcher = finished[0]
    post(watcher, "/api/predict", b"{broken")
    request(watcher, "GET", "/%2e%2e/live.py")

    def broken():
        raise RuntimeError("a bug")

    monkeypatch.setattr(watcher, "state", broken)
    status, answer = request(watcher, "GET", "/api/state")
    assert status == 500 and "RuntimeError" in answer["error"]
    out, err = capfd.readouterr()
    assert out == "" and err == ""


# ----------------------------------------------------------------------------
# pause, continue, stop


def wait_for(condition, seconds=20):
    end = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < end, "timed out"
        time.sleep(0.02)


def test_pause_continue_and_stop_with_the_token(rows, capsys):
    watcher, stop = live.Live(), FakeStop()
    watcher.serve("127.0.0.1", 0)
    done = []
    run = threading.Thread(target=lambda: done.append(watched_run(
        [watcher], *rows, epochs=50, pace=0.002, stop=stop)))
    run.start()
    token = {live.TOKEN_HEADER: watcher.token}
    try:
        wait_for(lambda: watcher.progress.get("steps", 0) > 3)
        assert post(watcher, "/api/pause", {}, token) == (200, {"status": "paused"})
        time.sleep(0.3)  # the step that was under way ends, then none
        steps = watcher._steps
        status, a = post(watcher, "/api/predict", {"pixels": [0] * 784})  # the pad still answers
        assert status == 200 and a["step"] == steps
        time.sleep(0.5)
        assert watcher._steps == steps and watcher.status == "paused"
        assert post(watcher, "/api/continue", {}, token) == (200, {"status": "training"})
        wait_for(lambda: watcher._steps > steps + 2)
        assert post(watcher, "/api/stop", {}, token)[0] == 200
        run.join(20)
        assert stop.set and "live page" in stop.reason
        assert done[0]["status"] == "stopped" and watcher.status == "stopped"
        assert post(watcher, "/api/pause", {}, token)[0] == 409
    finally:
        stop.set = True
        watcher.resume()
        run.join()
        watcher.close()
    out = capsys.readouterr().out
    assert "paused from the live page" in out and "continued from the live page" in out


def test_compare_entries_are_all_kept(rows):
    watcher = live.Live()
    for label in ("a", "b"):
        watched_run([watcher], *rows, epochs=1, label=label)
    state = watcher.state()
    assert [e["label"] for e in state["entries"]] == ["a", "b"] and state["current"] == 1


# ----------------------------------------------------------------------------
# starting: ports, hosts, the browser, a finished run


def test_a_taken_port_moves_to_the_next_and_says_so(capsys):
    first = live.Live()
    first.serve("127.0.0.1", 0)
    port = first.server.server_address[1]
    second = live.Live()
    try:
        url = second.serve("127.0.0.1", port, tries=5)
        assert url and url != first.url
        assert f"port {port} is taken" in capsys.readouterr().out
    finally:
        first.close()
        second.close()


def test_no_port_at_all_is_one_warning_and_no_watcher(capsys):
    first = live.Live()
    first.serve("127.0.0.1", 0)
    try:
        assert live.Live().serve("127.0.0.1", first.server.server_address[1], tries=1) is None
        out = capsys.readouterr().out
        assert out.startswith("warning: live view: could not listen") and out.count("\n") == 1
    finally:
        first.close()
    c = {"LIVE_HOST": "no-such-host.invalid", "LIVE_PORT": 0}
    assert live.start(c, open_browser=False) is None
    assert capsys.readouterr().out.count("\n") == 1


def test_start_prints_the_address_alone_and_opens_no_browser_without_a_display(
        monkeypatch, capsys):
    opened = []
    monkeypatch.setattr(live.webbrowser, "open", opened.append)
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    monkeypatch.setattr(live.sys, "platform", "linux")
    watcher = live.start({"LIVE_HOST": "127.0.0.1", "LIVE_PORT": 0})
    try:
        lines = capsys.readouterr().out.splitlines()
        assert watcher.url in lines and "warning" not in " ".join(lines)
        time.sleep(0.1)
        assert opened == []
    finally:
        watcher.close()
    watcher = live.start({"LIVE_HOST": "0.0.0.0", "LIVE_PORT": 0}, open_browser=False)
    try:
        assert "anyone who can reach this address" in capsys.readouterr().out
    finally:
        watcher.close()


def test_a_finished_run_is_shown_from_its_weights(finished):
    _, result = finished
    watcher = live.Live()
    saved = {"layers": [784, 32, 10], "params": result["params"], "stats": None,
             "history": result["history"], "config": {"ACTIVATION": "relu"},
             "status": "finished", "test_accuracy": 0.9}
    watcher.show_saved(saved, "a-run")
    state = watcher.state()
    assert state["status"] == "finished" and state["entries"][0]["label"] == "a-run"
    assert state["entries"][0]["curves"]["epoch"] == [1, 2]
    view = watcher.epoch_view()
    assert view["validation"] is None and view["tiles"]["count"] == 32
    assert watcher.predict({"pixels": [0] * 784})["answer"] in range(10)


def test_a_diagnosis_line_goes_beside_the_layers_it_names():
    assert live.layer_of("layer 1 gets gradients 30x smaller than layer 3", 4) == [0]
    assert live.layer_of("layers 1, 2 and 3: 60%, 70% and 80% of the units are dead", 4) == [0, 1, 2]
    assert live.layer_of("the output layer's gradients grew 200x", 4) == [3]
    assert live.layer_of("each step moves layer 2's weights by 0.2 of their size", 4) == [1]
    assert live.layer_of("each step moves the output layer's weights", 4) == [3]
    assert live.layer_of("after 3 epochs the network is still at chance", 4) == []


# ----------------------------------------------------------------------------
# the terminal's progress line


class Screen(io.StringIO):
    def isatty(self):
        return True


def test_the_progress_line_is_redrawn_in_place_on_a_terminal(monkeypatch):
    monkeypatch.setattr(progress, "DELAY", 0.0)
    monkeypatch.setattr(progress, "REDRAW", 0.0)
    screen = Screen()
    bar = progress.Progress(screen)
    for done in range(1, 11):
        bar.step(done, 10, 0.5)
    text = screen.getvalue()
    assert text.count("\r") >= 9 and "\n" not in text
    assert "batch 8/10" in text and "running loss 0.5000" in text and "s left" in text
    assert text.endswith("\r") and text.rstrip("\r").split("\r")[-1].strip() == ""  # wiped


def test_the_progress_line_waits_and_stays_out_of_files(monkeypatch):
    screen = Screen()
    bar = progress.Progress(screen)
    for done in range(1, 11):  # a short epoch: under DELAY seconds
        bar.step(done, 10, 0.5)
    assert screen.getvalue() == ""
    monkeypatch.setattr(progress, "DELAY", 0.0)
    log = io.StringIO()  # not a terminal
    bar = progress.Progress(log)
    for done in range(1, 11):
        bar.step(done, 10, 0.5)
    assert log.getvalue() == ""


# ----------------------------------------------------------------------------
# python main.py --LIVE=True


def live_main(tmp_path, *args):
    """Start `python main.py --LIVE=True --LIVE_PORT=0 args` (no display: no browser); return
    the process and the page's address, read from its output."""
    import os
    import subprocess
    import sys

    from helpers import MAIN

    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    child = subprocess.Popen([sys.executable, "-u", str(MAIN), "--LIVE=True", "--LIVE_PORT=0",
                              f"--RUNS_DIR={tmp_path / 'runs'}", *args], cwd=tmp_path,
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                             env=env)
    lines = []
    for line in child.stdout:
        lines.append(line)
        if line.startswith("http://"):
            return child, line.strip(), lines
    child.wait()
    raise AssertionError("no address printed:\n" + "".join(lines))


def get_state(url):
    host, port = url.removeprefix("http://").rstrip("/").rsplit(":", 1)
    conn = http.client.HTTPConnection(host, int(port), timeout=10)
    try:
        conn.request("GET", "/api/state")
        return json.loads(conn.getresponse().read())
    finally:
        conn.close()


def ctrl_c(child):
    """Ctrl-C the child once it says the page stays until Ctrl-C; its exit status and the
    rest of its output."""
    import signal

    lines = []
    for line in child.stdout:
        lines.append(line)
        if "until Ctrl-C" in line:
            break
    child.send_signal(signal.SIGINT)
    rest, _ = child.communicate(timeout=30)
    return child.returncode, "".join(lines) + rest


def test_main_trains_with_the_page_which_stays_until_ctrl_c(tmp_path, repo, head_csv):
    train = head_csv(repo / "train.csv", tmp_path / "train.csv", 1500)
    test = head_csv(repo / "test.csv", tmp_path / "test.csv", 200)
    child, url, _ = live_main(tmp_path, f"--TRAIN_CSV={train}", f"--TEST_CSV={test}",
                              "--EPOCHS=2", "--LAYERS=[784,32,10]")
    try:
        wait_for(lambda: get_state(url)["status"] == "finished", 60)
        state = get_state(url)
        assert state["entries"][0]["curves"]["epoch"] == [1, 2]
        assert state["entries"][0]["test_accuracy"] is not None
    finally:
        code, rest = ctrl_c(child)
    assert code == 0, rest  # it stayed until Ctrl-C
    assert "the live page shows the finished run" in rest and "Traceback" not in rest
    assert "\r" not in rest  # no progress line into a pipe
    weights = next((tmp_path / "runs").glob("*/weights.pkl"))
    child, url, said = live_main(tmp_path, f"--WEIGHTS={weights}")  # the finished run, again
    try:
        assert "nothing trains" in "".join(said) and "of the training" not in "".join(said)
        state = get_state(url)
        assert state["status"] == "finished"
        assert state["entries"][0]["curves"]["epoch"] == [1, 2]
        assert state["progress"]["epoch"] == 2
    finally:
        code, rest = ctrl_c(child)
    assert code == 0 and "Traceback" not in rest, rest


def test_main_live_with_a_bad_weights_file_is_one_line(tmp_path):
    from helpers import assert_user_error, run_cli

    (tmp_path / "bad.pkl").write_bytes(b"not a pickle")
    assert_user_error(run_cli(tmp_path, "--LIVE=True", "--LIVE_PORT=0",
                              f"--WEIGHTS={tmp_path / 'bad.pkl'}"), prefix=str(tmp_path))
    assert_user_error(run_cli(tmp_path, "--LIVE=True", "--LIVE_PORT=0",
                              "--WEIGHTS=['a.pkl','b.pkl']"), prefix="WEIGHTS", contains=["one"])


@pytest.mark.parametrize("name, value, says", [("LIVE_PORT", 70000, "port number"),
                                               ("LIVE_PORT", -1, "port number"),
                                               ("LIVE_HOST", "", "an address"),
                                               ("LIVE_HOST", "http://x/", "an address")])
def test_the_live_settings_are_checked(name, value, says):
    import main
    import settings
    from data import InputError

    with pytest.raises(InputError, match=says):
        settings.check({**main.DEFAULTS, name: value})
