"""Export a checkpoint as safetensors weights + config.json + tokenizer.json (lm/model/export.py).

python scripts/export.py ckpt=outputs/builtin/<time> [out=DIR]
"""

from lm.cli import export

if __name__ == "__main__":
    export()
