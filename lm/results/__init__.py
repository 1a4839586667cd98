"""One results layer for the probes and the analyses: interval statistics (`stats`), files (`files`: CSV and
strict JSON, arguments in the order (what, where)), text tables for the terminal (`tables`), and checkpoints
loaded with the names they go by (`checkpoints`, `labels`)."""
