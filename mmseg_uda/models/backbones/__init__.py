
from .vgg16_deeplabv2 import VGG16DeepLabV2  # noqa: F401
