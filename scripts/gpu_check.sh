#!/usr/bin/env bash
# Issue 6's GPU check, one command on a GPU machine without network (about 4-6 minutes on one H100/H200):
# PTB, a fixed token budget (TOKENS, default 2e6 = ~2 epochs) for each of
#   ptb_medium: the plain fp32 PyTorch loop, then the Lightning path in bf16-mixed;
#   awd_lstm:   an AWD-LSTM-sized model (3 x 1150, 400-dim tied embedding) in bf16-mixed;
# then generation and probe scoring on each trained model. Prints the table (tokens/s, val ppl, model FLOP/s and
# their fraction of the bf16 matmul ceiling measured in the same run) and writes $OUT/gpu_check.{json,log}.
#
# Prepare once, here (a machine with the package registry and ../shared):  bash scripts/gpu_check.sh --prepare
#   copies PTB to data/ptb and the pure-Python packages the GPU image lacks (hydra-core, omegaconf, antlr4) to
#   .gpu-deps/; both are git-ignored, so carry them. With the device tool:
#   run(command="bash scripts/gpu_check.sh", carry=["data/ptb", ".gpu-deps"], timeout_s=540)
set -euo pipefail
cd "$(dirname "$0")/.."
if [[ "${1:-}" == --prepare ]]; then
  mkdir -p data/ptb && cp ../shared/data/ptb/{train,valid,test}.txt data/ptb/
  .venv/bin/python -m pip install -q --no-deps --target .gpu-deps hydra-core==1.3.8 omegaconf==2.3.1 \
    antlr4-python3-runtime==4.9.3
  echo "prepared data/ptb and .gpu-deps: carry both to the GPU machine"
  exit 0
fi
PY=${PYTHON:-python3}  # the GPU image's python3 holds torch, lightning and tokenizers
export PYTHONPATH="$PWD:$PWD/.gpu-deps${PYTHONPATH:+:$PYTHONPATH}" WANDB_MODE=offline HF_HUB_OFFLINE=1
OUT=${OUT:-gpu_check}
mkdir -p "$OUT"
nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.max.sm --format=csv | tee "$OUT/gpu.txt" || true
"$PY" scripts/benchmark.py --device "${DEVICE:-cuda}" --cases ptb_medium awd_lstm --tokens "${TOKENS:-2e6}" \
  --ptb data/ptb --cache "$OUT/cache" --gen-tokens 200 --probe-pairs 5000 --probe-baseline-pairs 200 \
  --override trainer.enable_progress_bar=false ${EXTRA:-} --json "$OUT/gpu_check.json" 2>&1 | tee "$OUT/gpu_check.log"
