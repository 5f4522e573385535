# Copyright (c) mmseg_uda contributors. All rights reserved.
"""Benchmarks shipped with the package (the synthetic domain-shift
benchmark); not needed for training on the real datasets."""
