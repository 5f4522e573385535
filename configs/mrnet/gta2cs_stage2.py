# MRNet stage II, GTA5 -> Cityscapes (Zheng & Yang, IJCAI 2020, Sec. 3.3-3.5;
# paper: 48.3 mIoU). The stage-I model (configs/mrnet/gta2cs.py) is
# fine-tuned on the target domain only (no source data, no adversary) for
# 25k iterations with
#   L = CE(F_p, y_hat) + 0.5 CE(F_a, y_hat) + 0.1 L_mr,
# y_hat = argmax(F_p + 0.5 F_a) of the stage-I model (pseudo labels written
# once by tools/gen_pseudo_labels.py) and L_mr the symmetric KL between the
# two heads (Eq. 5) on the same pseudo-labelled batch, from iteration 0.
# Model, optimiser (SGD lr 2e-4, poly over 100k, stop at 25k) and batch 2
# are those of stage I; target images are resized to 1280x640, randomly
# cropped to 1024x512 (the paper's training input) and flipped, like the
# source images of stage I. The class-balanced CE of stage I (CBST's
# policy, paper Sec. 4.1) is kept on the pseudo labels. The authors'
# release differs (no MR, rectified loss, dropout 0.2, lr 1e-4, batch 9,
# 512x256 crops): gta2cs_stage2_release.py.
#
# End to end:
#   python tools/train.py configs/mrnet/gta2cs.py \
#       --work-dir work_dirs/mrnet/gta2cs
#   python tools/gen_pseudo_labels.py configs/mrnet/gta2cs.py \
#       work_dirs/mrnet/gta2cs/iter_25000.pth \
#       --out work_dirs/pseudo/mrnet_gta2cs
#   python tools/train.py configs/mrnet/gta2cs_stage2.py \
#       --work-dir work_dirs/mrnet/gta2cs_stage2
# Other locations: --cfg-options load_from=... \
#   train_dataloader.dataset.pseudo_label_dir=...
_base_ = ['./gta2cs.py']
model = dict(
    adversary=None,
    memory_reg=dict(type='MemoryRegLoss', mode='symmetric', loss_weight=0.1),
    memory_reg_on='labelled',
    memory_reg_start_iter=0)
stage2_pipeline = [
    dict(type='LoadCheckedImageFromFile'),
    dict(type='LoadMappedAnnotations'),  # pseudo PNGs hold train ids
    dict(type='Resize', scale=(1280, 640), keep_ratio=True),
    dict(type='RandomCrop', crop_size=(512, 1024)),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackSegInputs'),
]
train_dataloader = dict(
    batch_size=2,
    sampler=dict(_delete_=True, type='InfiniteSampler', shuffle=True),
    dataset=dict(
        _delete_=True,
        type='PseudoLabelDataset',
        dataset={{_base_.target_train_dataset}},
        pseudo_label_dir='work_dirs/pseudo/mrnet_gta2cs',
        pipeline=stage2_pipeline))
train_cfg = dict(max_iters=25000)
load_from = 'work_dirs/mrnet/gta2cs/iter_25000.pth'
