"""The benchmark manifests of configs/benchmarks/ and the protocol they
encode (tools/run_benchmark.py reads them): every run's config exists, the
runs start from the shared starts, every method gets the same adaptation
budget after its start, and the SYNTHIA manifest is the GTA one on the
SYNTHIA configs."""
import importlib.util
import os.path as osp
from pathlib import Path

import pytest
from mmengine.config import Config, DictAction

import mmseg_uda  # noqa: F401  (mmseg:: paths, registries)

REPO = Path(__file__).resolve().parents[1]
BENCH = REPO / 'configs' / 'benchmarks'


def _tool():
    spec = importlib.util.spec_from_file_location(
        'run_benchmark', REPO / 'tools' / 'run_benchmark.py')
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _own_iters(run):
    """The iterations a run trains: the config's, unless the run's
    cfg_options override them."""
    cfg = Config.fromfile(run['config'])
    # parsed as tools/train.py's --cfg-options parses them
    cfg.merge_from_dict({
        k: DictAction._parse_iterable(v)
        for k, v in (o.split('=', 1) for o in run['cfg_options'])
    })
    iters = int(cfg.train_cfg.max_iters)
    # the poly schedule ends where training ends, whatever the override
    assert int(cfg.param_scheduler[0]['end']) == iters, run['name']
    assert int(cfg.default_hooks.checkpoint.interval) == iters, run['name']
    return iters, cfg


@pytest.mark.parametrize('manifest', ['synthetic_gta2cs', 'synthetic_synthia2cs'])
def test_equal_budgets_from_shared_starts(manifest):
    runs, baseline, oracle, pairs = _tool().load_manifest(
        str(BENCH / f'{manifest}.py'))
    family = 'synthetic' if manifest == 'synthetic_gta2cs' else \
        'synthetic_synthia'
    for run in runs.values():
        assert osp.dirname(run['config']).endswith(family), run['name']
    own = {name: _own_iters(run) for name, run in runs.items()}
    starts = {'source_start', 'abn_start'}
    assert {runs[n].get('init') for n in runs} - {None} == \
        starts | {'mrnet_stage1_half'}
    # the runs that are only starts are no table rows; every other is
    assert {n for n, r in runs.items() if not r['row']} == \
        starts | {'mrnet_stage1_half'}
    # every row trains the config of its name; the starts and the half
    # stage train their method's config
    method_of = {'source_start': baseline, 'abn_start': 'abn',
                 'mrnet_stage1_half': 'mrnet'}
    for name, run in runs.items():
        assert osp.basename(run['config']) == \
            method_of.get(name, name) + '.py', name
    # equal budgets after the start: every row but the oracle trains the
    # same number of iterations after its shared start
    after_start = {}
    for name, run in runs.items():
        if name in starts or name == oracle or not run['row']:
            continue
        total, init = own[name][0], run['init']
        while init not in starts:
            total += own[init][0]
            init = runs[init]['init']
        after_start[name] = total
    assert len(set(after_start.values())) == 1, after_start
    budget = after_start[baseline]
    assert own['source_start'][0] == own['abn_start'][0] == 2 * budget
    assert own[oracle][0] == 2 * own['source_start'][0]
    # the baselines are their starts continued with the methods' schedule
    for base, start in ((baseline, 'source_start'), ('abn', 'abn_start')):
        assert runs[base]['init'] == start
        assert runs[base]['config'] == runs[start]['config']
        lr = own[base][1].optim_wrapper.segmentor.optimizer.lr
        assert lr == own['sac'][1].optim_wrapper.segmentor.optimizer.lr
    # SAC and MR + SAC start from ABN (the paper's pre-training), the
    # others from source-only; MRNet stage II from stage I's half budget
    assert runs['sac']['init'] == runs['mrnet_sac']['init'] == 'abn_start'
    assert runs['mrnet_stage2']['init'] == 'mrnet_stage1_half'
    assert runs['mrnet_stage2']['pseudo_labels'] == ['--tta']
    # MR starts at 40% of whichever stage length trains it
    for name in ('mrnet', 'mrnet_stage1_half'):
        iters, cfg = own[name]
        assert cfg.model.memory_reg_start_iter == pytest.approx(0.4 * iters)
    assert ('mrnet', 'adaptsegnet') in pairs and ('sac', 'abn') in pairs
    assert ('mrnet_stage2', 'mrnet') in pairs
    assert ('mrnet_sac', 'sac') in pairs


def test_synthia_manifest_mirrors_gta():
    tool = _tool()
    gta = tool.load_manifest(str(BENCH / 'synthetic_gta2cs.py'))
    synthia = tool.load_manifest(str(BENCH / 'synthetic_synthia2cs.py'))
    for (name, a), (name_b, b) in zip(gta[0].items(), synthia[0].items()):
        assert name == name_b
        assert {k: v for k, v in a.items() if k != 'config'} == \
            {k: v for k, v in b.items() if k != 'config'}
        assert osp.basename(a['config']) == osp.basename(b['config'])
    assert gta[1:] == synthia[1:]


def test_malformed_manifest_is_named(tmp_path):
    tool = _tool()
    bad = tmp_path / 'bad.py'
    bad.write_text(f"config_root = {str(REPO / 'configs' / 'synthetic')!r}\n"
                   "runs = [dict(name='sac', config='sac.py', "
                   "init='abn_start')]\n")
    with pytest.raises(ValueError, match=r"bad\.py.*'sac'.*abn_start"):
        tool.load_manifest(str(bad))
    bad.write_text(f"config_root = {str(REPO / 'configs' / 'synthetic')!r}\n"
                   "runs = [dict(name='x', config='nope.py')]\n")
    with pytest.raises(ValueError, match='no config'):
        tool.load_manifest(str(bad))
    with pytest.raises(ValueError, match="no run 'y'"):
        tool.with_dependencies({}, ['y'])


def test_runs_selection_keeps_their_starts_in_order():
    """``--runs`` trains the named runs and the chain of runs they start
    from, in manifest order."""
    tool = _tool()
    runs = tool.load_manifest(str(BENCH / 'synthetic_gta2cs.py'))[0]
    picked = tool.with_dependencies(runs, ['mrnet_stage2', 'sac'])
    assert list(picked) == ['source_start', 'abn_start', 'mrnet_stage1_half',
                            'mrnet_stage2', 'sac']
    assert list(tool.with_dependencies(runs, ['oracle'])) == ['oracle']
