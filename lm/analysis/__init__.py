"""Look inside a trained recurrent language model (lm-analyze, lm/cli/analyze.py, runs these on checkpoints).

    gates         every gate and state of the explicit LSTM cell (lm.model.cells) per layer, unit and token, and the
                  forget / input gates where the subject changes              -> lm.analysis.gates
    probes        logistic-regression probes reading subject number / gender from h_t and C_t -> state_probes
    ablation      units ranked by the agreement accuracy their removal costs                  -> ablation
    gradients     || d log p(verb) / d x_subject || against distance                           -> gradients
    agreement     agreement accuracy against distance, several checkpoints side by side       -> agreement

Items (lm.analysis.items) come from the built-in grammar (lm.data.grammar) or from sentences given by the user.
"""
