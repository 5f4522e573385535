from .uda_data_preprocessor import UDADataPreProcessor  # noqa: F401
