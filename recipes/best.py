"""The strongest setting found here for a fully-connected network on MNIST.

    python main.py recipes/best.py

Two wide ReLU layers (Simard et al. 2003 used one of 800 units), dropout on
both (Srivastava et al. 2014), and every training digit moved a little each
time it is seen: shifted, rotated and scaled (the affine distortions of
Simard et al. 2003 and Ciresan et al. 2010). Cosine-annealed SGD with
momentum. This file is read as NAME = value lines and never executed; any
constant of main.py can be set here, and --NAME=value still overrides.
"""
LAYERS = [784, 800, 800, 10]
EPOCHS = 60
LEARNING_RATE = 0.05
DROPOUT = 0.3
MAX_SHIFT = 2
MAX_ROTATE = 10.0
MAX_SCALE = 0.1
