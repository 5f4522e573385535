"""Let MMEngine resolve ``pkg::`` config paths without ``pkg_resources``.

Configs may inherit a stock model of an installed OpenMMLab package, e.g.
``_base_ = ['mmseg::_base_/models/segformer_mit-b0.py']``. MMEngine 0.10.7
locates the package with ``pkg_resources``, which setuptools >= 81 no longer
ships, so on such environments every ``mmseg::`` base fails with
``ModuleNotFoundError: No module named 'pkg_resources'``.

Importing this module (``import mmseg_uda`` does) replaces the two lookups
MMEngine's config and hub modules use, ``is_installed`` and
``get_installed_path``, by equivalents on :mod:`importlib.metadata` - only
when ``pkg_resources`` cannot be imported; otherwise MMEngine is left
untouched.
"""
import importlib.metadata
import importlib.util
import os.path as osp


def is_installed(package: str) -> bool:
    """Whether ``package`` (a distribution or module name) is installed."""
    try:
        importlib.metadata.distribution(package)
        return True
    except importlib.metadata.PackageNotFoundError:
        spec = importlib.util.find_spec(package)
        return spec is not None and spec.origin is not None


def _module_path(module: str) -> str:
    spec = importlib.util.find_spec(module)
    if spec is None:
        raise importlib.metadata.PackageNotFoundError(module)
    if spec.origin is None:
        raise RuntimeError(f'{module} is a namespace package, which is '
                           'invalid for `get_installed_path`')
    return osp.dirname(spec.origin)


def get_installed_path(package: str) -> str:
    """Folder of the installed ``package``; the distribution name may differ
    from the module name (``mmsegmentation`` -> ``mmseg``)."""
    try:
        dist = importlib.metadata.distribution(package)
    except importlib.metadata.PackageNotFoundError:
        return _module_path(package)  # e.g. a package on PYTHONPATH
    location = str(dist.locate_file(''))
    candidate = osp.join(location, package)
    if osp.isdir(candidate):
        return candidate
    top_level = (dist.read_text('top_level.txt') or '').split()
    if top_level and osp.isdir(osp.join(location, top_level[0])):
        return osp.join(location, top_level[0])
    # editable installs and wheels without top_level.txt: ask the importer
    return _module_path(top_level[0] if top_level else package)


def _has_pkg_resources() -> bool:
    try:
        import pkg_resources  # noqa: F401
    except ImportError:
        return False
    return True


def patch_mmengine_package_lookup() -> bool:
    """Install the :mod:`importlib.metadata` lookups into MMEngine if
    ``pkg_resources`` is missing.

    Returns:
        bool: Whether MMEngine was patched.
    """
    if _has_pkg_resources():
        return False
    import mmengine.config.config as config_module
    import mmengine.hub.hub as hub_module
    import mmengine.utils as utils_module
    import mmengine.utils.package_utils as package_utils
    for module in (config_module, hub_module, utils_module, package_utils):
        if hasattr(module, 'is_installed'):
            module.is_installed = is_installed
        if hasattr(module, 'get_installed_path'):
            module.get_installed_path = get_installed_path
    return True


patch_mmengine_package_lookup()
