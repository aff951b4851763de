"""The ConvNet baseline of Table 2: Model C of Springenberg et al. 2014 ("Striving for simplicity",
Table 1) with the paper's changes (section 3.3): no dropout, batch normalisation after every layer,
and the final (global average) pooling replaced by a fully connected layer. docs/baselines.md.

On a 28 x 28 image with c1, c2 channels (96, 192 in Model C), each conv followed by BN + beta + ReLU:
conv3x3 c1 pad 1 (28), conv3x3 c1 pad 1 (28), maxpool 3x3/2 (13), conv3x3 c2 pad 1 (13), conv3x3 c2 pad 1
(13), maxpool 3x3/2 (6), conv3x3 c2 valid (4), conv1x1 c2 (4), conv1x1 C (4), then the fully connected
softmax top 4*4*C -> C (``mlp.top_logits``). Parameters: kernels ``W_1``..``W_7`` (k, k, in, out),
``beta_1``..``beta_7`` (out,), and the top's ``W_8``, ``beta_8``, ``gamma_8``.
"""

from ..device.backend import np
from ..maths.classification import class_cost_log
from ..maths.functions import log_softmax, relu
from ..maths.ops import REFERENCE
from .conv import batch_norm_channels, conv2d, max_pool
from .mlp import top_logits

# (kernel size, padding) of the seven convolutions, and after which of them a 3x3/2 max pooling comes.
CONV_LAYERS = ((3, 1), (3, 1), (3, 1), (3, 1), (3, 0), (1, 0), (1, 0))
POOL_AFTER = (2, 4)


def conv_channels(c1, c2, n_classes):
    """Output channels of the seven convolutions of Model C."""
    return (c1, c1, c2, c2, c2, c2, n_classes)


def conv_layer(h, kernel, beta, padding, ops=REFERENCE):
    """h^l = relu(BN(conv(h^{l-1}, W_l)) + beta_l), BN per channel over batch and positions. (B, H, W, C)."""
    return relu(batch_norm_channels(conv2d(h, kernel, padding), ops) + beta)


def convnet_logits(params, x, side, ops=REFERENCE):
    """Logits (B, C) of the ConvNet for flat images x (B, side*side)."""
    h = np.reshape(x, (x.shape[0], side, side, 1))  # (B, 28, 28, 1)
    for l, (_, padding) in enumerate(CONV_LAYERS, start=1):
        h = conv_layer(h, params[f"W_{l}"], params[f"beta_{l}"], padding, ops)
        if l in POOL_AFTER:
            h = max_pool(h, 3, 2)
    L = len(CONV_LAYERS) + 1
    flat = np.reshape(h, (h.shape[0], -1))  # (B, 4*4*C)
    return top_logits(flat @ params[f"W_{L}"], params[f"gamma_{L}"], params[f"beta_{L}"], ops)  # (B, C)


def convnet_cost(params, x, targets, side, ops=REFERENCE):
    """The ConvNet's training cost (supervised only): the cross-entropy of softmax(logits), as the MLP's."""
    return class_cost_log(log_softmax(convnet_logits(params, x, side, ops), axis=-1), targets)


def feature_side(side):
    """Side of the last convolution's output for an input of ``side`` (28 -> 4)."""
    for l, (k, padding) in enumerate(CONV_LAYERS, start=1):
        side = side + 2 * padding - k + 1
        if l in POOL_AFTER:
            side = (side - 3) // 2 + 1
    return side
