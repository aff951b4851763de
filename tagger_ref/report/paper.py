"""The paper's Shapes numbers that a sweep is held against (docs/spec.md section 6, the paper's Table 1).

Table 1 (a) is the median over 20 seeds of each model's score, per evaluation iteration; the
paper's text, as this project holds it, gives iterations 3 and 5 only. Table 1 (b) gives the AMI
"± a spread" over seeds without saying which spread; it is shown as printed.
"""

# norm -> table1.csv column -> evaluation iteration -> the paper's median over 20 seeds
TABLE1 = {
    "batch": {"denoising_cost": {3: 0.063, 5: 0.063}, "ami": {3: 0.77, 5: 0.79}},    # Tagger
    "layer": {"denoising_cost": {3: 0.057, 5: 0.054}, "ami": {3: 0.95, 5: 0.97}},    # Tagger* (layer norm)
}
TABLE1_AMI_SPREAD = {"batch": (0.79, 0.034), "layer": (0.97, 0.009)}   # Table 1 (b): AMI ± spread
MODEL_NAMES = {"batch": "Tagger", "layer": "Tagger*"}
RC_AMI = (0.61, 0.005)   # Table 1 (b): RC, Greff et al. 2015, AMI ± spread


def shapes_targets(config):
    """``{"model", "table1", "ami_spread"}`` for a Shapes model (binary, 20x20), else None: the
    paper reports Table 1 for the Shapes models only."""
    if config.get("input_type") != "binary" or config.get("n_inputs") != 400 or config.get("norm") not in TABLE1:
        return None
    norm = config["norm"]
    return {"model": MODEL_NAMES[norm], "table1": TABLE1[norm], "ami_spread": TABLE1_AMI_SPREAD[norm]}
