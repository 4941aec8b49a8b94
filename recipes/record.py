"""The most accurate fully-connected network found that trains in 30 minutes here.

    python main.py recipes/record.py

784-1500-1000-500-10 (one of Ciresan, Meier, Gambardella and Schmidhuber
2010's networks), trained on digits distorted afresh every epoch: elastic
distortions (Simard et al. 2003; alpha 36, sigma 6) combined with rotations
of up to 15 degrees, scalings of up to 15% and shifts of up to 2 pixels
(augment.py); dropout 0.1 on every hidden layer; SGD with momentum 0.9,
batch 128, a 1-epoch warm-up to a learning rate of 0.1, then cosine down
to 0; 160 epochs.

Chosen on the validation rows only, by one rule fixed before the runs: the
highest best validation accuracy among full runs whose training took at
most 30 minutes. Every run printed its test accuracy at the end (main.py
always does); it played no part in the choice.

    run (SEED 0)                          training s   best val acc (epoch)   test acc
    --EPOCHS=60 --LEARNING_RATE=0.05        629.8       99.33% (37)           99.33%
    --EPOCHS=160 --LEARNING_RATE=0.05      1739.6       99.40% (129)          99.54%
    --EPOCHS=160 --LEARNING_RATE=0.1       1515.9       99.42% (146)          99.53%  chosen

Each `python main.py recipes/record.py` with those settings, one at a
time, on the 2-core AMD EPYC VM with nothing else running, 2 BLAS threads,
OpenBLAS's own kernel (SkylakeX): the first two 2026-12-05 01:17-01:59
UTC, the third 07:49-08:15 UTC (its epochs 8.2 to 10.3 s; commit f8e57a6,
keep_freed_memory and float32 distortions, came between). The chosen
run beat the one before it by 0.02 points of validation accuracy, one row
of the 6,000: within the noise of one seed, but the rule was fixed before
and is kept. A run of `--EPOCHS=180` (lr 0.05) was begun and stopped
after 3 epochs of 10.4-10.9 s, on the estimate that at that pace it would
not fit in 30 minutes; the lr 0.1 run's epochs (9.47 s on average) were
quicker, at which pace 180 would have fit. Not measured.

Earlier probes (3 epochs on 6,000 rows of train.csv, validation only; too
short to choose by): lr 0.05 79.83 / 91.50 / 93.17%, lr 0.02 77.83 / 90.83 /
90.83%, lr 0.1 72.00 / 93.00 / 95.33%, no elastic 83.00 / 89.17 / 95.00%.
Not tried on the full data: other widths and depths. A committee of five
seeds of this recipe (--SEED=0..4, fixed before any ran): 99.56% test;
docs/techniques.md, "A committee".
Read as NAME = value lines, never executed; --NAME=value still overrides.
"""
LAYERS = [784, 1500, 1000, 500, 10]
EPOCHS = 160
LEARNING_RATE = 0.1
WARMUP_EPOCHS = 1.0
DROPOUT = 0.1
MAX_SHIFT = 2
MAX_ROTATE = 15.0
MAX_SCALE = 0.15
ELASTIC_ALPHA = 36.0
ELASTIC_SIGMA = 6.0
