"""Where the arrays live: the NumPy/CuPy backend switch and the GPU helpers."""

# The devices ``backend.use_device`` accepts; here, not in ``backend``, so that the command line's
# parser names them without importing autograd.
DEVICES = ("cpu", "gpu")
