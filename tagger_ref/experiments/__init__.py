"""Training and evaluation: the epoch loop, Adam, data streams, sweeps, run records."""
