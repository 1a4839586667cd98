"""Training: `train.train(cfg)` assembles data, tokenizer, model and Lightning Trainer; `module.LanguageModel` is the
LightningModule (truncated BPTT); optimisers and schedules, explicit negative examples, the non-finite guard,
checkpoints that keep up with long runs, random state for exact resumption, loggers, callbacks, and perplexity
measured as training measures it."""
