"""The least training time to 98% validation accuracy found for the default network.

    python main.py recipes/fast.py

The default network and recipe (SGD with momentum 0.9, batch 128, shifts of
up to 1 pixel), in 4 epochs instead of 20, with twice the peak learning
rate: the cosine schedule then falls to 0 within the 4 epochs. Chosen on the
validation rows only (never the test set), by the seconds of training until
the validation accuracy first reached 98.0%, on 2026-11-29 on the project's
shared 2-core machine (THREADS=1 while tuning, as the machine was busy):

    change from the default (SEED 0)          98% val at epoch       best val
    (none: 20 epochs)                         5                      98.77%
    EPOCHS=10                                 5                      98.47%
    EPOCHS=6                                  5                      98.38%
    EPOCHS=6, MAX_SHIFT=0                     not reached            97.62%
    EPOCHS=6, LAYERS=[784,256,10]             not reached            97.87%
    EPOCHS=6, OPTIMISER=adam, lr 1e-3         5                      98.22%
    EPOCHS=6, batch 512, lr 0.2               not reached            97.63%
    EPOCHS=6, lr 0.1                          4                      98.57%
    EPOCHS=6, batch 256, lr 0.1               4                      98.30%
    EPOCHS=8, batch 256, lr 0.1               5                      98.58%
    EPOCHS=5, batch 256, lr 0.1               4                      98.23%
    EPOCHS=5, batch 256, lr 0.1, nesterov     4                      98.23%
    EPOCHS=5, batch 256, lr 0.15              4                      98.30%
    EPOCHS=5, lr 0.1                          4 (SEED 1, 2: 4, 4)    98.28%
    EPOCHS=4                                  not reached            97.97%
    EPOCHS=4, batch 256, lr 0.1               4                      98.03%
    EPOCHS=4, batch 256, lr 0.15              3 (SEED 1, 2: 4, 3)    98.20%
    EPOCHS=4, batch 256, lr 0.2               3 (SEED 1, 2: -, 4)    98.22%
    EPOCHS=4, batch 256, lr 0.1, [784,512,128,10]  3 (epochs ~1.7x as long)  98.20%
    EPOCHS=3, lr 0.1                          not reached            97.88%
    EPOCHS=3, batch 256, lr 0.15              not reached            97.73%
    EPOCHS=4, lr 0.1: this recipe             3 (SEED 1, 2: 3, 4)    98.35%

Its margin is thin (best validation 98.35%, 98.10% and 98.03% for SEED 0,
1 and 2); EPOCHS=5 with lr 0.1 reached 98% at epoch 4 for all three seeds.
Read as NAME = value lines, never executed; --NAME=value still overrides.
"""
EPOCHS = 4
LEARNING_RATE = 0.1
