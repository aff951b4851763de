"""Configuration of a Tagger model: one frozen dataclass and the paper's presets (docs/spec.md section 2)."""

import dataclasses
import json
import math
import os
import typing

from .errors import ConfigError

INPUT_TYPES = ("binary", "continuous")
NORMS = ("batch", "layer")
# "original": the authors' code (default). "paper": the paper's equations where computable
# (errata E1, E2 with the exact (28), E3, E5's sum); "paper-eq29": the same with (29) for E2.
SEMANTICS = ("original", "paper", "paper-eq29")
DTYPES = ("float64", "float32")
# the optimisers of experiments/optimizers.py, by the names a config gives them (docs/maintaining.md)
OPTIMIZERS = ("adam", "adam-blocks")
DEFAULT_OPTIMIZER = "adam"


@dataclasses.dataclass(frozen=True)
class TaggerConfig:
    input_type: str = "binary"  # "binary" (Shapes, bit-flip noise) or "continuous" (TextureMNIST, Gaussian)
    n_inputs: int = 400  # N: 400 for Shapes (20x20), 784 for TextureMNIST (28x28)
    n_groups: int = 4  # K: 4 in all of the paper's experiments
    n_iterations: int = 3  # T for training: 3 (Shapes, pretrain), 4 (supervised); Table 1 evaluates 5
    encoder_proj: typing.Tuple[int, ...] = (2000, 1000, 500)  # Ladder sizes H_0..H_{L-1}, L >= 2
    input_noise: float = 0.2  # beta (bit-flip probability) or sigma (Gaussian std), A.2
    z_init: float = 0.26  # constant z_0, "the data mean": 0.26 Shapes, 0.5 TextureMNIST (A.4)
    class_cost_x: float = 0.0  # weight of the classification cost (0.1 supervised TextureMNIST)
    objects_per_sample: int = 1  # digits per image (TextureMNIST2: 2)
    lr: float = 4e-4  # learning rate (Adam's): 4e-4 Shapes, 1e-3 pretrain, 2e-4 supervised
    batch_size: int = 100  # B for training and evaluation (A.7: "a batch-size of 100")
    num_epochs: int = 100  # 100 Shapes, 150 pretrain, 50 supervised
    labeled_samples: typing.Optional[int] = None  # labeled training images (1000, balanced); 0 or None = all
    norm: str = "batch"  # "batch" (Tagger) or "layer" (Tagger*, this reference's definition)
    semantics: str = "original"  # errata switch, docs/spec.md section 7
    seed: int = 10  # 10 Shapes, 1 TextureMNIST
    dtype: str = "float64"  # float64 (reference) or float32 (speed)
    optimizer: str = DEFAULT_OPTIMIZER  # "adam" (section 3.1) or "adam-blocks" (the authors' library's)

    def __post_init__(self):
        object.__setattr__(self, "encoder_proj", tuple(self.encoder_proj))
        validate(self)

    @property
    def n_classes(self):
        """C: classes of the classification head (top Ladder layer has C + 1 units, the last "no class")."""
        return self.encoder_proj[-1] - 1 if self.class_cost_x > 0 else 0

    def replace(self, **changes):
        return dataclasses.replace(self, **changes)

    def to_dict(self):
        return without_default_optimizer(dict(dataclasses.asdict(self), encoder_proj=list(self.encoder_proj)))


def without_default_optimizer(d):
    """A config dict without ``optimizer`` when it is Adam: the files of Adam runs (config.json, a
    checkpoint's config, a sweep's seed.json) stay as they were before the field existed, so runs
    and records written before it still match and older versions still read them."""
    if d.get("optimizer") == DEFAULT_OPTIMIZER:
        del d["optimizer"]
    return d


_FIELDS = {f.name: f for f in dataclasses.fields(TaggerConfig)}


def _is_int(v):
    return isinstance(v, int) and not isinstance(v, bool)


def _is_num(v):
    return _is_int(v) or (isinstance(v, float) and not isinstance(v, bool))


# What a field's value must be as it would come from JSON: (test, words), shared by every config.
STRING = (lambda v: isinstance(v, str), "a string")
INTEGER = (_is_int, "an integer")
NUMBER = (_is_num, "a number")
INTEGERS = (lambda v: isinstance(v, (list, tuple)) and all(_is_int(x) for x in v), "a list of integers")
NUMBERS = (lambda v: isinstance(v, (list, tuple)) and all(_is_num(x) for x in v), "a list of numbers")
INTEGER_OR_NULL = (lambda v: v is None or _is_int(v), "an integer or null")

_TYPES = {
    "input_type": STRING,
    "n_inputs": INTEGER,
    "n_groups": INTEGER,
    "n_iterations": INTEGER,
    "encoder_proj": INTEGERS,
    "input_noise": NUMBER,
    "z_init": NUMBER,
    "class_cost_x": NUMBER,
    "objects_per_sample": INTEGER,
    "lr": NUMBER,
    "batch_size": INTEGER,
    "num_epochs": INTEGER,
    "labeled_samples": INTEGER_OR_NULL,
    "norm": STRING,
    "semantics": STRING,
    "seed": INTEGER,
    "dtype": STRING,
    "optimizer": STRING,
}


def check_type(name, value, types):
    """ConfigError unless ``value`` is what field ``name`` takes (``types``: name -> (test, words))."""
    ok, want = types[name]
    if not ok(value):
        raise ConfigError(f"config field {name!r} must be {want}, got {value!r}")


def _check_type(name, value):
    check_type(name, value, _TYPES)


def validate(cfg):
    """Check every field of ``cfg``; raise ConfigError naming the first bad one."""
    for name in _FIELDS:
        _check_type(name, getattr(cfg, name))

    def bad(field, why):
        raise ConfigError(f"config field {field!r} = {getattr(cfg, field)!r}: {why}")

    if cfg.input_type not in INPUT_TYPES:
        bad("input_type", f"must be one of {', '.join(INPUT_TYPES)}")
    if cfg.norm not in NORMS:
        bad("norm", f"must be one of {', '.join(NORMS)}")
    if cfg.semantics not in SEMANTICS:
        bad("semantics", f"must be one of {', '.join(SEMANTICS)}")
    if cfg.n_inputs < 1:
        bad("n_inputs", "must be at least 1")
    if cfg.n_groups < 1:
        bad("n_groups", "must be at least 1")
    if cfg.n_iterations < 1:
        bad("n_iterations", "must be at least 1")
    if len(cfg.encoder_proj) < 2:
        bad("encoder_proj", "the Ladder needs at least two layers")
    if any(h < 1 for h in cfg.encoder_proj):
        bad("encoder_proj", "every layer needs at least one unit")
    noise = cfg.input_noise
    if not math.isfinite(noise):
        bad("input_noise", "must be finite")
    if cfg.input_type == "binary" and not 0 < noise < 0.5:
        bad(
            "input_noise",
            "a bit-flip probability must lie in (0, 0.5): at 0.5 the input carries no "
            "information, at 0 the exact delta_z (30)-(31) divides by zero",
        )
    if cfg.input_type == "continuous" and noise < 0:
        bad("input_noise", "a noise standard deviation cannot be negative")
    if not math.isfinite(cfg.z_init):
        bad("z_init", "must be finite")
    if cfg.input_type == "binary" and not 0 <= cfg.z_init <= 1:
        bad("z_init", "a binary model's z is a probability, so z_init must lie in [0, 1]")
    if not (math.isfinite(cfg.class_cost_x) and cfg.class_cost_x >= 0):
        bad("class_cost_x", "must be a finite number >= 0")
    if cfg.class_cost_x > 0 and cfg.encoder_proj[-1] < 2:
        bad("encoder_proj", "classification needs at least one class plus the 'no class' unit at the top")
    if cfg.objects_per_sample < 1:
        bad("objects_per_sample", "must be at least 1")
    if cfg.batch_size < 1:
        bad("batch_size", "must be at least 1")
    check_training_fields(cfg, bad)


def check_training_fields(cfg, bad):
    """The fields that every config (Tagger's, a baseline's) has alike: dtype, optimizer, lr,
    num_epochs, labeled_samples and seed; ``bad(field, why)`` for the first bad one. The optimisers'
    names are read at call time, so a test may extend ``OPTIMIZERS``."""
    if cfg.dtype not in DTYPES:
        bad("dtype", f"must be one of {', '.join(DTYPES)}")
    if cfg.optimizer not in OPTIMIZERS:
        bad("optimizer", f"must be one of {', '.join(OPTIMIZERS)}")
    if not (math.isfinite(cfg.lr) and cfg.lr > 0):
        bad("lr", "must be a finite number > 0")
    if cfg.num_epochs < 0:
        bad("num_epochs", "cannot be negative")
    if cfg.labeled_samples is not None and cfg.labeled_samples < 0:
        bad("labeled_samples", "must be at least 0 (0 or null: every training image is labeled)")
    check_seed(cfg.seed, "config field 'seed'")


def check_seed(seed, name):
    """ConfigError unless ``seed`` can seed NumPy's generators: an integer of at least 0. The one
    check of a seed, wherever it comes from (``--seed``, a preset, a JSON file, a checkpoint)."""
    if seed < 0:
        raise ConfigError(f"{name} must be at least 0, got {seed}")


_TEXTURE_MNIST_PRETRAIN = TaggerConfig(
    input_type="continuous",
    n_inputs=784,
    encoder_proj=(3000, 2000, 1000),
    input_noise=0.2,
    z_init=0.5,
    objects_per_sample=2,
    lr=1e-3,
    num_epochs=150,
    labeled_samples=1000,
    seed=1,
)

_TEXTURE_MNIST_SUPERVISED_PUBLISHED = TaggerConfig(
    input_type="continuous",
    n_inputs=784,
    n_iterations=4,
    encoder_proj=(3000, 2000, 1000, 500, 250, 11),
    input_noise=0.15,
    z_init=0.5,
    class_cost_x=0.05,
    objects_per_sample=2,
    lr=5e-4,
    num_epochs=50,
    labeled_samples=1000,
    seed=1,
)
# The authors' runner script sets three fields of stage 2 otherwise (texture-mnist-supervised).
_TEXTURE_MNIST_SUPERVISED_RUNNER = _TEXTURE_MNIST_SUPERVISED_PUBLISHED.replace(
    input_noise=0.18, class_cost_x=0.1, lr=2e-4
)

PRESETS = {
    # The paper's Shapes model (section 3.1, Table 1 "Tagger").
    "shapes": TaggerConfig(),
    # The same with layer norm: the paper's Tagger* (Table 1's starred rows; norm="layer" is this
    # reference's definition, docs/spec.md section 4).
    "shapes-layernorm": TaggerConfig(norm="layer"),
    # Shapes on two CPU cores in 30 minutes (results/shapes-quick): Tagger* with a smaller Ladder,
    # float32, a larger learning rate; --max-minutes 30 stops it where the time runs out on a slower
    # machine (its time: docs/training.md, "Presets").
    "shapes-quick": TaggerConfig(norm="layer", encoder_proj=(500, 250, 125), lr=1e-3, num_epochs=20, dtype="float32"),
    # Table 1 (b) on two CPU cores in an hour: Tagger* and Tagger with shapes-quick's smaller Ladder,
    # meant to train side by side (--threads 1 each) with --max-minutes 60 ending them before the 70 epochs.
    "shapes-hour": TaggerConfig(norm="layer", encoder_proj=(500, 250, 125), lr=1e-3, num_epochs=70, dtype="float32"),
    "shapes-hour-batchnorm": TaggerConfig(
        norm="batch", encoder_proj=(500, 250, 125), lr=1e-3, num_epochs=70, dtype="float32"
    ),
    # tagger-ref demo: shapes-quick for a few minutes on a small training set; the demo's epoch
    # budget (commands/demo.py), about 2.5 minutes on two cores for its 10,000 images.
    "demo": TaggerConfig(norm="layer", encoder_proj=(500, 250, 125), lr=1e-3, num_epochs=4, dtype="float32"),
    # TextureMNIST, unsupervised pretraining stage (section 3.3).
    "texture-mnist-pretrain": _TEXTURE_MNIST_PRETRAIN,
    # TextureMNIST, supervised stage as the authors' runner script sets it: the Ladder grows by
    # (500, 250, 11), 10 classes + "no class" (E13); T = 4, 50 epochs, seed 1.
    "texture-mnist-supervised": _TEXTURE_MNIST_SUPERVISED_RUNNER,
    # TextureMNIST stage 2 as the authors' released model was trained: the saved settings of their
    # published run (pretrained_models/mnist-results/params in CuriousAI/tagger) differ from their
    # runner script (the preset above): class_cost_x 0.05 (not 0.1), input_noise 0.15 (not 0.18),
    # lr 5e-4 (not 2e-4); T = 4, 50 epochs, seed 1 and the grown Ladder are the same.
    "texture-mnist-supervised-published": _TEXTURE_MNIST_SUPERVISED_PUBLISHED,
    # The two stages on two CPU cores within an hour of training (results/texture-mnist-quick): the
    # paper's recipe with a smaller Ladder, layer norm and float32, as shapes-quick; stage 2 grows
    # the Ladder by (60, 30, 11) and raises the learning rate 2.5 times for its few epochs.
    "texture-mnist-quick-pretrain": _TEXTURE_MNIST_PRETRAIN.replace(
        encoder_proj=(500, 250, 125), num_epochs=10, norm="layer", dtype="float32"
    ),
    "texture-mnist-quick-supervised": _TEXTURE_MNIST_SUPERVISED_RUNNER.replace(
        encoder_proj=(500, 250, 125, 60, 30, 11), lr=5e-4, num_epochs=7, norm="layer", dtype="float32"
    ),
    # Stage 1 that groups on two CPU cores (results/texture-mnist-diagnosis, run bn-1000-lr1e-2): the
    # authors' stage 1 at a third of their width, float32, and Adam's rate raised to 1e-2, the rate
    # that leaves the spatial-prior plateau within a CPU budget (docs/training.md, "Presets").
    "texture-mnist-cpu-pretrain": _TEXTURE_MNIST_PRETRAIN.replace(
        encoder_proj=(1000, 500, 250), lr=1e-2, num_epochs=30, dtype="float32"
    ),
    # Its stage 2 (results/texture-mnist-cpu): texture-mnist-supervised-published with its first
    # three layers at a third of the authors' width, as stage 1, the grown layers (500, 250, 11)
    # as theirs, and float32.
    "texture-mnist-cpu-supervised": _TEXTURE_MNIST_SUPERVISED_PUBLISHED.replace(
        encoder_proj=(1000, 500, 250, 500, 250, 11), dtype="float32"
    ),
    # Small models for tests and checks: a few inputs, K=3, T=3, three small Ladder layers.
    "tiny-binary": TaggerConfig(
        n_inputs=6, n_groups=3, n_iterations=3, encoder_proj=(7, 5, 4), batch_size=4, num_epochs=1, seed=0
    ),
    "tiny-continuous": TaggerConfig(
        input_type="continuous",
        n_inputs=6,
        n_groups=3,
        n_iterations=3,
        encoder_proj=(7, 5, 4),
        z_init=0.5,
        batch_size=4,
        num_epochs=1,
        seed=0,
    ),
    "tiny-classify": TaggerConfig(
        input_type="continuous",
        n_inputs=6,
        n_groups=3,
        n_iterations=3,
        encoder_proj=(7, 5, 11),
        z_init=0.5,
        class_cost_x=0.1,
        objects_per_sample=2,
        batch_size=4,
        num_epochs=1,
        seed=0,
    ),
}


def check_fields(d, fields, source, what="config"):
    """Raise ConfigError unless ``d`` is a dict whose keys are all in ``fields`` (name -> checker of its value)."""
    if not isinstance(d, dict):
        raise ConfigError(f"{source} must be a JSON object of config fields, got {type(d).__name__}")
    unknown = sorted(set(d) - set(fields))
    if unknown:
        raise ConfigError(
            f"{source} has unknown field(s) {', '.join(map(repr, unknown))}; "
            f"known fields{'' if what == 'config' else ' of a ' + what}: {', '.join(fields)}"
        )


def from_dict(d, source="config"):
    """Build a config from a dict of field values: unknown fields are an error, missing ones take defaults."""
    check_fields(d, _FIELDS, source)
    for name, value in d.items():
        _check_type(name, value)
    return TaggerConfig(**d)


def load_named(name_or_path, presets, from_dict_fn, what="config"):
    """The preset ``name_or_path`` of ``presets``, or the config of that JSON file (``from_dict_fn``);
    ConfigError naming the file or the unknown name otherwise."""
    key = str(name_or_path)
    if key in presets:
        return presets[key]
    if key.endswith(".json") or os.path.sep in key or os.path.exists(key):
        if os.path.isdir(key):
            config_json = os.path.join(key, "config.json")
            raise ConfigError(
                f"config {key} is a folder, not a preset name or a JSON file"
                + (f" (a run folder? its config is {config_json})" if os.path.isfile(config_json) else "")
            )
        if not os.path.isfile(key):
            raise ConfigError(f"config file {key} does not exist")
        try:
            with open(key) as f:
                d = json.load(f)
        except (OSError, UnicodeDecodeError) as e:
            raise ConfigError(f"config file {key} cannot be read: {e}") from None
        except json.JSONDecodeError as e:
            raise ConfigError(f"config file {key} is not valid JSON: {e}") from None
        return from_dict_fn(d, source=f"config file {key}")
    raise ConfigError(f"unknown {what} {key!r}: not a preset ({', '.join(presets)}) and not a JSON file")


def load_config(name_or_path):
    """A config from a preset name or a JSON file of config fields."""
    if isinstance(name_or_path, TaggerConfig):
        return name_or_path
    return load_named(name_or_path, PRESETS, from_dict)
