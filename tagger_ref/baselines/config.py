"""Configuration of the baselines of Table 2 (FC MLP, FC Ladder, ConvNet): one frozen dataclass and
presets (docs/baselines.md). A baseline config is told from a Tagger config by its ``baseline`` field."""

import dataclasses
import math
import typing

from ..config import (
    DEFAULT_OPTIMIZER,
    INTEGER,
    INTEGER_OR_NULL,
    INTEGERS,
    NUMBER,
    NUMBERS,
    STRING,
    check_fields,
    check_training_fields,
    check_type,
    load_named,
    without_default_optimizer,
)
from ..errors import ConfigError

KINDS = ("mlp", "ladder", "convnet")
METHODS = {"mlp": "FC MLP", "ladder": "FC Ladder", "convnet": "ConvNet"}  # Table 2's names


def rasmus_weights(n_layers):
    """lambda_0..lambda_L = 1000, 10, 0.1, 0.1, ...: the Ladder paper's MNIST values (Rasmus et al. 2015,
    section 4.1; the 100-label command of their code's README), for layers 0, 1 and 2+."""
    return (1000.0, 10.0) + (0.1,) * (n_layers - 1)


@dataclasses.dataclass(frozen=True)
class BaselineConfig:
    baseline: str = "mlp"  # "mlp" (FC MLP), "ladder" (FC Ladder) or "convnet" (ConvNet), section 3.3
    hidden: typing.Tuple[int, ...] = (1000, 1000)  # MLP/Ladder: hidden sizes (Table 2); ConvNet: channels c1, c2
    n_inputs: int = 784  # N: TextureMNIST's 28 x 28
    image_side: int = 28  # the ConvNet's image side (n_inputs = side^2)
    n_classes: int = 10  # C: the ten digits
    objects_per_sample: int = 2  # digits per image: 2 for TextureMNIST2, 1 for TextureMNIST1
    input_noise: float = 0.0  # Ladder: sigma of the Gaussian noise at every layer (0.3, Rasmus et al.)
    denoising_weights: typing.Tuple[float, ...] = ()  # Ladder: lambda_0..lambda_L (rasmus_weights); others: ()
    lr: float = 2e-3  # learning rate (Adam's; 0.002: the Ladder code's default)
    batch_size: int = 100  # B, as Tagger
    num_epochs: int = 50  # epochs of n_train // B steps (docs/baselines.md)
    labeled_samples: typing.Optional[int] = 1000  # labeled training images (balanced); 0 or None = all (50k)
    seed: int = 1  # seed of the run's generator, as TextureMNIST's Tagger runs
    dtype: str = "float64"  # float64 (reference) or float32 (speed)
    optimizer: str = DEFAULT_OPTIMIZER  # as Tagger's: the names of config.OPTIMIZERS

    def __post_init__(self):
        object.__setattr__(self, "hidden", tuple(self.hidden))
        object.__setattr__(self, "denoising_weights", tuple(float(w) for w in self.denoising_weights))
        validate(self)

    @property
    def input_type(self):
        """The baselines take TextureMNIST's continuous inputs (for ``training.load_split``)."""
        return "continuous"

    @property
    def method(self):
        """The method's name in Table 2."""
        return METHODS[self.baseline]

    @property
    def sizes(self):
        """MLP and Ladder: layer sizes H_0 = N, the hidden ones, H_L = C."""
        return (self.n_inputs,) + self.hidden + (self.n_classes,)

    def replace(self, **changes):
        return dataclasses.replace(self, **changes)

    def to_dict(self):
        d = dataclasses.asdict(self)
        d["hidden"], d["denoising_weights"] = list(self.hidden), list(self.denoising_weights)
        return without_default_optimizer(d)


_FIELDS = {f.name: f for f in dataclasses.fields(BaselineConfig)}
_TYPES = {
    "baseline": STRING,
    "hidden": INTEGERS,
    "n_inputs": INTEGER,
    "image_side": INTEGER,
    "n_classes": INTEGER,
    "objects_per_sample": INTEGER,
    "input_noise": NUMBER,
    "denoising_weights": NUMBERS,
    "lr": NUMBER,
    "batch_size": INTEGER,
    "num_epochs": INTEGER,
    "labeled_samples": INTEGER_OR_NULL,
    "seed": INTEGER,
    "dtype": STRING,
    "optimizer": STRING,
}


def _check_type(name, value):
    check_type(name, value, _TYPES)


def validate(cfg):
    """Check every field of ``cfg``; raise ConfigError naming the first bad one."""
    for name in _FIELDS:
        _check_type(name, getattr(cfg, name))

    def bad(field, why):
        raise ConfigError(f"config field {field!r} = {getattr(cfg, field)!r}: {why}")

    if cfg.baseline not in KINDS:
        bad("baseline", f"must be one of {', '.join(KINDS)}")
    if not cfg.hidden or any(h < 1 for h in cfg.hidden):
        bad("hidden", "needs at least one layer, each of at least one unit")
    if cfg.baseline == "convnet":
        if len(cfg.hidden) != 2:
            bad("hidden", "a ConvNet takes two channel counts, c1 and c2 (Model C: 96, 192)")
        if cfg.n_inputs != cfg.image_side**2:
            bad("image_side", f"the ConvNet needs square images: image_side^2 must equal n_inputs = {cfg.n_inputs}")
        if cfg.image_side < 19:
            bad("image_side", "Model C's layers need images of at least 19 x 19")
    if cfg.n_inputs < 1:
        bad("n_inputs", "must be at least 1")
    if cfg.n_classes < 2:
        bad("n_classes", "must be at least 2")
    if cfg.objects_per_sample < 1:
        bad("objects_per_sample", "must be at least 1")
    if not (math.isfinite(cfg.input_noise) and cfg.input_noise >= 0):
        bad("input_noise", "must be a finite number >= 0")
    if cfg.baseline == "ladder":
        if len(cfg.denoising_weights) != len(cfg.hidden) + 2:
            bad("denoising_weights", f"the Ladder needs one lambda per layer 0..L: {len(cfg.hidden) + 2} values")
        if any(not (math.isfinite(w) and w >= 0) for w in cfg.denoising_weights):
            bad("denoising_weights", "every lambda must be a finite number >= 0")
    else:
        if cfg.input_noise != 0:
            bad("input_noise", f"only the Ladder is trained with noise; must be 0 for {cfg.baseline}")
        if cfg.denoising_weights:
            bad("denoising_weights", f"only the Ladder has denoising costs; must be empty for {cfg.baseline}")
    if cfg.batch_size < 2:
        bad("batch_size", "batch normalisation needs at least 2 rows")
    check_training_fields(cfg, bad)


LADDER_SIZES = (3000, 2000, 1000, 500, 250)
LADDER_QUICK_SIZES = (500, 250, 125, 60, 30)
_LADDER = dict(baseline="ladder", input_noise=0.3, num_epochs=150)

PRESETS = {
    # The paper's sizes (Table 2): FC MLP 1000-1000 for 1k labels, 2000-2000-2000 for 50k.
    "mlp-1k": BaselineConfig(baseline="mlp", hidden=(1000, 1000)),
    "mlp-50k": BaselineConfig(baseline="mlp", hidden=(2000, 2000, 2000), labeled_samples=0),
    # FC Ladder 3000-2000-1000-500-250, noise 0.3, lambda 1000, 10, 0.1..., 150 epochs (the Ladder code's defaults).
    "ladder": BaselineConfig(hidden=LADDER_SIZES, denoising_weights=rasmus_weights(len(LADDER_SIZES) + 1), **_LADDER),
    # ConvNet: Model C's 96 and 192 channels.
    "convnet": BaselineConfig(baseline="convnet", hidden=(96, 192)),
    # Two CPU cores (float32): smaller models and fewer epochs (their times: docs/baselines.md, "Presets").
    "mlp-quick": BaselineConfig(baseline="mlp", hidden=(1000, 1000), num_epochs=20, dtype="float32"),
    "ladder-quick": BaselineConfig(
        hidden=LADDER_QUICK_SIZES,
        dtype="float32",
        denoising_weights=rasmus_weights(len(LADDER_QUICK_SIZES) + 1),
        **dict(_LADDER, num_epochs=20),
    ),
    "convnet-quick": BaselineConfig(baseline="convnet", hidden=(8, 16), num_epochs=10, dtype="float32"),
    # Tiny models for tests: batches of 10, 10 labels.
    "mlp-tiny": BaselineConfig(baseline="mlp", hidden=(7, 5), batch_size=10, num_epochs=1, labeled_samples=10),
    "ladder-tiny": BaselineConfig(
        hidden=(7, 5),
        batch_size=10,
        labeled_samples=10,
        denoising_weights=rasmus_weights(3),
        **dict(_LADDER, num_epochs=1),
    ),
    "convnet-tiny": BaselineConfig(baseline="convnet", hidden=(2, 3), batch_size=10, num_epochs=1, labeled_samples=10),
}
DEFAULT_PRESETS = {"mlp": "mlp-1k", "ladder": "ladder", "convnet": "convnet"}


def from_dict(d, source="config"):
    """A baseline config from a dict of field values: unknown fields are an error, missing ones take defaults."""
    check_fields(d, _FIELDS, source, what="baseline config")
    for name, value in d.items():
        _check_type(name, value)
    return BaselineConfig(**d)


def load_baseline_config(name_or_path):
    """A baseline config from a preset name or a JSON file of config fields."""
    if isinstance(name_or_path, BaselineConfig):
        return name_or_path
    return load_named(name_or_path, PRESETS, from_dict, what="baseline config")
