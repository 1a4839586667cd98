"""One results layer for the probes and the analyses: interval statistics (`stats`), files (`files`: CSV and
strict JSON, arguments in the order (what, where)), text tables for the terminal (`tables`), figures (`plots`: the
set-up, PNG files, accuracy against a number), W&B runs (`wandb_log`: the training run of a checkpoint, tables,
images and scalars), and checkpoints loaded with the names they go by (`checkpoints`, `labels`)."""
