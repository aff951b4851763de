"""The one exception type of data_gen."""


class DataGenError(ValueError):
    """A bad generator argument (a size, a seed) or an unreadable, damaged or wrong MNIST file."""
