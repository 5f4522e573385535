from . import (backbones, data_preprocessors, decode_heads, discriminators,
               losses, sac, segmentors, uda)  # noqa: F401
