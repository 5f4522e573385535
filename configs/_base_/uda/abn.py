# SAC stage 1, ABN pre-training (Araslanov & Roth 2021): source cross-entropy
# steps, each followed by a target batch forwarded in train mode without loss
# or gradient, so BatchNorm running statistics see both domains.
model = dict(type='UDASegmentor', update_target_bn_stats=True)
