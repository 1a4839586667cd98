"""Text in: sources (files, the hub), the built-in corpus (`grammar`, drawn from `constructions` and `phrases`,
which the probe suites share, over a `lexicon`), tokenizers, the token cache, BPTT batching and the DataModule;
the fiction corpus builder (`gutenberg`) and what a text says about pronoun antecedents (`antecedents`)."""
