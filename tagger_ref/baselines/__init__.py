"""The paper's baselines (Table 2): MLP, FC Ladder, ConvNet, their configs and parameters."""
