# %% [markdown]
# # One TAG iteration, equation by equation
#
# Tagger (Greff et al., *Tagger: Deep Unsupervised Perceptual Grouping*, NIPS 2016) keeps, for
# each of K groups, a reconstruction $z_k$ of the input and a soft mask $m_k$, and refines both
# over iterations with one shared network, a Ladder, trained only to denoise. This page follows
# one iteration of that loop (TAG, iterative amortized grouping) step by step in the order of the
# paper's Algorithm 3 (binary inputs), then Algorithm 2 (continuous inputs) more briefly.
#
# Each step gives the formula, the one line of `tagger_ref` that computes it, the shapes and the
# numbers. Each value is also checked against the trace of `tagger_ref.forward`, the function
# that runs the whole forward pass: if the story told here and the code ever part ways, this
# script stops with an error.
#
# The model is tiny and its parameters are random (the initial values, perturbed): the groups do
# not mean anything yet. The arithmetic is what a trained model does too.
#
# - run it: `python examples/walkthrough.py` (it prints a heading before each step; without a
#   display its figures go to `walkthrough-figures/` in the current folder, each path printed);
# - open it as a notebook: `jupytext --to notebook examples/walkthrough.py` (or open the file in
#   Jupyter with Jupytext installed);
# - read it with its outputs: `docs/walkthrough.md`, written by
#   `python examples/render_walkthrough.py`.
#
# Notation (the paper's A.1): N inputs (pixels), K groups, B images in a batch, T iterations;
# arrays over groups have shape (K, B, N). Equation numbers are the paper's. E1 to E14 are the
# rows of the errata table (docs/spec.md section 7): where the authors'
# code, which this reference follows by default, differs from the printed paper.

# %%
import os
import textwrap

import matplotlib.pyplot as plt
import numpy
from autograd import elementwise_grad

from tagger_ref import TaggerConfig, cost_and_grad, forward, random_params
from tagger_ref.maths.combinator import combinator
from tagger_ref.maths.corruption import bitflip, corrupt, draw_mask_logits, initial_masks, initial_z
from tagger_ref.maths.costs import (
    cost_binary,
    cost_continuous,
    denoising_cost_over_iterations,
    mixture_binary,
    mixture_log_terms_continuous,
)
from tagger_ref.maths.functions import normalize, pos
from tagger_ref.maths.heads import input_projection, m_head, m_logits, network_input, z_head
from tagger_ref.maths.ladder import decoder, encoder, ladder
from tagger_ref.maths.likelihood import (
    binary_xi,
    binary_ztilde,
    continuous_total_variance,
    continuous_ztilde,
    group_likelihood_binary,
    group_likelihood_continuous,
)
from tagger_ref.maths.model import likelihood_and_error
from tagger_ref.maths.modelling_error import (
    delta_z_binary,
    delta_z_binary_paper,
    delta_z_continuous,
    delta_z_continuous_eq28,
    delta_z_continuous_eq29,
)
from tagger_ref.oracle.identities import log_q_tilde_binary, log_q_tilde_continuous
from tagger_ref.report.plots import group_colour

numpy.set_printoptions(precision=3, suppress=True, linewidth=120)

# %% [markdown]
# Helpers to print and draw (nothing of the model is computed here):

# %%
SIDE = 6  # the images are SIDE x SIDE pixels


def say(text):
    """Print ``text`` wrapped at 110 characters."""
    print(textwrap.fill(text, 110, subsequent_indent="    "))


def heading(text):
    """Print the step's heading, so that the script's output says which equation each block is."""
    print(f"-- {text} " + "-" * max(3, 106 - len(text)))


def show(name, a, digits=3):
    """Print an array's name, shape and values rounded to ``digits`` (-0.0 printed as 0.0)."""
    a = numpy.asarray(a)
    print(f"{name}: shape {a.shape}")
    print(numpy.round(a, digits) + 0.0)


def agrees(trace, values, rtol=1e-12):
    """Check that each value of the dict ``values`` is the trace's value under its key (to rounding), and say so."""
    for key, value in values.items():
        expected = trace[key]
        err = float(numpy.max(numpy.abs(numpy.reshape(value, expected.shape) - expected), initial=0.0))
        assert err <= rtol * (1.0 + float(numpy.max(numpy.abs(expected)))), (key, err)
    say("= " + ", ".join(f"trace[{key!r}]" for key in values))


def pictures(*rows):
    """Rows of small images. A panel is (caption, image): a grey (SIDE, SIDE) image in [0, 1] or an RGB
    image; or (caption, values, limit): signed values, blue (negative) to red (positive), in [-limit, limit]."""
    columns = max(len(row) for row in rows)
    fig, axes = plt.subplots(len(rows), columns, figsize=(1.25 * columns, 1.5 * len(rows)), squeeze=False)
    for row, row_axes in zip(rows, axes):
        for ax in row_axes[len(row) :]:
            ax.set_axis_off()
        for ax, (caption, image, *limit) in zip(row_axes, row):
            image = numpy.asarray(image)
            if limit:
                ax.imshow(
                    image.reshape(SIDE, SIDE), cmap="RdBu_r", vmin=-limit[0], vmax=limit[0], interpolation="nearest"
                )
            elif image.ndim == 3:
                ax.imshow(image, interpolation="nearest")
            else:
                ax.imshow(image.reshape(SIDE, SIDE), cmap="Greys", vmin=0.0, vmax=1.0, interpolation="nearest")
            ax.set_title(caption, fontsize=8)
            ax.set_xticks([])
            ax.set_yticks([])
    fig.subplots_adjust(left=0.02, right=0.98, bottom=0.02, top=1.0 - 0.35 / len(rows), wspace=0.1, hspace=0.3)
    show_figure(fig)


# Without a display (matplotlib's Agg backend: a server, a plain terminal) plt.show() draws nothing,
# so the figures are saved here and their paths printed. render_walkthrough.py, which collects the
# figures of docs/walkthrough.md itself, sets RENDERING.
FIGURE_FOLDER = "walkthrough-figures"
RENDERING = globals().get("RENDERING", False)
saved = []  # the figures saved so far


def show_figure(fig):
    """plt.show() (a window, a notebook's output), or, with no display, save ``fig`` and print where."""
    if RENDERING or plt.get_backend().lower() != "agg":
        plt.show()
        return
    os.makedirs(FIGURE_FOLDER, exist_ok=True)
    path = os.path.join(FIGURE_FOLDER, f"fig-{len(saved) + 1:02d}.png")
    fig.savefig(path)
    plt.close(fig)
    saved.append(path)
    print(f"(no display: figure saved to {path})")


def blend(a):
    """Image 0 of a (K, B, N) array that sums to one over the groups (m, L(m)) as colours: sum_k a_k colour_k,
    group 0 blue, 1 red, 2 green."""
    colours = numpy.array([group_colour(k) for k in range(len(a))])  # (K, 3)
    return numpy.tensordot(a[:, 0], colours, axes=(0, 0)).reshape(SIDE, SIDE, 3)


# %% [markdown]
# ## The data and the model
#
# Four 6x6 binary images, each a hollow square and a small triangle placed at random (they may
# overlap). The model: K = 3 groups, T = 3 iterations, a Ladder of three layers of 16, 8 and 4
# units, batch normalisation (the paper's "Tagger"), bit-flip probability $\beta = 0.2$, and
# $z_0$ the mean of the data. Every random draw comes from one generator with a fixed seed.
#
# The parameters carry the names of the authors' code (docs/spec.md section 3): `W` and `b`
# project the network input ($W_h$), `f_l_*` are the encoder's layers, `g_l_W` the decoder's and
# `g_l_a1`..`g_l_a10` its combinators, and `z_u_W`, `m_u_W` with `c1`, `b1`, `c2` read out
# the next $z$ and $m$ (the paper's $W_u$).

# %%
heading("The data and the model")
SQUARE = numpy.array([[1, 1, 1], [1, 0, 1], [1, 1, 1]])
TRIANGLE = numpy.array([[0, 1, 0], [1, 1, 1]])


def two_shapes(rng):
    """A (SIDE * SIDE,) binary image: the union of a square and a triangle at random positions."""
    image = numpy.zeros((SIDE, SIDE))
    for sprite in (SQUARE, TRIANGLE):
        h, w = sprite.shape
        r, c = rng.integers(0, SIDE - h + 1), rng.integers(0, SIDE - w + 1)
        image[r : r + h, c : c + w] = numpy.maximum(image[r : r + h, c : c + w], sprite)
    return image.ravel()


rng = numpy.random.default_rng(2016)
x = numpy.stack([two_shapes(rng) for _ in range(4)])  # (B, N)
B, N = x.shape
config = TaggerConfig(
    n_inputs=N,
    n_groups=3,
    n_iterations=3,
    encoder_proj=(16, 8, 4),
    input_noise=0.2,
    z_init=round(float(x.mean()), 2),
    batch_size=B,
)
K, T, beta = config.n_groups, config.n_iterations, config.input_noise
n_layers = len(config.encoder_proj)
params = random_params(config, rng)
print(f"N = {N}, B = {B}, K = {K}, T = {T}, beta = {beta}, z_init = {config.z_init}")
say(
    "parameter shapes: "
    + ", ".join(f"{name}={'x'.join(map(str, value.shape)) or '()'}" for name, value in params.items())
)

# %% [markdown]
# ## Initialisation
#
# ### Corruption (A.2)
#
# The network never sees the clean $x$, only a corrupted copy: each bit flips with probability
# $\beta$,
#
# $$\tilde{x} = x \oplus \mathcal{B}(\beta),$$
#
# written $\tilde{x} = x + r\,(1 - 2x)$ with $r \sim \mathcal{B}(\beta)$, so that it is arithmetic
# on arrays (`corruption.bitflip`).

# %%
heading("Initialisation: corruption (A.2)")
x_tilde = corrupt(x, config.input_type, beta, rng)  # (B, N)
r = (x_tilde != x).astype(float)
assert numpy.array_equal(bitflip(x, r), x_tilde)
print(f"{int(r.sum())} of {r.size} bits flipped ({r.mean():.2f}; beta = {beta})")
show("x_tilde, image 0", x_tilde[0].reshape(SIDE, SIDE), 0)
pictures([(f"x, image {b}", x[b]) for b in range(B)], [(f"x_tilde, image {b}", x_tilde[b]) for b in range(B)])

# %% [markdown]
# ### Initial masks (8)-(9) and reconstructions (A.4)
#
# The masks start random but normalised: draw $m'_{k,j} \sim \mathcal{N}(0, 1)$ (8), then take a
# softmax over the groups (9),
#
# $$m_{k,j} = \frac{e^{m'_{k,j}}}{\sum_{h=1}^K e^{m'_{h,j}}},$$
#
# so that $m_{k,j} \ge 0$ and $\sum_k m_{k,j} = 1$, the condition of (3) and (7): $m_{k,j}$ is the
# probability $q(g_{k,j})$ that pixel $j$ belongs to group $k$. Every $z_k$ starts at the data
# mean, $z^0 = E[x]$.
#
# The random draws (corruption, then mask logits, as `corruption.make_inputs` makes them) are inputs
# of the forward pass, so the pass itself is a deterministic function. We run it once here, and
# check every step below against its trace. In the pictures, group 0 is blue, group 1 red and
# group 2 green; "colours" mixes them at each pixel in proportion to the mask.

# %%
heading("Initialisation: masks (8)-(9) and reconstructions (A.4)")
m0_logits = draw_mask_logits(K, B, N, rng)  # m', (K, B, N)
m = initial_masks(m0_logits)  # m_0, (K, B, N)
z = initial_z(x_tilde, K, config.z_init)  # z_0, (K, B, N)
inputs = {"x": x, "x_tilde": x_tilde, "m0_logits": m0_logits}
trace = forward(params, config, inputs)
say("trace keys: " + ", ".join(trace))
assert numpy.allclose(m.sum(axis=0), 1.0)
show("m_0, image 0", m[:, 0].reshape(K, SIDE, SIDE))
agrees(trace, {"m_0": m, "z_0": z})
pictures([("m_0 (colours)", blend(m))] + [(f"m_0, group {k}", m[k, 0]) for k in range(K)])

# %% [markdown]
# ## Iteration i = 0, in the order of Algorithm 3
#
# ### Step 1: what each group predicts for the corrupted pixel, (11)-(17)
#
# For binary inputs, $z_k$ is the probability that a pixel is on, as group $k$ sees it (11):
# $\mathrm{sigmoid}(\text{logit}_k) = q(x = 1 \mid g_k)$ (the code keeps $z$ as that
# probability and the logit beside it). The corrupted pixel is on when a clean "on" survives or a
# clean "off" flips, (12)-(16):
#
# $$q(\tilde{x} = 1 \mid g_k) = \sum_x q(\tilde{x} \mid x)\, q(x \mid g_k)
#   = (1 - \beta) z_k + \beta (1 - z_k),$$
#
# which is (17):
#
# $$\xi_k := q(\tilde{x} = 1 \mid g_k) = z_k (1 - 2\beta) + \beta.$$

# %%
heading("Iteration i = 0, step 1: what each group predicts for the corrupted pixel, (11)-(17)")
xi = binary_xi(z, beta)  # (K, B, N)
print("xi at i = 0 (z_0 is the same everywhere):", numpy.unique(xi.round(12)))
print("z_init (1 - 2 beta) + beta =", round(config.z_init * (1 - 2 * beta) + beta, 12))

# %% [markdown]
# ### Step 2: the modelling error $\delta z$, (21)-(31) and errata E1
#
# $\delta z_k$ tells group $k$ how its reconstruction should move to explain the corrupted input
# better: it is the derivative of the log-likelihood of $\tilde{x}$ under the mixture, (21)-(25),
#
# $$\delta z_k \propto -\frac{\partial C(\tilde{x})}{\partial z_k} \;(21), \qquad
#   \delta z_k = -\frac{\partial C(\tilde{x})}{\partial z_k} \;(22)
#   = \frac{\partial}{\partial z_k} \log \sum_h q(\tilde{x} \mid g_h)\, q(g_h) \;(23)
#   = \frac{1}{\sum_h \tilde{z}_h m_h} \frac{\partial \tilde{z}_k}{\partial z_k} m_k \;(24)\text{-}(25),$$
#
# with $\tilde{z}_k = q(\tilde{x} \mid g_k)$. (The paper's (26) is an empty line; (27)-(29) are the
# continuous case, at the end.) For bit flips, (18) gives
# $\tilde{z}_k = \tilde{x}\xi_k + (1 - \tilde{x})(1 - \xi_k)$ and
# $\partial \tilde{z}_k / \partial z_k = (2\tilde{x} - 1)(1 - 2\beta)$, so (30)-(31):
#
# $$\delta z_k = \frac{(\tilde{x}(1-2\beta) - (1-\tilde{x})(1-2\beta))\, m_k}
#                      {\sum_h (\tilde{x}\xi_h + (1-\tilde{x})(1-\xi_h))\, m_h}
#              = \frac{(1 - 2\beta)\, m_k}{\sum_h \xi_h m_h - 1 + \tilde{x}}.$$
#
# The second form holds for $\tilde{x} \in \lbrace 0, 1 \rbrace$: for $\tilde{x} = 1$ the denominator is
# $\sum_h \xi_h m_h$, for $\tilde{x} = 0$ it is $-(1 - \sum_h \xi_h m_h)$. So $\delta z_k$ is
# positive where the corrupted pixel is on (raise $z_k$) and negative where it is off, in
# proportion to the group's share $m_k$ of the pixel.

# %%
heading("Step 2: the modelling error delta_z, (21)-(31) and errata E1")
delta_z = delta_z_binary(z, m, x_tilde, beta)  # (K, B, N)
show("delta_z_0, image 0", delta_z[:, 0].reshape(K, SIDE, SIDE))
agrees(trace, {"delta_z_0": delta_z})
# the identity (22)-(23): autograd's derivative of log sum_h z_tilde_h m_h, (18), with respect to z
autograd_delta_z = elementwise_grad(log_q_tilde_binary)(z, m, x_tilde, beta)
assert numpy.allclose(autograd_delta_z, delta_z, rtol=1e-12, atol=0)
print("= d/dz log q(x_tilde), by autograd")
pictures([("x_tilde", x_tilde[0])] + [(f"delta_z_0, group {k}", delta_z[k, 0], 2.0) for k in range(K)])

# %% [markdown]
# **Errata E1.** The paper's closing line of A.5 (and Algorithm 3) drops the factor $(1 - 2\beta)$:
#
# $$\delta z_k = \frac{m_k}{\sum_h \xi_h m_h - 1 + \tilde{x}}$$
#
# (and its line for $\tilde{x} = 1$ carries a sign slip, $\approx -m_k / \sum_h \xi_h m_h$, where
# the value is positive). The paper notes (after (29)) that constant factors can be dropped
# because the network multiplies its inputs by weights, and indeed $W_h$ can absorb the factor.
# But the authors' code computes the exact derivative (30)-(31), factor kept, and its trained
# weights expect that scale, so the default here keeps it (`semantics="original"`). The printed
# formula is `delta_z_binary_paper` (`semantics="paper"`): the same array divided by
# $(1 - 2\beta)$.

# %%
heading("Step 2, errata E1: the paper's printed delta_z")
delta_z_printed = delta_z_binary_paper(z, m, x_tilde, beta)  # (K, B, N)
print(
    "delta_z_paper / delta_z =",
    numpy.unique((delta_z_printed / delta_z).round(12)),
    "= 1 / (1 - 2 beta) =",
    round(1 / (1 - 2 * beta), 12),
)

# %% [markdown]
# ### Step 3: the group likelihood $L(m)$, (5) with (18)
#
# For each pixel, how much better does group $k$ explain the corrupted value than the others?
# (5) normalises the likelihoods over the groups:
#
# $$L(m_{k,j}) = \frac{\tilde{z}_{k,j}}{\sum_h \tilde{z}_{h,j}}, \qquad
#   \tilde{z}_k = \tilde{x}\xi_k + (1 - \tilde{x})(1 - \xi_k) \;(18).$$
#
# Algorithm 3 prints the numerator with $\xi_h$, a typo for $\xi_k$ (E8). The code soft-clips
# $\xi$ into $[10^{-4}, 1 - 10^{-4}]$ and takes a softmax over the groups of $\log \tilde{z}_k$
# (the same ratio, with finite logarithms when $\xi$ reaches 0 or 1). At $i = 0$ every group
# predicts the same $z_0$, so $L(m) = 1/K$ everywhere: no group is favoured yet.

# %%
heading("Step 3: the group likelihood L(m), (5) with (18)")
L_m = group_likelihood_binary(z, x_tilde, beta)  # (K, B, N)
print("L(m) at i = 0:", numpy.unique(L_m.round(12)))
agrees(trace, {"L_m_0": L_m})
z_tilde = binary_ztilde(z, x_tilde, beta)  # (K, B, N), (18)
assert numpy.allclose(L_m, z_tilde / z_tilde.sum(axis=0), atol=1e-3)  # (5), up to the soft clip

# %% [markdown]
# ### Step 4: the network input, $h_k = f(W_h [z_k, m_k, \delta z_k, L(m_k)])$
#
# The four quantities of each group are concatenated and projected by one matrix $W_h$, shared by
# all groups, then passed through the rectifier $f$. Two details of the code (E6, E7):
#
# - the order is $[z, \delta z, m, L(m)]$, not the paper's $[z, m, \delta z, L(m)]$, and from the
#   second iteration on the binary $z$ enters as its logit (the trained $W_h$ expects this);
# - as A.7 says, batch normalisation was "omitted for clarity": the code normalises before the
#   bias, $h = f(\mathrm{normalize}(\text{input}\, W) + b)$, with the mean and variance taken over
#   the K B rows of groups and images together.
#
# From here on the groups and images are the rows of one matrix, (K B, features).

# %%
heading("Step 4: the network input, h_k = f(W_h [z_k, m_k, delta_z_k, L(m_k)])")
network_in = network_input(z, delta_z, m, L_m)  # (K, B, 4N)
h = input_projection(params, network_in, config.norm)  # (K*B, H_0)
print(f"input {network_in.shape} @ W {params['W'].shape} -> h {h.shape}")
show("h_0, image 0 (one row per group)", h.reshape(K, B, -1)[:, 0])
agrees(trace, {"h_0": h})

# %% [markdown]
# ### Step 5: the Ladder's encoder
#
# The Ladder (Rasmus et al., 2015) runs without its noise and denoising costs (A.6). Its clean
# encoder goes up from $h^{(0)} = h$, keeping each normalised pre-activation as the lateral
# $z^{(l)}$ that the decoder will use:
#
# $$z^{(l)} = \mathrm{normalize}(h^{(l-1)} W_l), \qquad h^{(l)} = f(z^{(l)} + b_l) \quad (l < L-1), \qquad
#   h^{(L-1)} = \mathrm{softmax}((z^{(L-1)} + b_{L-1}) \odot c_{L-1}).$$

# %%
heading("Step 5: the Ladder's encoder")
laterals, top, top_logits = encoder(params, h, n_layers, config.norm)
print("laterals z^(l):", [lateral.shape for lateral in laterals], " top h^(L-1):", top.shape)
show("top h^(L-1), image 0", top.reshape(K, B, -1)[:, 0])
agrees(trace, {"ladder_top_0": top})

# %% [markdown]
# ### Step 6: the Ladder's decoder and combinator
#
# The decoder comes down from the top: $u^{(L-1)} = \mathrm{normalize}(h^{(L-1)})$, below it
# $u^{(l)} = \mathrm{normalize}(\hat{z}^{(l+1)} V_l)$, and at each layer the combinator merges the
# top-down $u$ with the lateral $z^{(l)}$, unit by unit, with ten parameters per unit:
#
# $$\mu = a_1 g(a_2 u + a_3) + a_4 u + a_5, \qquad v = a_6 g(a_7 u + a_8) + a_9 u + a_{10}, \qquad
#   \hat{z} = (z - \mu)\, v + \mu,$$
#
# $g$ the logistic sigmoid. For continuous inputs Tagger adds a sigmoid on the gating variable,
# $v \leftarrow g(v)$ (A.6, E11); binary models use the plain combinator. The output $\hat{z}^{(0)}$
# has the width of $h$.

# %%
heading("Step 6: the Ladder's decoder and combinator")
a_top = [params[f"g_{n_layers - 1}_a{j}"] for j in range(1, 11)]
zhat_top = combinator(laterals[-1], normalize(top, config.norm), a_top, False)  # (K*B, H_{L-1})
zhat0 = decoder(params, laterals, top, n_layers, False, config.norm)  # (K*B, H_0)
print("zhat at the top:", zhat_top.shape, " zhat^(0):", zhat0.shape)
show("zhat^(0), image 0", zhat0.reshape(K, B, -1)[:, 0])
agrees(trace, {"zhat0_0": zhat0})

# %% [markdown]
# ### Step 7: the heads, $[z^{i+1}_k, m^{i+1}_k] \leftarrow W_u\, \mathrm{Ladder}(h_k)$
#
# Two linear read-outs of $\hat{z}^{(0)}$ (the paper's $W_u$ is `z_u_W` and `m_u_W` side by side),
# each normalised and scaled (E7). The reconstruction goes through the sigmoid of (11),
#
# $$\text{logit}_k = c_1 \odot \mathrm{normalize}(\hat{z}^{(0)} W_z) + b_1, \qquad z_k = g(\text{logit}_k),$$
#
# and the masks through a softmax over the groups, which enforces (3) and (7) again:
#
# $$m_k = \mathrm{softmax}_k(c_2\, \mathrm{normalize}(\hat{z}^{(0)} W_m)).$$

# %%
heading("Step 7: the heads, [z_k, m_k] <- W_u Ladder(h_k)")
z_next, z_logit = z_head(params, zhat0, True, config.norm)  # (K*B, N) each
z_next, z_logit = z_next.reshape(K, B, N), z_logit.reshape(K, B, N)
m_next = m_head(m_logits(params, zhat0, config.norm).reshape(K, B, N))  # (K, B, N)
assert numpy.allclose(m_next.sum(axis=0), 1.0)
show("z_1, image 0", z_next[:, 0].reshape(K, SIDE, SIDE), 2)
show("m_1, image 0", m_next[:, 0].reshape(K, SIDE, SIDE), 2)
agrees(trace, {"z_logit_1": z_logit, "z_1": z_next, "m_1": m_next})

# %% [markdown]
# ### Step 8: the prediction and its cost, (2)
#
# The model's denoised guess mixes the groups' predictions by their masks, (2):
#
# $$q(x_j) = \sum_k m_{k,j}\, q(x_j \mid g_{k,j}), \qquad q(x_j = 1) = \sum_k m_{k,j} z_{k,j},$$
#
# and the cost of iteration $i + 1$ is $-\log q_{i+1}(x)$ of the clean $x$, the binary
# cross-entropy. The code (E5) soft-clips $q$ into $[10^{-4}, 1 - 10^{-4}]$ and averages over
# pixels and images.

# %%
heading("Step 8: the prediction and its cost, (2)")
q = mixture_binary(z_next, m_next)  # q(x = 1), (B, N)
cost = cost_binary(z_next, m_next, x)  # ()
by_hand = -numpy.mean(x * numpy.log(q) + (1 - x) * numpy.log(1 - q))
print(f"cost_1 = {cost:.6f}; -mean log q(x) without the soft clip = {by_hand:.6f}")
agrees(trace, {"cost_1": cost})
pictures(
    [("x", x[0]), ("x_tilde", x_tilde[0]), ("q_1(x = 1)", q[0]), ("m_1 (colours)", blend(m_next))]
    + [(f"z_1, group {k}", z_next[k, 0]) for k in range(K)]
)

# %% [markdown]
# ## Iterations 2 and 3
#
# The same steps again, from $(z_i, m_i)$: now the groups differ, so $L(m)$ favours some groups
# over others, pixel by pixel. `model.likelihood_and_error` is steps 1-3 (per `semantics`), and
# `ladder.ladder` is steps 5-6. The binary $z$ enters the network as its logit (E6). The picture
# has one row per iteration $i$ = 1, 2, 3 of image 0: the prediction $q_i(x = 1)$, the masks, the
# group likelihood computed from them (the input of iteration $i$), and each group's $z_i$. With
# random parameters nothing converges; a trained model sharpens the masks into objects here.

# %%
heading("Iterations 2 and 3")
costs, rows = [cost], []
z, m, z_in = z_next, m_next, z_logit
for i in range(1, T):
    L_m, delta_z = likelihood_and_error(z, m, x_tilde, config)  # (5), (30)-(31)
    h = input_projection(params, network_input(z_in, delta_z, m, L_m), config.norm)
    zhat0, top, top_logits = ladder(params, h, n_layers, False, config.norm)
    z_flat, z_logit_flat = z_head(params, zhat0, True, config.norm)
    z_next, z_in = z_flat.reshape(K, B, N), z_logit_flat.reshape(K, B, N)
    m_next = m_head(m_logits(params, zhat0, config.norm).reshape(K, B, N))
    costs.append(cost_binary(z_next, m_next, x))
    print(f"iteration {i}:")
    agrees(
        trace,
        {
            f"L_m_{i}": L_m,
            f"delta_z_{i}": delta_z,
            f"h_{i}": h,
            f"ladder_top_{i}": top,
            f"zhat0_{i}": zhat0,
            f"z_{i + 1}": z_next,
            f"m_{i + 1}": m_next,
            f"cost_{i + 1}": costs[-1],
        },
    )
    rows.append(
        [
            (f"q_{i}(x = 1)", mixture_binary(z, m)[0]),
            (f"m_{i} (colours)", blend(m)),
            (f"L(m_{i}) (colours)", blend(L_m)),
        ]
        + [(f"z_{i}, group {k}", z[k, 0]) for k in range(K)]
    )
    z, m = z_next, m_next
print("cost per iteration:", ", ".join(f"{float(c):.4f}" for c in costs))
pictures(
    *rows,
    [(f"q_{T}(x = 1)", mixture_binary(z, m)[0]), (f"m_{T} (colours)", blend(m)), ("x_tilde", x_tilde[0])]
    + [(f"z_{T}, group {k}", z[k, 0]) for k in range(K)],
)

# %% [markdown]
# ### The training cost (1)
#
# The cost sums over the iterations, (1):
#
# $$C(x) = -\sum_{i=1}^{T} \log q_i(x).$$
#
# The authors' code averages instead of summing (E5), which only scales the gradient. Training
# (section 3.1, A.7) backpropagates this cost through all T iterations into every parameter, with
# Adam; `cost_and_grad` gives the exact gradient by autograd.

# %%
heading("The training cost (1)")
total = denoising_cost_over_iterations(costs)  # mean over iterations (E5)
print(f"total_cost = {total:.6f} (the mean); the paper's sum = {denoising_cost_over_iterations(costs, 'paper'):.6f}")
agrees(trace, {"total_cost": total})

# %% [markdown]
# ## Checking the derivations
#
# ### $\delta z$ is the derivative of $\log q(\tilde{x})$, at an informative point
#
# At $i = 0$ every group had the same $z$. At iteration 2 they differ; the formula (30)-(31),
# read from the trace, is still autograd's derivative of
# $\log \sum_h \tilde{z}_h m_h$ with respect to each $z_{k,j}$, (22)-(23).

# %%
heading("Checking the derivations: delta_z is the derivative of log q(x_tilde), (30)-(31)")
z_2, m_2 = trace["z_2"], trace["m_2"]
autograd_delta_z = elementwise_grad(log_q_tilde_binary)(z_2, m_2, x_tilde, beta)
assert numpy.allclose(autograd_delta_z, trace["delta_z_2"], rtol=1e-12, atol=0)
show("delta_z_2 by autograd, image 0, group 0", autograd_delta_z[0, 0].reshape(SIDE, SIDE))
print("= trace['delta_z_2'] to 1e-12")

# %% [markdown]
# ### One gradient by finite differences
#
# The gradient of the training cost with respect to the mask head's scale $c_2$, from autograd
# through all three iterations, against the central difference
# $(C(c_2 + \epsilon) - C(c_2 - \epsilon)) / 2\epsilon$ with $\epsilon = 10^{-5}$
# (`tagger-ref gradcheck` does this for every parameter).

# %%
heading("Checking the derivations: one gradient by finite differences")
cost_value, grads = cost_and_grad(params, config, inputs)
eps = 1e-5
c_plus = forward(dict(params, c2=params["c2"] + eps), config, inputs)["total_cost"]
c_minus = forward(dict(params, c2=params["c2"] - eps), config, inputs)["total_cost"]
numeric = (c_plus - c_minus) / (2 * eps)
print(f"dC/dc2: autograd {float(grads['c2']):.7f}, finite differences {float(numeric):.7f}")
assert abs(grads["c2"] - numeric) <= 1e-7 * abs(numeric)

# %% [markdown]
# ### The printed formula of E1 gives a different trace
#
# The same parameters and inputs with `semantics="paper"`: $\delta z$ without the factor
# $(1 - 2\beta)$ (E1), and the cost summed over the iterations (E5). $L(m_0)$ does not depend on
# $\delta z$ and is unchanged; $\delta z_0$ is scaled by $1 / (1 - 2\beta)$; everything the
# network computes from it differs.

# %%
heading("Checking the derivations: the printed formula of E1 gives a different trace")
paper = forward(params, config.replace(semantics="paper"), inputs)
for key in ["L_m_0", "delta_z_0", "h_0", "zhat0_0", "m_1", "z_1", "cost_1", "total_cost"]:
    print(f"{key:>10}: max |original - paper| = {numpy.max(numpy.abs(trace[key] - paper[key])):.3g}")
assert numpy.allclose(paper["delta_z_0"], trace["delta_z_0"] / (1 - 2 * beta), rtol=1e-12, atol=0)

# %% [markdown]
# ## The continuous case, Algorithm 2
#
# Grey-level images, Gaussian noise of standard deviation $\sigma = 0.2$ (A.2):
# $\tilde{x} = x + \mathcal{N}(0, \sigma^2)$. Each $z_k$ is now the mean of a Gaussian with a
# learned variance $v$, (19):
#
# $$q(x \mid g_k) = \mathcal{N}(x; z_k, v I) = \frac{1}{\sqrt{2\pi v}} e^{-\frac{(x - z_k)^2}{2v}}$$
#
# (the paper prints the exponent without its minus sign, E9), and the corrupted input, a sum of
# two Gaussians, has (20):
#
# $$\tilde{z}_k = q(\tilde{x} \mid g_k) = \mathcal{N}(\tilde{x}; z_k, (v + \sigma^2) I).$$
#
# In the code the variance is $v_{\text{eff}} = \exp(\operatorname{asinh}(v))$, positive for any
# parameter $v$ (E4), and the likelihood uses $\sigma^2 + v_{\text{eff}}^2$ where the paper has
# $v + \sigma^2$ (E3).

# %%
heading("The continuous case, Algorithm 2")
x_c = numpy.where(x > 0, 0.8, 0.2)  # (B, N) grey levels
config_c = TaggerConfig(
    input_type="continuous",
    n_inputs=N,
    n_groups=K,
    n_iterations=T,
    encoder_proj=(16, 8, 4),
    input_noise=0.2,
    z_init=round(float(x_c.mean()), 2),
    batch_size=B,
)
sigma = config_c.input_noise
params_c = random_params(config_c, rng)
x_c_tilde = corrupt(x_c, config_c.input_type, sigma, rng)  # (B, N)
inputs_c = {"x": x_c, "x_tilde": x_c_tilde, "m0_logits": draw_mask_logits(K, B, N, rng)}
trace_c = forward(params_c, config_c, inputs_c)
z_c, m_c = trace_c["z_0"], trace_c["m_0"]
v_eff = pos(params_c["v"])  # E4
s2 = continuous_total_variance(sigma, v_eff)  # sigma^2 + v_eff^2 (E3)
z_tilde_c = continuous_ztilde(z_c, x_c_tilde, s2)  # (20), (K, B, N)
print(f"v = {float(params_c['v']):.4f}, v_eff = {float(v_eff):.4f}, sigma^2 + v_eff^2 = {float(s2):.4f}")
show("z_tilde_0, image 0, group 0", z_tilde_c[0, 0].reshape(SIDE, SIDE))
pictures([("x", x_c[0]), ("x_tilde", numpy.clip(x_c_tilde[0], 0, 1))])

# %% [markdown]
# ### $L(m)$ and $\delta z$ for continuous inputs, (5), (4) and (27)-(29)
#
# $L(m)$ is (5) again with the Gaussian $\tilde{z}_k$. For $\delta z$, the derivation (22)-(25)
# now gives (27)-(28),
#
# $$\delta z_k = \frac{1}{\sum_h \tilde{z}_h m_h} \frac{\tilde{x} - z_k}{\sigma^2 + v} \tilde{z}_k m_k,$$
#
# which the paper simplifies to $(\tilde{x} - z_k)\, m_k \tilde{z}_k$ (29), the line of
# Algorithm 2, and the main text to (4), $\delta z_k = m_k(\tilde{x} - z_k)$. The authors' code
# uses (4) (E2); `semantics="paper"` uses (28) and `"paper-eq29"` uses (29). (28) is again
# the exact derivative of $\log q(\tilde{x})$, which autograd confirms.

# %%
heading("Continuous inputs: L(m) and delta_z, (5), (4) and (27)-(29)")
L_m_c = group_likelihood_continuous(z_c, x_c_tilde, s2)  # (5) with (20)
delta_z_c = delta_z_continuous(z_c, m_c, x_c_tilde)  # (4), the code's
delta_z_28 = delta_z_continuous_eq28(z_c, m_c, x_c_tilde, s2)  # (28), exact
delta_z_29 = delta_z_continuous_eq29(z_c, m_c, x_c_tilde, s2)  # (29), Alg. 2
agrees(trace_c, {"L_m_0": L_m_c, "delta_z_0": delta_z_c})
assert numpy.allclose(elementwise_grad(log_q_tilde_continuous)(z_c, m_c, x_c_tilde, s2), delta_z_28, rtol=1e-12)
print("(28) = d/dz log q(x_tilde), by autograd")
for name, d in [("(4)", delta_z_c), ("(28)", delta_z_28), ("(29)", delta_z_29)]:
    show(f"delta_z {name}, image 0, group 0, first row", d[0, 0, :SIDE])

# %% [markdown]
# ### Network, Ladder and heads; the cost (6)
#
# The network input, the Ladder (now with the sigmoid on the combinator's gating, E11) and the
# heads are those of the binary case, except that $z_k$ is read out linearly, the mean of the
# Gaussian. The prediction is the Gaussian mixture (6),
#
# $$q(x) = \sum_k \mathcal{N}(x; z_k, v I)\, m_k,$$
#
# and its cost $-\log q(x)$ is computed by a log-sum-exp over the groups; the code (E5) drops the
# constant $\log(2\pi)/2$, adds $10^{-5}$ inside $\log m$, and uses $v_{\text{eff}}$ as the variance.

# %%
heading("Continuous inputs: network, Ladder and heads; the cost (6)")
h_c = input_projection(params_c, network_input(z_c, delta_z_c, m_c, L_m_c), config_c.norm)
zhat0_c, top_c, _ = ladder(params_c, h_c, n_layers, True, config_c.norm)
z_c1 = z_head(params_c, zhat0_c, False, config_c.norm)[0].reshape(K, B, N)
m_c1 = m_head(m_logits(params_c, zhat0_c, config_c.norm).reshape(K, B, N))
cost_c = cost_continuous(z_c1, m_c1, x_c, v_eff)  # (6)
log_terms = mixture_log_terms_continuous(z_c1, m_c1, x_c, v_eff)  # (K, B, N)
densities = numpy.exp(-((x_c - z_c1) ** 2) / (2 * v_eff)) / numpy.sqrt(2 * numpy.pi * v_eff)
by_hand = -numpy.mean(numpy.log(numpy.sum(densities * m_c1, axis=0)))  # (6), straight from the densities
print(
    f"cost_1 = {cost_c:.6f}; -mean log q(x) from the densities = {by_hand:.6f}; "
    f"difference {by_hand - cost_c:.4f}, log(2 pi)/2 = {numpy.log(2 * numpy.pi) / 2:.4f}"
)
assert numpy.isclose(cost_c, -numpy.mean(numpy.log(numpy.sum(numpy.exp(log_terms), axis=0))), rtol=1e-12)
say(f"log N(x; z_k, v) + log(m_k + 1e-5) + log(2 pi)/2: shape {log_terms.shape}; cost_1 = -mean log sum_k exp of it")
agrees(trace_c, {"h_0": h_c, "ladder_top_0": top_c, "zhat0_0": zhat0_c, "z_1": z_c1, "m_1": m_c1, "cost_1": cost_c})
print(
    "costs:",
    [round(float(trace_c[f"cost_{i}"]), 4) for i in range(1, T + 1)],
    f"total_cost {float(trace_c['total_cost']):.4f}",
)

# %% [markdown]
# ## Where each step lives
#
# The table of every equation and the function that computes it is docs/equations.md (its one
# home); the trace keys are listed in docs/spec.md section 8.
#
# The whole pass is `model.forward`; its gradient, `gradients.cost_and_grad`. The
# contract behind all of it is docs/spec.md (section 4 for the forward pass, section 8 for the
# trace); docs/spec.md section 7 lists every difference between paper and code.
