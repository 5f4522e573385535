from .uda_segmentor import UDASegmentor  # noqa: F401
