"""High-level routines used by the tools (not registered components)."""
from .pseudo_labels import (build_target_dataset, fuse_logits,
                            generate_pseudo_labels, inference_pipeline,
                            init_model, pseudo_label_probs, target_dataset_cfg,
                            write_label_png)

__all__ = [
    'build_target_dataset', 'fuse_logits', 'generate_pseudo_labels',
    'inference_pipeline', 'init_model', 'pseudo_label_probs',
    'target_dataset_cfg', 'write_label_png'
]
