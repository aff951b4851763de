"""The paper as array code: one module per part of the computation, read in this order.

1. ``functions``: the elementary functions (sigmoid, softmax, normalize, ...), each with its
   numerical trick;
2. ``corruption``: the corrupted input x_tilde (A.2), the initial z and masks (8)-(9);
3. ``likelihood``: the per-group likelihood of x_tilde and the group likelihood L(m), (5), (11)-(20);
4. ``modelling_error``: delta_z, (4) and (21)-(31);
5. ``heads``: the network input, its projection, and the heads for z and m (Alg. 2-3);
6. ``ladder``: the Ladder's encoder, decoder and combinator (Rasmus et al.; A.6);
7. ``costs``: the mixture prediction and the denoising cost (1)-(2), (6);
8. ``classification``: per-group class outputs with the "no class" unit (section 3.3);
9. ``model``: the forward pass, the TAG iterations around the Ladder (Alg. 1-3);
10. ``semi_supervised``: the labeled and unlabeled passes of a semi-supervised step (section 3.3);
11. ``gradients``: the exact gradient of the cost by autograd.

The baselines of Table 2 (docs/baselines.md) have their own modules beside these: ``mlp`` (the
FC MLP and the layers and class cost the baselines share), ``fc_ladder`` (Rasmus et al.'s Ladder
with noise and denoising costs), ``conv`` (convolution and pooling) and ``convnet`` (Model C).

``fused`` holds the fast path: sigmoid, normalize and the combinator as primitives with
hand-written derivatives, which training switches on; everything else uses the plain formulas,
differentiated by autograd. docs/spec.md is the contract these modules implement.
"""
