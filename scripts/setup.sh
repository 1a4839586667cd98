#!/usr/bin/env bash
# Set up .venv with lstm-lm and its dependencies; quick no-op when nothing changed since the last run.
# CPU machines get torch 2.13.0 (a CPU build where the machine provides one); machines with an NVIDIA driver get
# the default CUDA build. Override with TORCH_SPEC='torch==X.Y' if you need another.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
if [ -z "${TORCH_SPEC:-}" ]; then
  if command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L >/dev/null 2>&1; then TORCH_SPEC="torch>=2.4"
  else TORCH_SPEC="torch==2.13.0"; fi
fi
stamp=".venv/.lm-setup"
want="$(cat pyproject.toml scripts/setup.sh | sha256sum | cut -c1-16) $TORCH_SPEC"
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then exit 0; fi
[ -x .venv/bin/python ] || "$PY" -m venv .venv
export PIP_DISABLE_PIP_VERSION_CHECK=1
echo "setting up .venv ($TORCH_SPEC) ..."
# torch and the rest in one pip run: one resolver pass, one start
.venv/bin/python -m pip install -q "$TORCH_SPEC" -e ".[test]" 2>&1 | { grep -v "^WARNING: Location" || true; }
echo "$want" > "$stamp"
