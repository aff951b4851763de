"""The paper's numbers: Table 1 for Shapes, which a sweep is held against (docs/spec.md section 6), and Table 2.

Table 1 (a) is the median over 20 seeds of each model's score, per evaluation iteration; the
paper's text, as this project holds it, gives iterations 3 and 5 only. Table 1 (b) gives the AMI
"± a spread" over seeds without saying which spread; it is shown as printed.
"""

# norm -> table1.csv column -> evaluation iteration -> the paper's median over 20 seeds
TABLE1 = {
    "batch": {"denoising_cost": {3: 0.063, 5: 0.063}, "ami": {3: 0.77, 5: 0.79}},  # Tagger
    "layer": {"denoising_cost": {3: 0.057, 5: 0.054}, "ami": {3: 0.95, 5: 0.97}},  # Tagger* (layer norm)
}
TABLE1_AMI_SPREAD = {"batch": (0.79, 0.034), "layer": (0.97, 0.009)}  # Table 1 (b): AMI ± spread
MODEL_NAMES = {"batch": "Tagger", "layer": "Tagger*"}
RC_AMI = (0.61, 0.005)  # Table 1 (b): RC, Greff et al. 2015, AMI ± spread


def shapes_targets(config):
    """``{"model", "table1", "ami_spread"}`` for a Shapes model (binary, 20x20), else None: the
    paper reports Table 1 for the Shapes models only."""
    if config.get("input_type") != "binary" or config.get("n_inputs") != 400 or config.get("norm") not in TABLE1:
        return None
    norm = config["norm"]
    return {"model": MODEL_NAMES[norm], "table1": TABLE1[norm], "ami_spread": TABLE1_AMI_SPREAD[norm]}


# The paper's Table 2: (dataset, method, labels) -> (mean, sample sd) of the test error in percent
# (top-2 error for TextureMNIST2) over 5 runs.
PAPER_TABLE2 = {
    ("TextureMNIST1", "FC MLP", "50k"): (31.1, 2.2),
    ("TextureMNIST1", "FC MLP", "1k"): (89.0, 0.2),
    ("TextureMNIST1", "FC Ladder", "50k"): (7.2, 0.1),
    ("TextureMNIST1", "FC Ladder", "1k"): (30.5, 0.5),
    ("TextureMNIST1", "Tagger", "50k"): (4.0, 0.3),
    ("TextureMNIST1", "Tagger", "1k"): (10.5, 0.9),
    ("TextureMNIST1", "ConvNet", "50k"): (3.9, 0.3),
    ("TextureMNIST1", "ConvNet", "1k"): (52.4, 5.3),
    ("TextureMNIST2", "FC MLP", "50k"): (55.2, 1.0),
    ("TextureMNIST2", "FC MLP", "1k"): (79.4, 0.3),
    ("TextureMNIST2", "FC Ladder", "50k"): (41.1, 0.2),
    ("TextureMNIST2", "FC Ladder", "1k"): (68.5, 0.2),
    ("TextureMNIST2", "Tagger", "50k"): (7.9, 0.3),
    ("TextureMNIST2", "Tagger", "1k"): (24.9, 1.8),
    ("TextureMNIST2", "ConvNet", "50k"): (12.6, 0.4),
    ("TextureMNIST2", "ConvNet", "1k"): (79.1, 0.8),
}


def labels_name(labeled_samples):
    """Table 2's column for a label budget: "1k", "50k" (every training image), or the number."""
    if not labeled_samples:
        return "50k"
    return "1k" if labeled_samples == 1000 else str(labeled_samples)
