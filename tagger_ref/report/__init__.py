"""The paper's figures and tables drawn from runs, and the paper's numbers."""
