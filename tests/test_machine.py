"""machine.py: the BLAS threads of a run. THREADS = n uses n; THREADS = 0 chooses them when
the run begins from the CPUs other work leaves free, keeps them, and lowers them only when
an epoch slows down more than threefold; a recorded count (a resumed run's) is kept."""

import os

import pytest

import machine


@pytest.mark.parametrize("others, cpus, threads", [
    (0.0, 2, 2), (0.2, 2, 2), (0.25, 2, 2), (0.3, 2, 1), (1.0, 2, 1), (1.9, 2, 1), (5.0, 2, 1),
    (0.0, 1, 1), (1.0, 1, 1),
    (0.0, 8, 8), (1.0, 8, 7), (1.3, 8, 6), (2.5, 8, 5), (20.0, 8, 1),
])
def test_threads_for_load_leaves_each_busy_cpu_to_the_work_on_it(others, cpus, threads):
    """Every CPU that other work uses more than OTHERS_TOLERATED of is left to it; never 0."""
    assert machine.OTHERS_TOLERATED == 0.25
    assert machine.threads_for_load(others, cpus) == threads


def blas_threads_now():
    """The threads of NumPy's BLAS, as threadpoolctl reads them."""
    import threadpoolctl
    return [p["num_threads"] for p in threadpoolctl.threadpool_info() if p["user_api"] == "blas"]


def test_a_fixed_threads_setting_is_set_and_given_back():
    """THREADS = 1 sets one BLAS thread for training, and end() restores what there was."""
    before = blas_threads_now()
    threads = machine.BlasThreads(1)
    threads.begin()
    assert set(blas_threads_now()) == {1}
    assert threads.epoch_done(100.0) == "" and threads.epoch_done(1.0) == ""
    assert set(blas_threads_now()) == {1}  # a fixed setting never looks at the load
    threads.end()
    assert blas_threads_now() == before


@pytest.fixture
def clock(monkeypatch):
    """A fake wall clock, busy time of the CPUs and own CPU time, on a 2-CPU machine."""
    now = {"wall": 100.0, "busy": 1000.0, "own": 5.0}
    monkeypatch.setattr(machine.time, "perf_counter", lambda: now["wall"])
    monkeypatch.setattr(machine.time, "process_time", lambda: now["own"])
    monkeypatch.setattr(machine.time, "sleep", lambda s: now.update(wall=now["wall"] + s))
    monkeypatch.setattr(machine, "busy_cpu_seconds", lambda cpus: now["busy"])
    return now


def two_cpus(threads):
    threads.cpus = {0, 1}
    return threads


def test_threads_0_chooses_one_thread_when_other_work_keeps_a_cpu_busy(clock):
    threads = two_cpus(machine.BlasThreads(0))
    # while the data loaded (1.5 s), this process used 1.5 CPU s, the CPUs were busy 3 s
    clock.update(wall=101.5, busy=1003.0, own=6.5)
    threads.begin()
    assert (threads.threads, set(blas_threads_now())) == (1, {1})
    threads.end()


def test_threads_0_keeps_its_count_while_epochs_run_at_their_pace(clock):
    before = blas_threads_now()
    threads = two_cpus(machine.BlasThreads(0))
    clock.update(wall=101.5, busy=1001.5, own=6.5)  # quiet: only our own work
    threads.begin()
    assert (threads.threads, set(blas_threads_now())) == (2, {2})
    for _ in range(3):  # epochs of 1 s, at 2 CPUs of our own work
        clock.update(wall=clock["wall"] + 1, busy=clock["busy"] + 2, own=clock["own"] + 2)
        assert threads.epoch_done(1.0) == ""
    # other work comes: an epoch of 4 s in which it took 1 CPU
    clock.update(wall=clock["wall"] + 4, busy=clock["busy"] + 8, own=clock["own"] + 4)
    line = threads.epoch_done(4.0)
    assert "from 2 to 1" in line and "4.0x" in line
    assert (threads.threads, set(blas_threads_now())) == (1, {1})
    # it never goes back up within the run
    clock.update(wall=clock["wall"] + 1, busy=clock["busy"] + 1, own=clock["own"] + 1)
    assert threads.epoch_done(1.0) == "" and threads.threads == 1
    threads.end()
    assert blas_threads_now() == before


def test_a_slow_epoch_on_a_quiet_machine_changes_nothing(clock):
    threads = two_cpus(machine.BlasThreads(0))
    clock.update(wall=101.5, busy=1001.5, own=6.5)
    threads.begin()
    clock.update(wall=102.5, busy=1003.5, own=8.5)
    threads.epoch_done(1.0)
    clock.update(wall=106.5, busy=1011.5, own=16.5)  # slow, but all of it our own work
    assert threads.epoch_done(4.0) == "" and threads.threads == 2
    threads.end()


def test_a_recorded_count_is_kept_whatever_the_load(clock):
    """A resumed run uses the count in its checkpoint, so it ends bit for bit the same."""
    threads = two_cpus(machine.BlasThreads(0, recorded=2))
    clock.update(wall=101.5, busy=1003.0, own=6.5)  # busy: a fresh choice would be 1
    threads.begin()
    assert (threads.threads, set(blas_threads_now())) == (2, {2})
    threads.end()


def test_threads_0_without_proc_stat_leaves_the_blas_alone(monkeypatch):
    """Where the load cannot be read, THREADS = 0 keeps the BLAS's own thread count."""
    def no_proc_stat(cpus):
        raise OSError("no /proc/stat")

    monkeypatch.setattr(machine, "busy_cpu_seconds", no_proc_stat)
    before = blas_threads_now()
    threads = machine.BlasThreads(0)
    threads.begin()
    assert threads.epoch_done(9.0) == ""
    assert blas_threads_now() == before
    threads.end()


def test_busy_cpu_seconds_reads_proc_stat():
    """On Linux, the busy seconds of this process's CPUs since boot: positive, never falling."""
    if not os.path.exists("/proc/stat"):
        pytest.skip("no /proc/stat here")
    cpus = os.sched_getaffinity(0)
    first = machine.busy_cpu_seconds(cpus)
    sum(i * i for i in range(200_000))  # some work of our own
    assert 0 < first <= machine.busy_cpu_seconds(cpus)


def test_more_threads_than_cpus_are_capped_with_a_line(capsys):
    """THREADS = 64 on a machine of few CPUs would make every product wait: it is capped."""
    threads = machine.BlasThreads(64)
    cpus = len(threads.cpus)
    assert threads.threads == cpus
    assert f"using {cpus} threads" in capsys.readouterr().out


# ----------------------------------------------------------------------------
# memory


def traced_peak(c, n_train=1500, n_test=10_000):
    """Bytes tracemalloc counts at the peak of main.train on random rows and the logits of a
    test set, as a run does them (NumPy reports its arrays to tracemalloc)."""
    import contextlib
    import io
    import tracemalloc

    import numpy as np

    import main
    import utils

    rng = np.random.default_rng(0)
    X = rng.integers(0, 256, (n_train, c["LAYERS"][0]), dtype=np.uint8)
    y = np.arange(n_train) % 10
    X_test = rng.integers(0, 256, (n_test, c["LAYERS"][0]), dtype=np.uint8)
    tracemalloc.start()
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            result = main.train(c, X, y, X[:500], y[:500], np.random.default_rng(1))
            utils.predict_logits(result["params"], X_test, c["ACTIVATION"], stats=result["stats"])
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


@pytest.mark.parametrize("changes", [
    {"LAYERS": [784, 600, 600, 10]},  # the test set's logits are the peak
    {"LAYERS": [784, 600, 600, 10], "OPTIMISER": "adam", "BATCH_SIZE": 1500,
     "BATCH_NORM": True, "DROPOUT": 0.2},  # training is
], ids=["evaluation", "training"])
def test_the_memory_estimate_is_near_the_measured_peak(changes):
    import main

    c = dict(main.DEFAULTS, EPOCHS=1, THREADS=1, **changes)
    estimate = machine.memory_needed(c) - machine.BASE_MEMORY
    peak = traced_peak(c)
    assert 0.8 * peak <= estimate <= 1.6 * peak, (estimate, peak)


def test_a_network_too_big_for_the_memory_is_refused_in_one_line(monkeypatch):
    import data
    import main

    huge = dict(main.DEFAULTS, LAYERS=[784, 100_000, 100_000, 10])
    assert machine.memory_needed(huge) > 4 * 1e10 * 5  # 1e10 weights, 5 copies of 4 bytes
    monkeypatch.setattr(machine, "available_memory", lambda: 24 * 10**9)
    with pytest.raises(data.InputError) as info:
        machine.check_memory([("", dict(main.DEFAULTS)), ("[784, 100000, 100000, 10]", huge)])
    message = str(info.value)
    assert message.startswith("COMPARE entry [784, 100000, 100000, 10]: LAYERS = ")
    assert f"about {machine.size_text(machine.memory_needed(huge))}" in message
    assert "24.0 GB is available" in message and "\n" not in message
    assert message.endswith("try fewer or narrower layers")  # with one row it would not fit
    machine.check_memory([("", dict(main.DEFAULTS))])  # the default network fits
    big_batch = dict(main.DEFAULTS, BATCH_SIZE=100_000_000)  # the batch, not the network
    with pytest.raises(data.InputError, match=r"BATCH_SIZE = 100000000 needs about .*: try a "
                                              r"smaller BATCH_SIZE$"):
        machine.check_memory([("", big_batch)])
    monkeypatch.setattr(machine, "available_memory", lambda: None)
    machine.check_memory([("", huge)])  # unknown: not refused


def test_available_memory_falls_back_when_meminfo_is_unreadable(monkeypatch):
    import builtins

    real = builtins.open

    def no_proc(path, *args, **kwargs):
        if str(path) == "/proc/meminfo":
            raise FileNotFoundError(2, "No such file or directory", path)
        return real(path, *args, **kwargs)

    monkeypatch.setattr(builtins, "open", no_proc)
    assert machine.available_memory() == os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")


class _FakeLibc:
    """A C library whose mallopt records its calls and answers `answer`."""

    def __init__(self, answer):
        self.calls, self.answer = [], answer

        def mallopt(param, value):
            self.calls.append((param, value))
            return self.answer

        self.mallopt = mallopt


def test_keep_freed_memory_raises_both_thresholds_of_mallopt(monkeypatch):
    libc = _FakeLibc(1)
    monkeypatch.setattr(machine.ctypes, "CDLL", lambda name: libc)
    assert machine.keep_freed_memory() is True
    assert libc.calls == [(machine.M_MMAP_THRESHOLD, 32 * 2**20),
                          (machine.M_TRIM_THRESHOLD, 2**30)]


def test_keep_freed_memory_is_false_where_the_c_library_has_no_mallopt_or_refuses(monkeypatch):
    monkeypatch.setattr(machine.ctypes, "CDLL", lambda name: object())  # macOS: no mallopt
    assert machine.keep_freed_memory() is False

    def no_library(name):
        raise OSError("no such library")

    monkeypatch.setattr(machine.ctypes, "CDLL", no_library)
    assert machine.keep_freed_memory() is False
    monkeypatch.setattr(machine.ctypes, "CDLL", lambda name: _FakeLibc(0))  # musl: ignored
    assert machine.keep_freed_memory() is False


def test_keep_freed_memory_takes_on_this_machine_when_it_runs_glibc():
    import platform
    if platform.libc_ver()[0] != "glibc":
        pytest.skip("not a glibc system: mallopt is not expected")
    assert machine.keep_freed_memory() is True
