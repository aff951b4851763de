"""Exception types of tagger_ref.

Every error that a user can cause (a bad file, a bad config, a bad input array) is raised as a
subclass of :class:`TaggerError` with a message that names the culprit. The command line turns
these into one ``error: ...`` line on stderr and exit status 2; the Python API lets them
propagate, so callers can catch the specific type.
"""


class TaggerError(ValueError):
    """Base class of all user-facing errors of tagger_ref."""


class ConfigError(TaggerError):
    """An unknown preset, or a configuration with a missing, unknown, mistyped or out-of-range field."""


class ParamFileError(TaggerError):
    """A parameter file or dict with missing, extra, mis-shaped or non-finite arrays."""


class InputError(TaggerError):
    """Model inputs (x, x_tilde, m0_logits, y) of the wrong shape, non-finite, or out of their domain."""


class DataError(TaggerError):
    """A dataset file that is missing, unreadable, of the wrong dataset, or of the wrong size."""


class TraceError(TaggerError):
    """A trace file that cannot be read or lacks what a comparison needs."""


class OutputError(TaggerError):
    """An output path that cannot be written."""


class NoSpaceError(OutputError):
    """A full disk (or quota) while writing: nothing already written was changed."""


class CheckpointError(TaggerError):
    """A training checkpoint that is missing, unreadable, or made with another config or data set."""


class TrainingError(TaggerError):
    """Training that cannot go on, e.g. a non-finite cost or gradient."""


class DeviceError(TaggerError):
    """An explicitly requested device (e.g. ``--device gpu``) that is not available."""
