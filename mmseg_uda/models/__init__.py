from . import backbones, decode_heads, discriminators, losses, segmentors, uda  # noqa: F401
