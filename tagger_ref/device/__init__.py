"""Where the arrays live: the NumPy/CuPy backend switch and the GPU helpers."""
