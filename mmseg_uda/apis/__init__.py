"""High-level routines used by the tools (not registered components)."""
from .pseudo_label_predictor import (PseudoLabelPredictor,
                                     PseudoLabelTTAModel)
from .pseudo_label_selection import (apply_thresholds,
                                     class_balanced_thresholds,
                                     confidence_histograms,
                                     quantize_confidence)
from .pseudo_label_writer import (PseudoLabelWriter, read_label_png,
                                  write_class_balanced_labels, write_label_png)
from .pseudo_labels import (TargetImages, build_target_dataset,
                            generate_pseudo_labels, inference_pipeline,
                            init_model, pseudo_label_probs, student_config,
                            target_dataset_cfg, tta_transform)

__all__ = [
    'PseudoLabelPredictor', 'PseudoLabelTTAModel', 'PseudoLabelWriter',
    'TargetImages', 'apply_thresholds', 'build_target_dataset',
    'class_balanced_thresholds', 'confidence_histograms',
    'generate_pseudo_labels', 'inference_pipeline', 'init_model',
    'pseudo_label_probs', 'quantize_confidence', 'read_label_png',
    'student_config', 'target_dataset_cfg', 'tta_transform',
    'write_class_balanced_labels', 'write_label_png'
]
