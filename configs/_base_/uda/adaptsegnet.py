# AdaptSegNet (Tsai et al. 2018), the adversarial baseline of MRNet: one
# FCDiscriminator per head on target softmax maps, adversarial weights 0.001
# (primary) and 0.0002 (aux), BCE GAN loss. The discriminators' num_classes
# is taken from the segmentor's decode head. Each discriminator gets its own
# optimizer from `optim_wrapper.discriminator` (Adam in the schedules).
model = dict(
    type='UDASegmentor',
    adversary=dict(
        type='OutputSpaceAdversary',
        discriminators=dict(
            primary=dict(type='FCDiscriminator'),
            aux=dict(type='FCDiscriminator')),
        loss_weights=dict(primary=0.001, aux=0.0002),
        gan_loss=dict(type='GANLoss', gan_type='vanilla'),
        disc_loss_weight=0.5))
