"""Configuration: presets, JSON files, and one clear error per kind of bad field."""

import json
import os

import pytest

from tagger_ref.config import PRESETS, TaggerConfig, load_config
from tagger_ref.errors import ConfigError

pytestmark = pytest.mark.quick  # the fast subset: python -m pytest -m quick


def test_presets_are_the_papers():
    s = PRESETS["shapes"]
    assert (
        s.input_type,
        s.n_inputs,
        s.n_groups,
        s.n_iterations,
        s.encoder_proj,
        s.input_noise,
        s.z_init,
        s.lr,
        s.batch_size,
        s.norm,
        s.semantics,
    ) == ("binary", 400, 4, 3, (2000, 1000, 500), 0.2, 0.26, 4e-4, 100, "batch", "original")
    t = PRESETS["texture-mnist-supervised"]
    assert t.encoder_proj == (3000, 2000, 1000, 500, 250, 11) and t.n_classes == 10 and t.input_noise == 0.18
    # the authors' released stage-2 run, its saved settings read by hand: class_cost_x 0.05,
    # input_noise 0.15, lr 0.0005, n_iterations 4, num_epochs 50, seed 1, the same grown Ladder
    p = PRESETS["texture-mnist-supervised-published"]
    assert (
        p.class_cost_x,
        p.input_noise,
        p.lr,
        p.n_iterations,
        p.num_epochs,
        p.seed,
        p.labeled_samples,
        p.objects_per_sample,
        p.z_init,
        p.norm,
    ) == (0.05, 0.15, 0.0005, 4, 50, 1, 1000, 2, 0.5, "batch")
    assert p.encoder_proj == (3000, 2000, 1000, 500, 250, 11)
    assert PRESETS["tiny-classify"].encoder_proj[-1] == 11
    assert TaggerConfig().dtype == "float64"


def test_cpu_pretrain_preset_is_the_run_that_grouped():
    """texture-mnist-cpu-pretrain is the configuration of the run that grouped, read from its committed
    config file (results/texture-mnist-diagnosis/bn-1000-lr1e-2.json), apart from the epoch count."""
    path = os.path.join(os.path.dirname(__file__), "..", "results", "texture-mnist-diagnosis", "bn-1000-lr1e-2.json")
    with open(path) as f:
        run = json.load(f)
    cpu = PRESETS["texture-mnist-cpu-pretrain"].to_dict()
    assert {k: cpu[k] for k in run if k != "num_epochs"} == {k: v for k, v in run.items() if k != "num_epochs"}
    assert cpu["norm"] == "batch" and cpu["lr"] == 0.01 and cpu["class_cost_x"] == 0


def test_cpu_supervised_preset_is_the_published_stage_2_at_the_cpu_width():
    """texture-mnist-cpu-supervised is the configuration its committed run trained with
    (results/texture-mnist-cpu/stage2/config.json), and differs from the authors' published stage 2 only
    in the first three widths and the dtype."""
    path = os.path.join(os.path.dirname(__file__), "..", "results", "texture-mnist-cpu", "stage2", "config.json")
    with open(path) as f:
        run = json.load(f)
    cpu = PRESETS["texture-mnist-cpu-supervised"].to_dict()
    assert {k: cpu[k] for k in run} == run
    published = PRESETS["texture-mnist-supervised-published"].to_dict()
    changed = {k for k in published if published[k] != cpu[k]}
    assert changed == {"encoder_proj", "dtype"}
    assert list(cpu["encoder_proj"][3:]) == list(published["encoder_proj"][3:]) == [500, 250, 11]


def test_json_file(tmp_path):
    f = tmp_path / "c.json"
    f.write_text(json.dumps({"input_type": "continuous", "n_inputs": 9, "encoder_proj": [5, 4]}))
    c = load_config(str(f))
    assert c.n_inputs == 9 and c.encoder_proj == (5, 4) and c.n_groups == 4  # missing fields: defaults


@pytest.mark.parametrize(
    "fields,message",
    [
        ({"n_grups": 3}, "unknown field.*'n_grups'"),
        ({"n_groups": "4"}, "'n_groups' must be an integer"),
        ({"n_groups": 0}, "'n_groups' = 0: must be at least 1"),
        ({"n_iterations": 0}, "'n_iterations' = 0: must be at least 1"),
        ({"encoder_proj": [10]}, "at least two layers"),
        ({"input_noise": 0.5}, r"\(0, 0.5\)"),
        ({"input_noise": 0.0}, r"\(0, 0.5\)"),
        ({"input_type": "continuous", "input_noise": -0.1}, "cannot be negative"),
        ({"norm": "group"}, "must be one of batch, layer"),
        ({"semantics": "pepper"}, "must be one of original, paper, paper-eq29"),
        ({"input_noise": True}, "must be a number"),
    ],
)
def test_bad_fields(tmp_path, fields, message):
    f = tmp_path / "c.json"
    f.write_text(json.dumps(fields))
    with pytest.raises(ConfigError, match=message):
        load_config(str(f))


def test_unknown_preset_and_bad_json(tmp_path):
    with pytest.raises(ConfigError, match="unknown config 'shapez'"):
        load_config("shapez")
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(str(tmp_path / "missing.json"))
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(ConfigError, match="not valid JSON"):
        load_config(str(tmp_path / "bad.json"))
    (tmp_path / "list.json").write_text("[1, 2]")
    with pytest.raises(ConfigError, match="must be a JSON object"):
        load_config(str(tmp_path / "list.json"))


def test_every_field_of_both_configs_has_one_type_and_one_training_check():
    """Tagger's and the baselines' configs type-check from one table each and share the checks of
    the fields they have alike (config.check_training_fields): the same words for the same fault."""
    from tagger_ref import config as tagger_config
    from tagger_ref.baselines import config as baseline_config

    for module in (tagger_config, baseline_config):
        assert set(module._TYPES) == set(module._FIELDS), module.__name__
    tagger, baseline = tagger_config.PRESETS["tiny-binary"], baseline_config.PRESETS["mlp-1k"]
    for field, value in (("lr", 0.0), ("num_epochs", -1), ("labeled_samples", -1), ("dtype", "float16")):
        with pytest.raises(ConfigError) as a:
            tagger.replace(**{field: value})
        with pytest.raises(ConfigError) as b:
            baseline.replace(**{field: value})
        assert str(a.value) == str(b.value), field
