"""High-level routines used by the tools (not registered components)."""
from .pseudo_label_selection import (apply_thresholds,
                                     class_balanced_thresholds,
                                     confidence_histograms,
                                     quantize_confidence)
from .pseudo_labels import (build_target_dataset, fuse_logits,
                            generate_pseudo_labels, inference_pipeline,
                            init_model, pseudo_label_probs, target_dataset_cfg)
from .pseudo_label_writer import (PseudoLabelWriter, read_label_png,
                                  write_class_balanced_labels, write_label_png)

__all__ = [
    'PseudoLabelWriter', 'apply_thresholds', 'build_target_dataset',
    'class_balanced_thresholds', 'confidence_histograms', 'fuse_logits',
    'generate_pseudo_labels',    'inference_pipeline', 'init_model', 'pseudo_label_probs',
    'quantize_confidence', 'read_label_png', 'target_dataset_cfg',
    'write_class_balanced_labels', 'write_label_png'
]
