"""The paper as array code: one module per part of the computation, read in this order.

This is the project's reading order; README.md and the docs link here rather than repeat it.
Before the modules: the paper, then docs/walkthrough.md (one TAG iteration on small arrays, each
step checked against this code), then docs/spec.md, the contract (section 4: the forward pass
step by step; docs/equations.md lists each equation with its function). Then the modules:

1. ``functions``: the elementary functions (sigmoid, softmax, normalize, ...), each with its
   numerical trick;
2. ``corruption``: the corrupted input x_tilde (A.2), the initial z and masks (8)-(9);
3. ``likelihood``: the per-group likelihood of x_tilde and the group likelihood L(m), (5), (11)-(20);
4. ``modelling_error``: delta_z, (4) and (21)-(31);
5. ``heads``: the network input, its projection, and the heads for z and m (Alg. 2-3);
6. ``ladder``: the Ladder's encoder and decoder (Rasmus et al.; A.6), and ``combinator``, its g(zl, u);
7. ``costs``: the mixture prediction and the denoising cost (1)-(2), (6);
8. ``classification``: per-group class outputs with the "no class" unit (section 3.3);
9. ``model``: the forward pass, the TAG iterations around the Ladder (Alg. 1-3);
10. ``semi_supervised``: the labeled and unlabeled passes of a semi-supervised step (section 3.3);
11. ``gradients``: the cost a training step differentiates, ``step_cost``, and its exact gradient
    by autograd.

After the modules: the checks (reference_tests/README.md says which test checks which module
against what; the oracle tools are in ``tagger_ref.oracle``, the authors' own traces in
reference_tests/data/golden_original), then reproduction (``tagger_ref.experiments``,
docs/training.md, results/).

The baselines of Table 2 (docs/baselines.md) have their own wing, ``tagger_ref.baselines``:
``mlp`` (the FC MLP and the layers the baselines share), ``fc_ladder`` (Rasmus et al.'s Ladder
with noise and denoising costs), ``conv`` (convolution and pooling) and ``convnet`` (Model C).

``fused`` holds the fast path: sigmoid, normalize and the combinator as primitives with
hand-written derivatives; everything else uses the plain formulas, differentiated by autograd.
``ops`` puts the two side by side, ``ops.REFERENCE`` (the plain formulas of ``functions`` and
``combinator``) and ``ops.FAST`` (``fused``), and the choice is an argument, ``ops=``, of ``forward``,
``denoising_and_class_cost``, ``semi_supervised_forward``, ``step_cost`` and ``cost_and_grad``,
handed down to where the three are called. The rule: whatever trains or scores a model
(``experiments``: the training step, validation, evaluation, and the baselines' training and
scoring) passes ``ops=FAST``; everything else, the oracle (trace, golden cases, gradcheck,
identities) and the maths tests, keeps the default ``REFERENCE``, so that the golden numbers are
autograd's derivative of the paper's formulas.
docs/spec.md is the contract these modules implement.
"""
