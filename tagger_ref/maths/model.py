"""Tagger's forward pass: TAG iterations around the Ladder (Alg. 1-3, docs/spec.md section 4).

``forward`` is Algorithm 1: ``initial_state``, then T calls of ``tag_iteration`` (one iteration
i -> i+1), then the cost over iterations and the class head (``class_outputs``); what goes into
the trace is ``iteration_trace``'s, group removal ``remove_group_logits``'s. It is a pure function
of the parameter dict, the config and the inputs (``x``, ``x_tilde``, ``m0_logits``, optionally
``y``), and of ``ops``, the path through sigmoid, normalize and the combinator (``ops.REFERENCE``,
the default, or ``ops.FAST``). It returns every intermediate quantity under the trace keys of
docs/spec.md section 8, and the cost under the key ``total_cost`` (``denoising_and_class_cost``).
Gradients come from autograd (``tagger_ref.maths.gradients``). Groups and batch rows are handled
as array axes, never by loops.
"""

import numpy

from ..device.backend import entries, getval, np
from ..errors import InputError
from .classification import class_cost_log, class_log_probabilities, class_targets
from .corruption import initial_masks, initial_z
from .costs import cost_binary, cost_continuous, denoising_cost_over_iterations
from .functions import log_softmax, pos, softmax
from .heads import input_projection, m_head, m_logits, network_input, z_head
from .ladder import ladder
from .likelihood import continuous_total_variance, group_likelihood_binary, group_likelihood_continuous
from .modelling_error import (
    delta_z_binary,
    delta_z_binary_paper,
    delta_z_continuous,
    delta_z_continuous_eq28,
    delta_z_continuous_eq29,
)
from .ops import REFERENCE

# The logit given to a removed group before the last softmax (Figure 5, example E2): exp(-1e9)
# is exactly zero in float32 and float64, so the other groups share its inputs.
REMOVED_GROUP_LOGIT = -1e9


def likelihood_and_error(z, m, x_tilde, config, s2=None, mask_logits=None):
    """Steps 1-2 of an iteration: L(m) (5) and delta_z (4)/(28)-(31) from (z_i, m_i), per semantics.

    mask_logits: the logits of m (m = softmax_K(mask_logits)); (28) takes log m from them.
    """
    if config.input_type == "binary":
        beta = config.input_noise
        L_m = group_likelihood_binary(z, x_tilde, beta)
        if config.semantics == "original":
            return L_m, delta_z_binary(z, m, x_tilde, beta)
        return L_m, delta_z_binary_paper(z, m, x_tilde, beta)
    L_m = group_likelihood_continuous(z, x_tilde, s2)
    if config.semantics == "original":
        return L_m, delta_z_continuous(z, m, x_tilde)
    if config.semantics == "paper":
        log_m = None if mask_logits is None else log_softmax(mask_logits, axis=0)
        return L_m, delta_z_continuous_eq28(z, m, x_tilde, s2, log_m)
    return L_m, delta_z_continuous_eq29(z, m, x_tilde, s2)


def _check_entry(config, x, x_tilde, m0_logits, T, remove_group):
    """Shapes and T at the entry of ``forward``: InputError naming the first mismatch."""
    N = config.n_inputs
    if isinstance(T, bool) or not isinstance(T, (int, numpy.integer)) or T < 1:
        raise InputError(f"n_iterations must be an integer >= 1, got {T!r}")
    if numpy.ndim(x) != 2 or numpy.shape(x)[1] != N:
        raise InputError(f"x has shape {numpy.shape(x)}, expected (B, N={N}) for this config")
    if numpy.shape(x_tilde) != numpy.shape(x):
        raise InputError(f"x_tilde has shape {numpy.shape(x_tilde)}, expected that of x {numpy.shape(x)}")
    if numpy.ndim(m0_logits) != 3 or numpy.shape(m0_logits)[1:] != numpy.shape(x):
        raise InputError(
            f"m0_logits has shape {numpy.shape(m0_logits)}, expected (K, {', '.join(map(str, numpy.shape(x)))})"
        )
    K = numpy.shape(m0_logits)[0]
    if remove_group is not None and not 0 <= remove_group < K:
        raise InputError(f"remove_group = {remove_group!r}, but there are K = {K} groups")


def continuous_variances(params, config):
    """(s2, v_eff) of a continuous model, (None, None) for binary inputs.

    v_eff = pos(v) the learned variance of (6) (errata E4); s2 = sigma^2 + v_eff^2 the variance of
    x_tilde given a group in (20) (errata E3: (20) and (6) use different variances).
    """
    if config.input_type == "binary":
        return None, None
    v_eff = pos(params["v"])  # errata E4
    return continuous_total_variance(config.input_noise, v_eff, config.semantics), v_eff  # (20), E3


def initial_state(x_tilde, m0_logits, config):
    """Iteration 0's state: z_0 = z_init everywhere (A.4), m_0 = softmax_K(m0_logits) (8)-(9).

    A state is the dict z (K, B, N), m (K, B, N), mask_logits (m's logits, (K, B, N)) and z_logit
    (binary inputs from iteration 1 on: z before the sigmoid; None otherwise).
    """
    K = m0_logits.shape[0]
    return {
        "z": initial_z(x_tilde, K, config.z_init),  # (K, B, N)
        "m": initial_masks(m0_logits),  # (K, B, N), (8)-(9)
        "mask_logits": m0_logits,
        "z_logit": None,
    }


def remove_group_logits(mask_logits, group):
    """Group removal (Figure 5, example E2): group ``group``'s mask logits set to REMOVED_GROUP_LOGIT
    before the softmax over groups, so that m_group = 0 and the other groups share its inputs."""
    K = mask_logits.shape[0]
    removed = (np.arange(K, like=getval(mask_logits)) == group)[:, None, None]  # (K, 1, 1)
    return np.where(removed, REMOVED_GROUP_LOGIT, mask_logits)  # (K, B, N)


def iteration_cost(z, m, x, config, v_eff=None):
    """The denoising cost of one iteration against the clean x: (2) binary, (6) continuous (E5)."""
    if config.input_type == "binary":
        return cost_binary(z, m, x)  # (2), E5
    return cost_continuous(z, m, x, v_eff)  # (6), E5


def tag_iteration(params, config, state, x, x_tilde, s2=None, v_eff=None, remove_group=None, ops=REFERENCE):
    """One TAG iteration i -> i+1 (Alg. 1; docs/spec.md section 4, steps 1-8).

    From state i (z_i, m_i, their logits; see ``initial_state``) and the input fed x_tilde:
    L(m_i) (5) and delta_z_i (4)/(28)-(31); the network input [z_i, delta_z_i, m_i, L(m_i)] (E6)
    and its projection h (Alg. 1-3 f(W_h [...]), E7); the Ladder (A.6) gives zhat^0 and the top
    layer; the heads read out z_{i+1} ((11) for binary inputs) and m_{i+1} = softmax_K (3), (7);
    cost_{i+1} against the clean x, (2) or (6).
    remove_group: a group removed from m_{i+1} (``remove_group_logits``), None for none.
    Returns state i+1 (z, m, mask_logits, z_logit) with the iteration's intermediates: L_m,
    delta_z, h (K*B, H_0), top and top_logits (K*B, H_{L-1}), zhat0 (K*B, H_0), cost.
    """
    z, m = state["z"], state["m"]
    K, B, N = z.shape
    binary = config.input_type == "binary"
    norm = config.norm
    L_m, delta_z = likelihood_and_error(z, m, x_tilde, config, s2, state["mask_logits"])  # (K, B, N) each
    z_in = state["z_logit"] if state["z_logit"] is not None else z  # binary: logits from i = 1 on (E6)
    h = input_projection(params, network_input(z_in, delta_z, m, L_m), norm, ops=ops)  # (K*B, H_0)
    # zhat^0 (K*B, H_0); the top softmax h^{L-1} and its logits, (K*B, H_{L-1}) each
    zhat0, top, top_logits = ladder(params, h, len(config.encoder_proj), not binary, norm, ops=ops)
    z_flat, z_logit_flat = z_head(params, zhat0, binary, norm, ops=ops)  # (K*B, N)
    mask_logits = np.reshape(m_logits(params, zhat0, norm, ops=ops), (K, B, N))
    if remove_group is not None:
        mask_logits = remove_group_logits(mask_logits, remove_group)
    z = np.reshape(z_flat, (K, B, N))
    m = m_head(mask_logits)  # (K, B, N), (3), (7)
    z_logit = np.reshape(z_logit_flat, (K, B, N)) if binary else None
    return {
        "z": z,
        "m": m,
        "mask_logits": mask_logits,
        "z_logit": z_logit,
        "L_m": L_m,
        "delta_z": delta_z,
        "h": h,
        "top": top,
        "top_logits": top_logits,
        "zhat0": zhat0,
        "cost": iteration_cost(z, m, x, config, v_eff),
    }


def iteration_trace(step, i):
    """The trace keys of iteration i (docs/spec.md section 8) from ``tag_iteration``'s result,
    the Ladder's rows reshaped to (K, B, H). ``ladder_top_logits_i``, the top layer's logits a (step 5),
    is kept in memory only: the trace files do not carry it (``trace.compute_trace``)."""
    K, B, _ = step["z"].shape
    keys = {
        f"L_m_{i}": step["L_m"],
        f"delta_z_{i}": step["delta_z"],
        f"h_{i}": np.reshape(step["h"], (K, B, -1)),
        f"ladder_top_{i}": np.reshape(step["top"], (K, B, -1)),
        f"ladder_top_logits_{i}": np.reshape(step["top_logits"], (K, B, -1)),
        f"zhat0_{i}": np.reshape(step["zhat0"], (K, B, -1)),
        f"z_{i + 1}": step["z"],
        f"m_{i + 1}": step["m"],
        f"cost_{i + 1}": step["cost"],
    }
    if step["z_logit"] is not None:
        keys[f"z_logit_{i + 1}"] = step["z_logit"]
    return keys


def class_outputs(top_logits, config, y, K, dtype):
    """The class head (section 3.3) on the last iteration's top logits (K*B, C+1): class_probs
    (B, C) and class_cost, the cross-entropy with the targets of y (B, objects)."""
    C = config.n_classes
    log_probs = class_log_probabilities(top_logits, K, C)  # (B, C)
    ccost = class_cost_log(log_probs, class_targets(y, C, dtype=dtype))
    # exp(log P), normalised: log P carries an absolute error of ~eps * |top logits|, which
    # exp alone would turn into a sum over classes off one by as much
    return {"class_probs": softmax(log_probs, axis=-1), "class_cost": ccost}


def forward(params, config, inputs, n_iterations=None, remove_group=None, ops=REFERENCE):
    """Run T TAG iterations and return the trace dict (docs/spec.md section 8, without gradients).

    params: dict of named arrays (docs/spec.md section 3); config: TaggerConfig; inputs: dict with
    x (B, N) clean input, x_tilde (B, N) the input fed, m0_logits (K, B, N), optional y (B, objects).
    n_iterations overrides config.n_iterations (evaluation uses 5); K is m0_logits.shape[0].
    remove_group: a group index whose mask logits are set to a large negative number before the
    softmax of the last iteration (Figure 5, group removal).
    ops: ``ops.REFERENCE`` (the plain formulas, the default) or ``ops.FAST`` (the same values with
    hand-written derivatives); who takes which: docs/training.md, "Fast path".
    Beside the keys of section 8 the dict holds ``ladder_top_logits_i`` (K, B, H_{L-1}), the top
    layer's logits of iteration i, for evaluation's per-iteration class outputs; it is in memory
    only, not part of the trace file format.
    """
    x, x_tilde, m0_logits = inputs["x"], inputs["x_tilde"], inputs["m0_logits"]
    T = config.n_iterations if n_iterations is None else n_iterations
    _check_entry(config, x, x_tilde, m0_logits, T, remove_group)
    params = entries(params)  # cheap reads under autograd
    s2, v_eff = continuous_variances(params, config)  # (20), E3, E4
    state = initial_state(x_tilde, m0_logits, config)  # (8)-(9)
    trace = {"z_0": state["z"], "m_0": state["m"]}
    costs = []
    for i in range(T):
        removed = remove_group if i == T - 1 else None  # Figure 5: the last iteration
        state = tag_iteration(params, config, state, x, x_tilde, s2, v_eff, removed, ops=ops)
        trace.update(iteration_trace(state, i))
        costs.append(state["cost"])

    total = denoising_cost_over_iterations(costs, config.semantics)  # (1), E5
    y = inputs.get("y")
    if y is not None and config.class_cost_x > 0:
        trace.update(class_outputs(state["top_logits"], config, y, m0_logits.shape[0], x.dtype))
        total = total + config.class_cost_x * trace["class_cost"]
    trace["total_cost"] = total
    return trace


def denoising_and_class_cost(params, config, inputs, n_iterations=None, ops=REFERENCE):
    """The cost of one pass (trace key ``total_cost``, docs/spec.md section 4): the denoising cost over
    the iterations, eq. (1), plus class_cost_x times the class cost when ``inputs`` hold ``y``."""
    return forward(params, config, inputs, n_iterations, ops=ops)["total_cost"]
