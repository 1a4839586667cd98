"""Generate text from a trained checkpoint, streamed token by token.

python scripts/generate.py ckpt=outputs/builtin/<time> prompt="the"
python scripts/generate.py ckpt=best.ckpt prompt_file=prompts.txt num_samples=4 top_p=0.9 output=samples.jsonl
"""

from lm.cli import generate

if __name__ == "__main__":
    generate()
