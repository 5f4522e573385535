"""Checks that a dataset can feed a UDA model (target part, class count),
run before the first iteration (``UDASegmentor.check_dataset``, called by
``UDADatasetCheckHook``)."""
from typing import Optional, Sequence


def dataset_classes(dataset) -> Optional[tuple]:
    """The class names of ``dataset`` (``metainfo['classes']``), or None."""
    meta = getattr(dataset, 'metainfo', None)
    if not isinstance(meta, dict) or not meta.get('classes'):
        return None
    return tuple(meta['classes'])


def paired_datasets(dataset) -> Optional[list]:
    """The source/target pairs (``UDADataset``-like: ``source`` and
    ``target`` attributes) behind ``dataset``, looking through dataset
    wrappers (``dataset`` / ``datasets`` attributes); None when some
    samples would have no target part."""
    if getattr(dataset, 'source', None) is not None and \
            getattr(dataset, 'target', None) is not None:
        return [dataset]
    inner = getattr(dataset, 'datasets', None)
    if inner is None and getattr(dataset, 'dataset', None) is not None:
        inner = [dataset.dataset]
    if not inner:
        return None
    pairs = [paired_datasets(d) for d in inner]
    if any(p is None for p in pairs):
        return None
    return [p for group in pairs for p in group]


def check_uda_dataset(dataset,
                      split: str,
                      num_classes: int,
                      target_consumers: Sequence[str] = (),
                      owner: str = 'UDASegmentor') -> Optional[tuple]:
    """Check that ``dataset`` can feed a UDA model; raise a clear error
    before the first iteration otherwise.

    - ``split='train'``: a model with target consumers (adversary,
      self-training, ABN, target memory regularisation) needs a
      dataset with a target part (a ``UDADataset``: ``source`` and
      ``target`` attributes; dataset wrappers such as
      ``RepeatDataset`` / ``ConcatDataset`` are looked through).
    - Every split: the number of classes of the dataset (each part of a
      ``UDADataset``), from ``metainfo['classes']``, must equal the
      model's ``decode_head.num_classes``. Datasets without class
      metainfo are not checked.

    Args:
        dataset: The dataset of the loop (e.g.
            ``runner.train_dataloader.dataset``).
        split (str): ``'train'``, ``'val'`` or ``'test'``.
        num_classes (int): The classes the model predicts.
        target_consumers (Sequence[str]): The model's parts that need
            target images (empty: none).
        owner (str): Name of the model in messages.

    Returns:
        tuple | None: For ``split='train'``, the class names of the
        training (target) dataset when known, else None.

    Raises:
        ValueError: On a missing target part or a class-count mismatch.
    """
    name = type(dataset).__name__
    pairs = paired_datasets(dataset)
    if split == 'train' and pairs is None and target_consumers:
        raise ValueError(
            f'{owner}: {", ".join(target_consumers)} '
            f'need(s) target images, but the train dataset is {name}, '
            'which has no target part. Use train_dataloader.dataset='
            "dict(type='UDADataset', source=<labelled dataset>, "
            'target=<target dataset>) with '
            "sampler=dict(type='UDAInfiniteSampler').")
    parts = [(role, getattr(pair, role)) for pair in pairs or ()
             for role in ('source', 'target')] or [(None, dataset)]
    for role, ds in parts:
        classes = dataset_classes(ds)
        if classes is None:
            continue
        if len(classes) != num_classes:
            what = (f'the {split} dataset {name} ({role} '
                    f'{type(ds).__name__})' if role else
                    f'the {split} dataset {name}')
            raise ValueError(
                f'{owner}: {what} has {len(classes)} classes but '
                f'the model predicts {num_classes} '
                '(segmentor.decode_head.num_classes). Set num_classes='
                f'{len(classes)} in every head of the model, or choose '
                f'a dataset label mapping with {num_classes} '
                'classes.')
    if split != 'train':
        return None
    return dataset_classes(pairs[0].target if pairs else dataset)
