"""The project's Lightning callbacks (conf/callbacks/): probe suites during and after training (`probes`), sample
text each epoch (`samples`). Checkpointing's callbacks live with the rest of it in lm/training/checkpointing.py."""
