# SAC stage 2, self-supervised augmentation consistency (Araslanov & Roth,
# CVPR 2021), started from the ABN checkpoint (set `load_from`):
# - BN running statistics frozen, BN affine parameters trained;
# - momentum teacher psi <- 0.99 psi + 0.01 phi every 100 iterations (weights
#   and BN statistics), kept by EMATeacherHook;
# - 4 views per target image (full + 3 crops, s ~ U(0.5, 1), flips), teacher
#   predictions fused over views; student views with blur (always), then
#   colour jitter (p 0.5), then greyscale (p 0.2): the release's order (the
#   paper gives none; PhotometricNoise `order`);
# - pseudo labels with the moving class prior (gamma_chi 0.99, from the
#   teacher's raw per-view softmax) and thresholds
#   zeta (1 - exp(-chi / beta)) m*, zeta 0.75, beta 1e-3, peak m* over all
#   pixels (paper Eq. 4; the release's, over the argmax pixels:
#   pseudo_labeler.peak='argmax');
# - focal confidence loss, lambda 3, target weight 5 (ResNet-101).
model = dict(
    type='UDASegmentor',
    freeze_bn_stats=True,
    teacher=dict(momentum=0.01, interval=100),
    self_training=dict(
        type='AugmentationConsistency',
        views=dict(type='MultiCropViews', num_views=4, scale_range=(0.5, 1.0),
                   flip_prob=0.5),
        noise=dict(
            type='PhotometricNoise',
            blur_sigma_range=(0.1, 2.0),
            brightness=0.4, contrast=0.4, saturation=0.4, hue=0.1,
            jitter_prob=0.5, grey_prob=0.2),
        pseudo_labeler=dict(
            type='AdaptivePseudoLabeler', momentum=0.99, zeta=0.75,
            beta=1e-3, min_threshold=None),
        loss=dict(type='FocalConfidenceLoss', focal_power=3.0,
                  loss_weight=5.0),
        rampup_iters=0))
custom_hooks = [dict(type='EMATeacherHook')]
