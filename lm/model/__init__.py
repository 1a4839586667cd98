"""The model in plain PyTorch (no Lightning, no Hydra): `rnnlm.RNNLM` with its adaptive softmax, AWD-LSTM's
regularisers, the lecture's cells written out step by step (`cells`), the continuous cache pointer, and the
checkpoint and export formats that load it without the training code."""
