# Runtime shared by every config: registers mmseg_uda, logs through MMEngine.
custom_imports = dict(imports=['mmseg_uda'], allow_failed_imports=False)
default_scope = 'mmseg'
env_cfg = dict(
    cudnn_benchmark=False,
    mp_cfg=dict(mp_start_method='fork', opencv_num_threads=0),
    # tools/train.py switches to gloo on machines without CUDA. timeout
    # (seconds, every backend): a collective a hung rank never joins fails
    # after it and the job ends (torch's default, 30 minutes).
    dist_cfg=dict(backend='nccl', timeout=1800),
)
vis_backends = [dict(type='LocalVisBackend')]
visualizer = dict(
    type='SegLocalVisualizer', vis_backends=vis_backends, name='visualizer')
log_processor = dict(by_epoch=False)
log_level = 'INFO'
load_from = None
resume = False
randomness = dict(seed=0)
# Under several processes, keep UDASegmentor.train_step (the runner looks the
# wrapper up in mmengine's root registry, hence the scope prefix).
model_wrapper_cfg = dict(type='mmseg.UDADistributedWrapper')
