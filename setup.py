"""Install mmseg_uda on top of a stock MMSegmentation 1.x stack."""
import os.path as osp

from setuptools import find_packages, setup


def _version():
    scope = {}
    with open(osp.join(osp.dirname(__file__), 'mmseg_uda', 'version.py')) as f:
        exec(f.read(), scope)
    return scope['__version__']


def _requirements(name):
    with open(osp.join(osp.dirname(__file__), 'requirements', name)) as f:
        return [ln.strip() for ln in f if ln.strip() and not ln.startswith('#')]


setup(
    name='mmseg_uda',
    version=_version(),
    description='Unsupervised domain adaptation for semantic segmentation '
    '(MRNet, SAC) as an MMSegmentation 1.x plugin',
    long_description=open(osp.join(osp.dirname(__file__), 'README.md')).read()
    if osp.exists(osp.join(osp.dirname(__file__), 'README.md')) else '',
    long_description_content_type='text/markdown',
    packages=find_packages(exclude=('tests', 'configs', 'tools')),
    python_requires='>=3.8',
    install_requires=_requirements('runtime.txt'),
    extras_require={'tests': _requirements('tests.txt')},
    license='Apache License 2.0',
    zip_safe=False,
)
