from .load_checked_image import LoadCheckedImageFromFile
from .load_mapped_annotations import LabelWarning, LoadMappedAnnotations

__all__ = [
    'LoadCheckedImageFromFile', 'LoadMappedAnnotations', 'LabelWarning'
]
