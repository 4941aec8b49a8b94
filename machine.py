"""The machine a run trains on: how many threads the BLAS (the matrix products) uses.

A matrix product split over threads ends with its slowest thread, so a
thread that shares its CPU with another process holds up every product:
on this project's 2-core machine, an epoch took 8 to 44 times as long on 2
BLAS threads as on 1 while other work kept a CPU busy (docs/performance.md,
"BLAS threads under load"), while on a quiet machine 2 threads are faster. OpenBLAS also
rounds its products a little differently on 1 and on 2 threads, so the
thread count is chosen once, when a run begins, from the CPUs other work
leaves free, and kept: a run repeats to the last bit on the same count, and
a resumed run uses the count recorded in its checkpoint. It is lowered,
never raised, only when an epoch takes more than three times the fastest
epoch on the current count (other work came), and every count used is
recorded in the run's history. The threads are set with threadpoolctl.

It also tells, before any data is loaded, whether a network fits in the
memory the machine has free (memory_needed, check_memory), and asks the C
library's malloc to keep the memory of freed arrays for the next batch's
(keep_freed_memory).
"""

import ctypes
import inspect
import itertools
import math
import os
import time

import settings
import utils
from data import InputError

OTHERS_TOLERATED = 0.25  # CPUs' worth of other work that still leaves a CPU to BLAS
SLOWER = 3.0  # an epoch this many times the fastest makes THREADS = 0 look at the load again
BASE_MEMORY = 250 * 2**20  # Python, NumPy, pandas and MNIST's 70,000 rows of uint8: a run of
# [784,16,10] on the full train.csv peaked at 222 MB resident (/usr/bin/time -v)
MOMENTS = {"sgd": 0, "momentum": 1, "nesterov": 1, "adam": 2, "adamw": 2}  # arrays per parameter


def threads_for_load(others, cpus):
    """How many BLAS threads to use while other processes keep `others` CPUs busy.

    Each CPU's worth of other work costs a thread, anything over
    OTHERS_TOLERATED counting as a whole CPU.
    others -- CPUs' worth of other work, e.g. 1.0 for one busy process
    cpus   -- the CPUs this process may run on; returns an int in 1..cpus
    """
    taken = math.ceil(others - OTHERS_TOLERATED) if others > OTHERS_TOLERATED else 0
    return max(1, cpus - taken)


def busy_cpu_seconds(cpus):
    """Seconds the given CPUs have spent busy since boot, from Linux's /proc/stat.

    Busy is user, nice, system, irq, softirq and steal time (the last is
    time a virtual machine's host gave to others). Raises OSError where
    there is no /proc/stat.
    """
    ticks = 0
    with open("/proc/stat", encoding="ascii") as f:
        for line in f:
            name, *fields = line.split()
            if name[:3] == "cpu" and name[3:].isdigit() and int(name[3:]) in cpus:
                user, nice, system, _idle, _iowait, irq, softirq, steal = map(int, fields[:8])
                ticks += user + nice + system + irq + softirq + steal
    return ticks / os.sysconf("SC_CLK_TCK")


class BlasThreads:
    """The BLAS threads of a run: THREADS of them, or for 0, what the load leaves.

    setting -- main.py's THREADS; recorded -- for THREADS = 0, a count to
    keep (a resumed run's, from its checkpoint), or None to choose one.
    The load is measured between looks: from this object's making (say,
    while the data loads) to begin(), then over each epoch, as the CPU time
    this process's CPUs spent busy less this process's own. Where it cannot
    be read (no /proc/stat), THREADS = 0 leaves the BLAS's own count.
    """

    def __init__(self, setting, recorded=None):
        import threadpoolctl  # here: a run that only predicts never needs it

        self.controller = threadpoolctl.ThreadpoolController().select(user_api="blas")
        self.cpus = (os.sched_getaffinity(0) if hasattr(os, "sched_getaffinity")
                     else set(range(os.cpu_count() or 1)))
        if setting > len(self.cpus):  # more threads than CPUs only wait for each other
            print(f"THREADS = {setting}: this process may use {len(self.cpus)} CPUs; "
                  f"using {len(self.cpus)} threads")
            setting = len(self.cpus)
        self.setting = setting
        recorded = recorded and min(recorded, len(self.cpus))  # resumed on a smaller machine
        self.threads = setting or recorded or max(
            (p["num_threads"] for p in self.controller.info()), default=len(self.cpus))
        self.choose = not setting and not recorded
        self.why = "THREADS" if setting else "as recorded in the checkpoint" if recorded else ""
        self.fastest = {}  # threads: the fastest epoch's seconds on that many
        self.since = self.look()
        self.limiter = None  # what begin() changed, for end() to restore
        self.note = ""  # what the last epoch_done said, for the epoch's report to print

    def look(self):
        """(wall clock, busy seconds of our CPUs, our CPU seconds), or None if unreadable."""
        try:
            busy = busy_cpu_seconds(self.cpus)
        except (OSError, ValueError):
            return None
        return time.perf_counter(), busy, time.process_time()

    def others(self):
        """CPUs' worth of other work since the last look (which this one replaces), or None."""
        now = self.look()
        if now is None or self.since is None or now[0] - self.since[0] < 0.05:
            return None
        previous, self.since = self.since, now
        wall = now[0] - previous[0]
        return max(0.0, (now[1] - previous[1] - (now[2] - previous[2])) / wall)

    def begin(self):
        """Set the threads for training: THREADS, the recorded count, or what the load leaves."""
        if self.choose:
            if self.since is not None and time.perf_counter() - self.since[0] < 0.1:
                time.sleep(0.1)  # too short a look to tell
            others = self.others()
            if others is not None:
                self.threads = threads_for_load(others, len(self.cpus))
                self.why = f"other work kept {others:.1f} of {len(self.cpus)} CPUs busy"
        if self.setting or self.since is not None:
            limiter = self.controller.limit(limits=self.threads)
            self.limiter = self.limiter or limiter

    def describe(self):
        """A line saying how many BLAS threads train and why, e.g. after begin()."""
        return f"BLAS threads: {self.threads}" + (f" ({self.why})" if self.why else "")

    def epoch_done(self, seconds):
        """After an epoch of `seconds`: for THREADS = 0, lower the threads if other work came.

        Returns a line saying so, or "".
        """
        others = self.others() if not self.setting else None
        self.note = ""
        fastest = self.fastest.setdefault(self.threads, seconds)
        self.fastest[self.threads] = min(fastest, seconds)
        if others is None or self.threads == 1 or seconds <= SLOWER * fastest:
            return ""
        threads = threads_for_load(others, len(self.cpus))
        if threads >= self.threads:
            return ""
        self.note = line = (f"that epoch took {seconds / fastest:.1f}x the fastest: other work keeps "
                f"{others:.1f} CPUs busy, so the BLAS threads go from {self.threads} to {threads}")
        self.threads = threads
        self.controller.limit(limits=threads)
        return line

    def end(self):
        """Give the BLAS back the threads it had before begin()."""
        if self.limiter is not None:
            self.limiter.restore_original_limits()
            self.limiter = None


# ----------------------------------------------------------------------------
# memory

M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3  # mallopt's parameters, from glibc's malloc.h
MMAP_THRESHOLD_MAX = 32 * 2**20  # glibc's largest M_MMAP_THRESHOLD on 64-bit systems
TRIM_THRESHOLD = 2**30  # freed heap kept for reuse, up to this much at the heap's top


def keep_freed_memory():
    """Ask glibc's malloc to keep freed arrays' memory for the next ones; True if it agreed.

    Every training step allocates and frees arrays of the same sizes (the
    distorted batch, each layer's Z, A and dropout mask, dZ, dW): tens of
    KB to several MB each. glibc's malloc serves blocks above its mmap
    threshold (128 KB at first) with fresh pages from the kernel and gives
    freed memory at the top of its heap back once there is more than its
    trim threshold; either way the next step's arrays fault their pages in
    anew (zeroed by the kernel), which took more time than the arithmetic
    of the elastic distortions (benchmarks/parts.py --malloc). Setting
    M_MMAP_THRESHOLD to its largest value (32 MB) and M_TRIM_THRESHOLD to
    1 GB (mallopt(3)) keeps that memory mapped: the process holds its peak
    heap instead of returning it between batches. Arrays over 32 MB (the
    data set) are still mapped on their own.
    Changes nothing where the C library has no mallopt (macOS, Windows) or
    ignores it (musl), and returns False there. Call it once, before
    training; it holds for the rest of the process.
    """
    try:
        mallopt = ctypes.CDLL(None).mallopt  # the C library the process runs on
    except (OSError, TypeError, AttributeError):
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    return bool(mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD_MAX)
                and mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD))


def size_text(n):
    """A number of bytes as people read it: '950 MB', '74.5 GB' (powers of 1000)."""
    if n < 1e9:
        return f"{n / 1e6:.0f} MB"
    return f"{n / 1e9:.1f} GB"


def memory_needed(c):
    """Rough bytes of memory a run of settings c takes at its peak, from LAYERS and BATCH_SIZE.

    Counted in 4 bytes (float32, the dtype training uses) per number, the
    peak is the largest of three moments, plus BASE_MEMORY:
    training -- per parameter, the weights, their gradients, the
        optimiser's state (a velocity for momentum and nesterov, two moments
        for adam and adamw, none for sgd), the best epoch's copy and the
        copy of W an epoch's move is measured against; the temporaries of
        one update of the largest W (five for adam); per unit of every layer
        and row of a batch, its activations (more with dropout's masks and
        batch normalisation's cache), and backward's dA and derivative;
    evaluating -- the weights and the best copy, and per unit and row of
        an evaluation batch (utils.predict_logits' batch_size rows) its
        activation;
    starting -- the weights, and the largest W drawn in float64 and scaled
        before it is cast to float32 (utils.init_params): 16 bytes per weight.
    For settings c of one run (LAYERS, BATCH_SIZE, OPTIMISER, ACTIVATION,
    DROPOUT, BATCH_NORM). Within 0.9-1.5 times tracemalloc's peak of
    main.train and the test set's logits (tests/test_machine.py).
    Returns bytes (int).
    """
    layers, batch = c["LAYERS"], c["BATCH_SIZE"]
    params = utils.count_params(layers, c["BATCH_NORM"])
    largest = max(n_in * n_out for n_in, n_out in itertools.pairwise(layers))
    moments = MOMENTS.get(c["OPTIMISER"], 2)
    temporaries = 5 if c["OPTIMISER"] in ("adam", "adamw") else 1
    units, widest = sum(layers), max(layers)
    dropout = any(settings.dropout_rates(c["DROPOUT"], layers))
    in_place = c["ACTIVATION"] in ("relu", "tanh")  # the others make new arrays, and temporaries
    rows = inspect.signature(utils.predict_logits).parameters["batch_size"].default
    per_row = units * (1 + 2 * dropout + 2 * c["BATCH_NORM"]) + (4 if in_place else 6) * widest
    training = (4 + moments) * params + temporaries * largest + batch * per_row
    evaluating = 2 * params + rows * (units + (0 if in_place else 4) * widest)
    starting = params + 4 * largest  # float64 draw and its scaled copy, beside the float32 ones
    return BASE_MEMORY + 4 * max(training, evaluating, starting)


def available_memory():
    """Bytes of memory free for a new run: MemAvailable in Linux's /proc/meminfo, else the
    machine's physical memory (os.sysconf), else None where neither can be read."""
    try:
        with open("/proc/meminfo", encoding="ascii") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024  # kB
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, ValueError, OSError):
        return None


def check_memory(entries):
    """Raise InputError when a run's network clearly needs more memory than is free.

    entries -- (label, settings) pairs, as settings.compare_entries gives
    them; the label ("" for a single run) names the entry in the message.
    Checked before any data is loaded, so a network far too big for the
    machine is refused in one line (exit 2) rather than ending, possibly
    after the data loaded, in NumPy's MemoryError.
    """
    free = available_memory()
    if free is None:
        return
    label, c = max(entries, key=lambda entry: memory_needed(entry[1]))
    needed = memory_needed(c)
    if needed > free:
        where = f"COMPARE entry {label}: " if label else ""
        # the batch is to blame when a run of the same network with a batch of one would fit
        smaller = memory_needed({**c, "BATCH_SIZE": 1}) <= free
        hint = "try a smaller BATCH_SIZE" if smaller else "try fewer or narrower layers"
        raise InputError(f"{where}LAYERS = {c['LAYERS']!r} with BATCH_SIZE = {c['BATCH_SIZE']} "
                         f"needs about {size_text(needed)} of memory, and "
                         f"{size_text(free)} is available: {hint}")
