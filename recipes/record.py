"""A candidate for the most accurate fully-connected network trained in 30 minutes here.

    python main.py recipes/record.py

NOT YET MEASURED: the full run has not been made (the machine is shared by
several agents; 30-minute trainings are left for later). Nothing below is a
result of this recipe; what was measured is said as such.

The network of Ciresan, Meier, Gambardella and Schmidhuber (2010), whose
784-2500-2000-1500-1000-500-10 reached 99.65% after hundreds of epochs on a
GPU, trained on digits distorted afresh every epoch as they did: elastic
distortions (Simard et al. 2003; Ciresan et al. used sigma 5-6, alpha
36-38) combined with rotations of up to 15 degrees and scalings of up to
15%, and shifts of up to 2 pixels, in one resampling (augment.py). Light
dropout (Srivastava et al. 2014) on every hidden layer; SGD with momentum
0.9, batch 128, a short warm-up, then the cosine schedule down to 0.

EPOCHS is an estimate, not a measurement: an epoch of this network is
about 9.5 times the matrix products of recipes/best.py's 784-800-800-10
(12.1 million weights against 1.3; 60 epochs of best.py took about 3
minutes on a quiet machine), so about 30 s an epoch, and 50 epochs about 25
minutes, augmentation included (benchmarks/parts.py --distortions measures
the distortions' share of a step). Check with `python benchmarks/time_to_
accuracy.py --no-torch`, which prints the seconds per epoch, before
trusting the 30 minutes.

Probes (validation rows only; short; 2026-12-04, the shared 2-core VM under
a load of 6-12 other processes, so their seconds say nothing): see
docs/notes-record23.md, "Probes", for the table and its commands. The test
accuracy is to be read once, at the end of the full run, and nothing chosen
on it. Read as NAME = value lines, never executed; --NAME=value still
overrides.
"""
LAYERS = [784, 2500, 2000, 1500, 1000, 500, 10]
EPOCHS = 50
LEARNING_RATE = 0.05
WARMUP_EPOCHS = 1.0
DROPOUT = 0.1
MAX_SHIFT = 2
MAX_ROTATE = 15.0
MAX_SCALE = 0.15
ELASTIC_ALPHA = 36.0
ELASTIC_SIGMA = 6.0
