# Copyright (c) mmseg_uda contributors. All rights reserved.
"""Class probabilities of pseudo labels: one view, and mmseg's TTA.

MRNet's pseudo label (Zheng & Yang, IJCAI 2020, Sec. 3.3) is the argmax of
the fused prediction of both classifiers of the stage-I model,

.. math::
    p = \\frac{\\sigma(z_p) + w\\,\\sigma(z_a)}{1 + w}
    \\quad (\\text{paper, fuse\\_mode='prob'}), \\qquad
    p = \\sigma(z_p + w\\, z_a) \\quad (\\text{release, 'logit'}),

(:math:`\\sigma` the softmax over classes, :math:`w` the head's
``fuse_weight``, 0.5), computed by the decode head's own ``fuse``
(:class:`~mmseg_uda.models.DualDeepLabV2Head`) on logits resized straight
from feature resolution to the ORIGINAL image size (bilinear,
``align_corners`` of the head) and renormalised to sum to one
(:func:`~mmseg_uda.models.uda.student_outputs.fused_probabilities`). A
head without ``fuse`` gives :math:`\\sigma(z_p)`, mmseg's own prediction.

:class:`PseudoLabelPredictor` computes :math:`p` for the view it is given
(a whole-image forward pass; the segmentor's ``test_cfg`` slide mode is not
used, the network being fully convolutional); a horizontally flipped view
(``flip`` in its meta, set by ``RandomFlip``) is flipped back.
mmseg's ``EncoderDecoder.predict`` is not used because it resizes the fused
scores a second time (feature -> input -> original size).

For test-time augmentation the views come from mmcv's ``TestTimeAug`` in the
data pipeline and :class:`PseudoLabelTTAModel` (mmseg's ``SegTTAModel``)
runs the predictor on each; its merge averages the views' probabilities
(mmseg's merge would apply a softmax to them again, and keeps only the
argmax, while the class-balanced selection needs the confidence).
"""
from typing import List, Optional

import torch
from mmengine.model import BaseModel
from mmengine.structures import PixelData
from torch import Tensor

from mmseg.models.segmentors import SegTTAModel
from mmseg.structures import SegDataSample
from ..models.uda.student_outputs import forward_heads, fused_probabilities


def split_model(model: torch.nn.Module):
    """``(segmentor, data preprocessor)`` of a ``UDASegmentor`` (its
    student) or of an mmseg segmentor.

    Args:
        model (nn.Module): The stage-I model.
    """
    segmentor = getattr(model, 'segmentor', model)
    preprocessor = getattr(model, 'data_preprocessor', None)
    if preprocessor is None:
        raise AttributeError(
            f'{type(model).__name__} has no data_preprocessor')
    return segmentor, preprocessor


class PseudoLabelPredictor(BaseModel):
    """Fused class probabilities of one view at the original image size.

    ``test_step(data)`` (mmengine's: preprocess, then :meth:`predict`)
    returns the data samples with ``seg_logits`` holding the probabilities
    :math:`p` (C, H0, W0), (H0, W0) = ``ori_shape``, and ``pred_sem_seg``
    their argmax.

    Args:
        model (nn.Module): A ``UDASegmentor`` (its student ``segmentor``
            predicts, with the UDA model's data preprocessor) or an mmseg
            segmentor, in eval mode.
    """

    def __init__(self, model: torch.nn.Module):
        segmentor, preprocessor = split_model(model)
        super().__init__(data_preprocessor=preprocessor)
        self.segmentor = segmentor

    def forward(self,
                inputs: Tensor,
                data_samples: Optional[List[SegDataSample]] = None,
                mode: str = 'predict') -> List[SegDataSample]:
        """Only ``mode='predict'``: :meth:`predict`."""
        if mode != 'predict' or data_samples is None:
            raise ValueError('PseudoLabelPredictor only predicts (mode='
                             "'predict', with data samples)")
        return self.predict(inputs, data_samples)

    @torch.no_grad()
    def predict(self, inputs: Tensor,
                data_samples: List[SegDataSample]) -> List[SegDataSample]:
        """Probabilities of every image of the batch.

        Args:
            inputs (Tensor): Preprocessed images (N, 3, H, W); any padding
                beyond ``img_shape`` is cropped away.
            data_samples (list[SegDataSample]): Their samples (``img_shape``,
                ``ori_shape``, ``flip``, ``flip_direction``).
        """
        for x, sample in zip(inputs, data_samples):
            meta = sample.metainfo
            img_h, img_w = meta.get('img_shape', x.shape[-2:])[:2]
            x = x[None, :, :img_h, :img_w]
            probs = fused_probabilities(self.segmentor,
                                        forward_heads(self.segmentor, x),
                                        meta['ori_shape'][:2])[0]
            if meta.get('flip', False):
                vertical = meta.get('flip_direction') == 'vertical'
                probs = probs.flip(-2 if vertical else -1)
            sample.seg_logits = PixelData(data=probs)
            sample.pred_sem_seg = PixelData(data=probs.argmax(0, True))
        return data_samples


class PseudoLabelTTAModel(SegTTAModel):
    """mmseg's TTA model over :class:`PseudoLabelPredictor` views.

    ``test_step`` (mmengine's ``BaseTTAModel``) splits a batch of
    ``TestTimeAug`` views and predicts each; :meth:`merge_preds` averages
    their probabilities, :math:`\\bar p = \\frac{1}{V} \\sum_v p_v`.

    Args:
        module (PseudoLabelPredictor): The one-view predictor.
    """

    def merge_preds(self, data_samples_list: List[List[SegDataSample]]
                    ) -> List[SegDataSample]:
        """Mean probabilities of the views of each image.

        Args:
            data_samples_list (list[list[SegDataSample]]): Per image, the
                predictions of its views.

        Returns:
            list[SegDataSample]: Per image, ``seg_logits`` = the mean
            probabilities and ``pred_sem_seg`` their argmax, with the
            metainfo of the first view (``img_path``, ``ori_shape``).
        """
        merged = []
        for views in data_samples_list:
            probs = torch.stack([v.seg_logits.data for v in views]).mean(0)
            sample = SegDataSample(metainfo=views[0].metainfo)
            sample.seg_logits = PixelData(data=probs)
            sample.pred_sem_seg = PixelData(data=probs.argmax(0, True))
            merged.append(sample)
        return merged
