from . import (backbones, data_preprocessors, decode_heads, discriminators,
               losses, segmentors, uda)  # noqa: F401
