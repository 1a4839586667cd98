#!/usr/bin/env bash
# The GPU check, one command on a GPU machine without network (about 7-9 minutes on one H100/H200):
# PTB, a fixed token budget (TOKENS, default 2e6 = ~2 epochs) for each of
#   ptb_medium: the plain fp32 PyTorch loop, then the Lightning path in bf16-mixed;
#   awd_lstm:   AWD-LSTM's PTB recipe (3 x 1150, 400-dim tied embedding, its regularisers and NT-ASGD) in bf16-mixed;
# then generation and probe scoring on each trained model. Prints the table (tokens/s, val ppl, model FLOP/s and
# their fraction of the bf16 matmul ceiling measured in the same run) and writes $OUT/gpu_check.{json,log}.
#
# `bash scripts/gpu_check.sh books` instead trains experiment=books_gpu (ten minutes, set-up included) and writes
# its full probe report to $OUT/books_gpu/evaluate.
#
# Prepare once, here (a machine with the package registry and ../shared):  bash scripts/gpu_check.sh --prepare
#   copies PTB to data/ptb, packs the fiction corpus into data/books.tar.gz (37 MB: the 95 MB of text is over the
#   device tool's 64 MiB carry) and installs the pure-Python packages the GPU image lacks (hydra-core, omegaconf,
#   antlr4) to .gpu-deps/; all are git-ignored, so carry them. With the device tool:
#   run(command="bash scripts/gpu_check.sh", carry=["data/ptb", ".gpu-deps"], timeout_s=540)
#   run(command="bash scripts/gpu_check.sh books", carry=["data/books.tar.gz", ".gpu-deps"], timeout_s=780)
set -euo pipefail
cd "$(dirname "$0")/.."
if [[ "${1:-}" == --prepare ]]; then
  mkdir -p data/ptb && cp ../shared/data/ptb/{train,valid,test}.txt data/ptb/
  tar -czf data/books.tar.gz -C ../shared/data/books train.txt valid.txt test.txt
  .venv/bin/python -m pip install -q --no-deps --target .gpu-deps hydra-core==1.3.8 omegaconf==2.3.1 \
    antlr4-python3-runtime==4.9.3
  echo "prepared data/ptb, data/books.tar.gz and .gpu-deps: carry them to the GPU machine"
  exit 0
fi
PY=${PYTHON:-python3}  # the GPU image's python3 holds torch, lightning and tokenizers
export PYTHONPATH="$PWD:$PWD/.gpu-deps${PYTHONPATH:+:$PYTHONPATH}" WANDB_MODE=offline HF_HUB_OFFLINE=1
OUT=${OUT:-gpu_check}
mkdir -p "$OUT"
nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.max.sm --format=csv | tee "$OUT/gpu.txt" || true
if [[ "${1:-}" == books ]]; then
  start=$SECONDS
  [[ -f data/books/train.txt ]] || { mkdir -p data/books && tar -xzf data/books.tar.gz -C data/books; }
  "$PY" scripts/train.py experiment=books_gpu logger=csv paths.cache_dir="$OUT/cache" hydra.run.dir="$OUT/books_gpu" \
    trainer.enable_progress_bar=false ${EXTRA:-} 2>&1 | tail -n 8 | tee "$OUT/books_gpu.log"
  echo "set-up and training: $((SECONDS - start)) s" | tee -a "$OUT/books_gpu.log"
  "$PY" scripts/evaluate.py ckpt="$OUT/books_gpu" n_items=1000 wandb=false output_dir="$OUT/books_gpu/evaluate" \
    2>&1 | tail -n 40 | tee -a "$OUT/books_gpu.log"
  exit 0
fi
"$PY" benchmarks/run.py --device "${DEVICE:-cuda}" --cases ptb_medium awd_lstm --tokens "${TOKENS:-2e6}" \
  --ptb data/ptb --cache "$OUT/cache" --gen-tokens 200 --probe-pairs 5000 --probe-baseline-pairs 200 \
  --override trainer.enable_progress_bar=false ${EXTRA:-} --json "$OUT/gpu_check.json" 2>&1 | tee "$OUT/gpu_check.log"
# AWD's recipe against the clock (AWD_MINUTES, default 3; 0 skips): val ppl per epoch with the time of each line
if [[ "${AWD_MINUTES:-3}" != 0 ]]; then
  "$PY" scripts/train.py experiment=awd_lstm trainer="$([[ ${DEVICE:-cuda} == cpu ]] && echo cpu || echo gpu)" \
    data.dir=data/ptb logger=csv \
    "+trainer.max_time=00:00:${AWD_MINUTES:-3}:00" paths.cache_dir="$OUT/cache" hydra.run.dir="$OUT/awd_lstm" \
    trainer.enable_progress_bar=false callbacks.probes.n_items=200 2>&1 | tail -n 5 | tee -a "$OUT/gpu_check.log"
  grep -E "val/loss|NT-ASGD" "$OUT/awd_lstm/train.log" | tee "$OUT/awd_lstm_val_by_time.txt"
fi
