#!/usr/bin/env bash
# Create or reuse the project's virtual environment in .venv/ and install
# mmseg_uda with its pinned OpenMMLab stack.
#
# mmcv 2.1.0 (full, with ops) has only a source distribution on PyPI, and
# building it against torch 2.13.0 on CPU takes ~13 minutes on 2 cores. The
# built wheel is kept in $MMSEG_UDA_WHEEL_CACHE (default
# ~/.cache/mmseg_uda/wheels) and reused by later setups, fresh clones included.
# A stamp file makes a repeated setup return in about a second.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$ROOT/.venv"
PY="${PYTHON:-python3}"
WHEELS="${MMSEG_UDA_WHEEL_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/mmseg_uda/wheels}"
STAMP="$VENV/.mmseg_uda_setup"
# Everything the stamp vouches for; changing the pins, the requirement files or
# setup.py re-runs setup.
SIG="$(cat "$ROOT/setup.py" "$ROOT/tools/setup_env.sh" "$ROOT"/requirements/*.txt | sha1sum | cut -d' ' -f1)"

if [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$SIG" ]; then
  exit 0
fi

log() { echo "[setup] $*"; }

if [ ! -x "$VENV/bin/python" ]; then
  log "creating $VENV"
  "$PY" -m venv "$VENV"
fi
VPY="$VENV/bin/python"
PIP=("$VPY" -m pip --disable-pip-version-check)

# torch first: 2.13.0 is the CPU build available here; any other spec would
# pull a CUDA build.
if ! "$VPY" -c "import torch, sys; sys.exit(torch.__version__.split('+')[0] != '2.13.0')" 2>/dev/null; then
  log "installing torch==2.13.0"
  "${PIP[@]}" install -q "torch==2.13.0"
fi

if ! "$VPY" -c "import mmcv, mmcv.ops, sys; sys.exit(mmcv.__version__ != '2.1.0')" 2>/dev/null; then
  mkdir -p "$WHEELS"
  whl="$(ls "$WHEELS"/mmcv-2.1.0-*.whl 2>/dev/null | head -n1 || true)"
  if [ -z "$whl" ]; then
    # Build requirements of mmcv's setup.py: it imports pkg_resources (gone
    # from setuptools>=70) and torch (hence no build isolation).
    "${PIP[@]}" install -q "setuptools<70" wheel ninja psutil
    log "building mmcv 2.1.0 with ops from source (about 13 minutes on 2 cores, once)"
    MMCV_WITH_OPS=1 MAX_JOBS="${MAX_JOBS:-2}" "${PIP[@]}" wheel --no-build-isolation \
      --no-deps -w "$WHEELS" "mmcv==2.1.0"
    whl="$(ls "$WHEELS"/mmcv-2.1.0-*.whl | head -n1)"
  fi
  log "installing $whl"
  "${PIP[@]}" install -q --no-deps "$whl"
  # mmcv's own runtime requirements.
  "${PIP[@]}" install -q addict packaging Pillow pyyaml yapf "mmengine==0.10.7" opencv-python
fi

log "installing mmseg_uda (editable) and test requirements"
"${PIP[@]}" install -q -e "$ROOT" -r "$ROOT/requirements/tests.txt"

"$VPY" -c "import mmseg_uda; print('[setup] mmseg_uda', mmseg_uda.__version__, 'ready')"
echo "$SIG" > "$STAMP"
