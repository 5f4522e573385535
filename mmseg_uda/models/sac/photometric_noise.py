# Copyright (c) OpenMMLab. All rights reserved.
"""Photometric noise of the SAC student input (Sec. 3.2, Appendix B)."""
import math
from typing import Optional, Sequence, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch import Tensor

from mmseg.registry import MODELS

# ITU-R 601-2 luma weights, as used by PIL / torchvision greyscale.
_LUMA_RGB = (0.299, 0.587, 0.114)


def rgb_to_grey(img: Tensor) -> Tensor:
    """Luma of RGB images (N, 3, H, W) in [0, 1] -> (N, 1, H, W)."""
    r, g, b = img.unbind(dim=1)
    return (_LUMA_RGB[0] * r + _LUMA_RGB[1] * g +
            _LUMA_RGB[2] * b).unsqueeze(1)


def _hsv_planes(img: Tensor) -> Tuple[Tensor, Tensor, Tensor]:
    """RGB (N, 3, H, W) in [0, 1] -> hue, saturation, value (N, H, W)."""
    r, g, b = img.unbind(dim=1)
    maxc = img.amax(dim=1)
    minc = img.amin(dim=1)
    delta = maxc - minc
    safe_delta = torch.where(delta > 0, delta, torch.ones_like(delta))
    sat = torch.where(maxc > 0, delta / maxc.clamp(min=1e-12),
                      torch.zeros_like(maxc))
    hr = ((g - b) / safe_delta) % 6
    hg = (b - r) / safe_delta + 2
    hb = (r - g) / safe_delta + 4
    hue = torch.where(maxc == r, hr, torch.where(maxc == g, hg, hb))
    hue = torch.where(delta > 0, hue / 6, torch.zeros_like(hue)) % 1.0
    return hue, sat, maxc


def _rgb_from_planes(hue: Tensor, sat: Tensor, val: Tensor) -> Tensor:
    """Hue, saturation, value (N, H, W) in [0, 1] -> RGB (N, 3, H, W)."""
    vs = val * sat
    out = []
    for n in (5.0, 3.0, 1.0):
        k = (n + 6 * hue) % 6
        out.append(val - vs * torch.minimum(k, 4 - k).clamp(0, 1))
    return torch.stack(out, dim=1)


def rgb_to_hsv(img: Tensor) -> Tensor:
    """RGB (N, 3, H, W) in [0, 1] -> HSV (N, 3, H, W), all in [0, 1]."""
    return torch.stack(_hsv_planes(img), dim=1)


def hsv_to_rgb(img: Tensor) -> Tensor:
    """HSV (N, 3, H, W) in [0, 1] -> RGB (N, 3, H, W) in [0, 1].

    Uses ``c_n = v - v s clamp(min(k, 4 - k), 0, 1)`` with
    ``k = (n + 6 h) mod 6`` and ``n = 5, 3, 1`` for R, G, B.
    """
    return _rgb_from_planes(*img.unbind(dim=1))


def gaussian_blur(img: Tensor, sigma: Tensor, kernel_size: int) -> Tensor:
    """Separable Gaussian blur with one standard deviation per sample.

    Each sample gets its own 1-D kernel ``k(x) ~ exp(-x^2 / (2 sigma^2))``
    (normalised to sum 1); the per-sample kernels run as one grouped
    convolution over all ``N * C`` channels. Borders are replicated.

    Args:
        img (Tensor): Images (N, C, H, W).
        sigma (Tensor): Standard deviations (N,), > 0.
        kernel_size (int): Odd kernel size shared by all samples.

    Returns:
        Tensor: Blurred images (N, C, H, W).
    """
    N, C, H, W = img.shape
    half = kernel_size // 2
    x = torch.arange(-half, half + 1, device=img.device, dtype=img.dtype)
    sigma = sigma.to(img).view(N, 1)
    kernel = torch.exp(-x.view(1, -1)**2 / (2 * sigma**2))
    kernel = kernel / kernel.sum(dim=1, keepdim=True)  # (N, k)
    kernel = kernel.repeat_interleave(C, dim=0)  # (N * C, k)
    out = img.reshape(1, N * C, H, W)
    out = F.pad(out, (half, half, 0, 0), mode='replicate')
    out = F.conv2d(out, kernel.view(N * C, 1, 1, -1), groups=N * C)
    out = F.pad(out, (0, 0, half, half), mode='replicate')
    out = F.conv2d(out, kernel.view(N * C, 1, -1, 1), groups=N * C)
    return out.view(N, C, H, W)


@MODELS.register_module()
class PhotometricNoise(nn.Module):
    """Student-only photometric noise of SAC, applied per view.

    Each image (view) of the batch independently gets three steps, in the
    order given by ``order`` (default: the release's ``('blur', 'jitter',
    'grey')``):

    - ``'blur'``: Gaussian blur with probability ``blur_prob``, standard
      deviation ("radius", as in PIL) ``sigma ~ U(blur_sigma_range)``;
    - ``'jitter'``: colour jitter with probability ``jitter_prob``:
      brightness ``x <- b x``, contrast ``x <- c x + (1 - c) mean(grey(x))``,
      saturation ``x <- s x + (1 - s) grey(x)`` (factors
      ``~ U(max(0, 1 - j), 1 + j)``) and a hue shift ``h <- h + d``,
      ``d ~ U(-hue, hue)`` in HSV space, clamping to [0, 1] after each step
      (torchvision semantics, but a fixed order so that it vectorises);
    - ``'grey'``: greyscale with probability ``grey_prob`` (ITU-R 601-2
      luma).

    Paper vs. release: the paper (Sec. 3.2, 4.1) names colour jitter,
    random blur and greyscaling but gives no order; the release blurs
    every view (``blur_prob=1.0``), then jitters (p 0.5), then greys
    (p 0.2 in its configs), which are the defaults here. The paper's
    "blur at random" is e.g. ``blur_prob=0.5``; this module's earlier order
    is ``order=('jitter', 'grey', 'blur')``.

    Value range: the input may be normalised images as produced by the data
    preprocessor, ``x_norm = (x - mean) / std`` with pixel values ``x`` in
    ``[0, max_value]``; pass that ``mean`` / ``std`` and the output is
    normalised the same way. With ``mean=None`` / ``std=None`` the input is
    taken as raw pixels in ``[0, max_value]`` (e.g. 0..255 RGB). Internally
    everything runs on ``x / max_value`` in [0, 1]. ``channel_order`` tells
    which channel is red (greyscale and hue depend on it).

    All random numbers are drawn from the explicit ``generator`` with shapes
    that do not depend on the outcome, so a seeded generator reproduces the
    noise exactly. Each step only touches the views it applies to (the
    decisions are read on the host: no device synchronisation for a CPU
    generator, one for a CUDA generator).

    Args:
        blur_sigma_range (tuple[float, float]): Range of the blur standard
            deviation. Defaults to (0.1, 2.0).
        blur_prob (float): Probability of blurring a view. Defaults to 1.0
            (release).
        brightness (float): Brightness jitter strength. Defaults to 0.4.
        contrast (float): Contrast jitter strength. Defaults to 0.4.
        saturation (float): Saturation jitter strength. Defaults to 0.4.
        hue (float): Maximal hue shift, in [0, 0.5]. Defaults to 0.1.
        jitter_prob (float): Probability of applying the colour jitter.
            Defaults to 0.5.
        grey_prob (float): Probability of greyscaling. Defaults to 0.2.
        mean (Sequence[float], optional): Normalisation mean of the input.
            Defaults to None.
        std (Sequence[float], optional): Normalisation std of the input.
            Defaults to None.
        max_value (float): Maximal raw pixel value. Defaults to 255.
        channel_order (str): 'rgb' or 'bgr'. Defaults to 'rgb'.
        kernel_size (int, optional): Blur kernel size (odd). Defaults to
            None, i.e. ``2 * ceil(3 * max_sigma) + 1``.
        order (Sequence[str]): The three steps ``'blur'``, ``'jitter'``,
            ``'grey'`` in the order they are applied. Defaults to
            ``('blur', 'jitter', 'grey')`` (release).
    """

    STEPS = ('blur', 'jitter', 'grey')

    def __init__(self,
                 blur_sigma_range: Tuple[float, float] = (0.1, 2.0),
                 blur_prob: float = 1.0,
                 brightness: float = 0.4,
                 contrast: float = 0.4,
                 saturation: float = 0.4,
                 hue: float = 0.1,
                 jitter_prob: float = 0.5,
                 grey_prob: float = 0.2,
                 mean: Optional[Sequence[float]] = None,
                 std: Optional[Sequence[float]] = None,
                 max_value: float = 255.,
                 channel_order: str = 'rgb',
                 kernel_size: Optional[int] = None,
                 order: Sequence[str] = ('blur', 'jitter', 'grey')) -> None:
        super().__init__()
        if sorted(order) != sorted(self.STEPS):
            raise ValueError(f'order must be a permutation of {self.STEPS}, '
                             f'got {tuple(order)}')
        lo, hi = blur_sigma_range
        if not 0 < lo <= hi:
            raise ValueError('blur_sigma_range must satisfy 0 < lo <= hi, '
                             f'got {blur_sigma_range}')
        if not 0 <= hue <= 0.5:
            raise ValueError(f'hue must be in [0, 0.5], got {hue}')
        for name, p in (('blur_prob', blur_prob), ('jitter_prob', jitter_prob),
                        ('grey_prob', grey_prob)):
            if not 0 <= p <= 1:
                raise ValueError(f'{name} must be in [0, 1], got {p}')
        if (mean is None) != (std is None):
            raise ValueError('give both mean and std, or neither')
        if channel_order not in ('rgb', 'bgr'):
            raise ValueError(f"channel_order must be 'rgb' or 'bgr', got "
                             f'{channel_order!r}')
        if kernel_size is None:
            kernel_size = 2 * math.ceil(3 * hi) + 1
        if kernel_size % 2 != 1:
            raise ValueError(f'kernel_size must be odd, got {kernel_size}')
        self.blur_sigma_range = (float(lo), float(hi))
        self.blur_prob = blur_prob
        self.brightness = brightness
        self.contrast = contrast
        self.saturation = saturation
        self.hue = hue
        self.jitter_prob = jitter_prob
        self.grey_prob = grey_prob
        self.mean = tuple(mean) if mean is not None else None
        self.std = tuple(std) if std is not None else None
        self.max_value = float(max_value)
        self.channel_order = channel_order
        self.kernel_size = kernel_size
        self.order = tuple(order)

    def extra_repr(self) -> str:
        return (f'blur_sigma_range={self.blur_sigma_range}, '
                f'blur_prob={self.blur_prob}, brightness={self.brightness}, '
                f'contrast={self.contrast}, saturation={self.saturation}, '
                f'hue={self.hue}, jitter_prob={self.jitter_prob}, '
                f'grey_prob={self.grey_prob}, order={self.order}')

    @staticmethod
    def _factor(u: Tensor, strength: float) -> Tensor:
        """Map U(0, 1) samples to U(max(0, 1 - strength), 1 + strength)."""
        lo = max(0.0, 1.0 - strength)
        return lo + (1.0 + strength - lo) * u

    def forward(self,
                imgs: Tensor,
                generator: Optional[torch.Generator] = None) -> Tensor:
        """Apply the noise to a batch of views.

        Args:
            imgs (Tensor): Views (N, 3, H, W), normalised with ``mean`` /
                ``std`` if given, else raw in ``[0, max_value]``.
            generator (torch.Generator, optional): Source of randomness (any
                device). Defaults to None (torch's global generator).

        Returns:
            Tensor: Noisy views, same shape, value convention and (floating)
            dtype as the input (float32 for integer input).
        """
        if imgs.dim() != 4 or imgs.shape[1] != 3:
            raise ValueError('expected (N, 3, H, W) images, got '
                             f'{tuple(imgs.shape)}')
        out_dtype = imgs.dtype if imgs.is_floating_point() else torch.float32
        x = imgs.float()
        if self.mean is not None:
            mean = x.new_tensor(self.mean).view(1, 3, 1, 1)
            std = x.new_tensor(self.std).view(1, 3, 1, 1)
            x = x * std + mean
        x = self.apply_unit((x / self.max_value).clamp(0, 1), generator)
        x = x * self.max_value
        if self.mean is not None:
            x = (x - mean) / std
        return x.to(out_dtype)

    def apply_unit(self,
                   x: Tensor,
                   generator: Optional[torch.Generator] = None) -> Tensor:
        """The noise on float images in [0, 1] (``channel_order``), without
        the value conversions of :meth:`forward`.

        This is the interface of a student noise module:
        ``AugmentationConsistency.noisy_views`` de-normalises the views to
        [0, 1] (pixel value / 255) itself and calls only this method, so
        ``mean``, ``std`` and ``max_value`` do not apply there.

        Args:
            x (Tensor): Float views (N, 3, H, W) in [0, 1]; not modified.
            generator (torch.Generator, optional): Source of randomness.

        Returns:
            Tensor: Noisy views (N, 3, H, W) in [0, 1].
        """
        N = x.shape[0]
        if self.channel_order == 'bgr':
            x = x.flip(1)
        gen_device = generator.device if generator is not None else 'cpu'
        u = torch.rand((N, 8), generator=generator, device=gen_device)
        u_host = u.cpu()  # the decisions: no-op for a CPU generator
        u = u.to(x.device)
        steps = dict(blur=self._blur, jitter=self._jitter_step,
                     grey=self._grey)
        for name in self.order:
            x = steps[name](x, u, u_host)
        if self.channel_order == 'bgr':
            x = x.flip(1)
        return x.clamp(0, 1)

    def _jitter_step(self, x: Tensor, u: Tensor, u_host: Tensor) -> Tensor:
        """Colour jitter of the views selected by ``u_host[:, 0]``."""
        idx = torch.nonzero(u_host[:, 0] < self.jitter_prob).flatten()
        if len(idx):
            idx = idx.to(x.device)
            y = self._jitter(x.index_select(0, idx), u.index_select(0, idx))
            x = x.index_copy(0, idx, y)
        return x

    def _grey(self, x: Tensor, u: Tensor, u_host: Tensor) -> Tensor:
        """Greyscale of the views selected by ``u_host[:, 5]``."""
        idx = torch.nonzero(u_host[:, 5] < self.grey_prob).flatten()
        if len(idx):
            idx = idx.to(x.device)
            grey = rgb_to_grey(x.index_select(0, idx)).expand(-1, 3, -1, -1)
            x = x.index_copy(0, idx, grey.contiguous())
        return x

    def _blur(self, x: Tensor, u: Tensor, u_host: Tensor) -> Tensor:
        """Gaussian blur of the views selected by ``u_host[:, 6]``, sigma
        from ``u[:, 7]``."""
        slo, shi = self.blur_sigma_range
        blur = u_host[:, 6] < self.blur_prob
        sigma = slo + (shi - slo) * u[:, 7]
        if bool(blur.all()):
            return gaussian_blur(x, sigma, self.kernel_size)
        if bool(blur.any()):
            idx = torch.nonzero(blur).flatten().to(x.device)
            y = gaussian_blur(
                x.index_select(0, idx), sigma.index_select(0, idx),
                self.kernel_size)
            x = x.index_copy(0, idx, y)
        return x

    def _jitter(self, y: Tensor, u: Tensor) -> Tensor:
        """Brightness, contrast, saturation and hue of the views ``y``
        (n, 3, H, W) in [0, 1] with their random numbers ``u`` (n, 8)."""
        n = y.shape[0]
        bright = self._factor(u[:, 1], self.brightness).view(n, 1, 1, 1)
        contr = self._factor(u[:, 2], self.contrast).view(n, 1, 1, 1)
        satur = self._factor(u[:, 3], self.saturation).view(n, 1, 1, 1)
        y = (y * bright).clamp_(0, 1)
        mean = rgb_to_grey(y).mean(dim=(1, 2, 3), keepdim=True)
        y = (contr * y + (1 - contr) * mean).clamp_(0, 1)
        y = (satur * y + (1 - satur) * rgb_to_grey(y)).clamp_(0, 1)
        if self.hue > 0:
            shift = (self.hue * (2 * u[:, 4] - 1)).view(n, 1, 1)
            hue, sat, val = _hsv_planes(y)
            y = _rgb_from_planes((hue + shift) % 1.0, sat,
                                 val).clamp_(0, 1)
        return y
