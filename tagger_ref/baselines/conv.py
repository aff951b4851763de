"""Convolution and max pooling as plain array code (the ConvNet baseline of Table 2; docs/baselines.md).

Images are (B, H, W, C), "channels last", so that a batch-normalised convolution is a matrix
product and ``functions.normalize`` over the rows B*H*W. Both operations are built from shifted
slices of the image (im2col), which autograd differentiates (it has no derivative for NumPy's
``as_strided``); stride 1 for the convolution, as every convolution of Model C.
"""

from ..device.backend import np
from ..maths.ops import REFERENCE


def pad_spatial(x, p):
    """x (B, H, W, C) with p zeros added on each side of H and W."""
    return np.pad(x, ((0, 0), (p, p), (p, p), (0, 0)), "constant") if p else x  # mode positional: autograd needs it


def im2col(x, k):
    """The k x k windows of x (B, H, W, C) at stride 1: (B, H-k+1, W-k+1, k*k*C), window element
    (i, j, c) at position (i*k + j)*C + c, the order of a kernel (k, k, C, C') reshaped to (k*k*C, C')."""
    _, H, W, _ = x.shape
    Ho, Wo = H - k + 1, W - k + 1
    shifted = [x[:, i : i + Ho, j : j + Wo, :] for i in range(k) for j in range(k)]  # k*k of (B, Ho, Wo, C)
    return np.concatenate(shifted, axis=-1)  # (B, Ho, Wo, k*k*C)


def conv2d(x, kernel, padding=0):
    """y[b, p, q, o] = sum_{i, j, c} x_pad[b, p + i, q + j, c] kernel[i, j, c, o] (cross-correlation, stride 1).

    x: (B, H, W, C); kernel: (k, k, C, C'); padding: zeros added on each side ("same" for a 3x3: 1).
    Returns (B, H + 2 padding - k + 1, W + 2 padding - k + 1, C').
    """
    k, _, C, C_out = kernel.shape
    cols = im2col(pad_spatial(x, padding), k)  # (B, Ho, Wo, k*k*C)
    return np.dot(cols, np.reshape(kernel, (k * k * C, C_out)))  # (B, Ho, Wo, C')


def max_pool(x, size=3, stride=2):
    """y[b, p, q, c] = max_{i, j < size} x[b, stride p + i, stride q + j, c], no padding (Model C's 3x3, stride 2).

    The maximum of the size*size strided slices, taken pairwise with np.maximum. Returns
    (B, (H - size) // stride + 1, (W - size) // stride + 1, C).
    """
    _, H, W, _ = x.shape
    Ho, Wo = (H - size) // stride + 1, (W - size) // stride + 1
    out = None
    for i in range(size):
        for j in range(size):
            s = x[
                :, i : i + stride * (Ho - 1) + 1 : stride, j : j + stride * (Wo - 1) + 1 : stride, :
            ]  # (B, Ho, Wo, C)
            out = s if out is None else np.maximum(out, s)
    return out


def batch_norm_channels(a, ops=REFERENCE):
    """Batch normalisation of a convolution's output a (B, H, W, C): per channel over the batch and
    all positions, ``ops.normalize`` of the rows B*H*W (Ioffe and Szegedy's convolutional case)."""
    B, H, W, C = a.shape
    return np.reshape(ops.normalize(np.reshape(a, (B * H * W, C)), "batch"), (B, H, W, C))
