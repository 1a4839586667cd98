"""Embedding dropout (Gal & Ghahramani 2016; AWD's dropoute): whole word types are dropped for a batch, every
occurrence of a dropped word embeds to zeros, and the kept embeddings are scaled by 1 / (1 - p)."""

from __future__ import annotations

import torch
from torch import nn


def embed(embedding: nn.Embedding, tokens: torch.Tensor, p: float, training: bool) -> torch.Tensor:
    """(B, T) ids -> (B, T, E). Looking the type mask up by token equals masking the (V, E) table's rows and costs
    B*T*E instead of V*E; the table itself is untouched (a tied decoder sees it whole)."""
    out = embedding(tokens)
    if not training or p == 0:
        return out
    keep = torch.rand(embedding.num_embeddings, device=tokens.device) >= p  # (V,): one draw per word type
    return out * (keep.to(out.dtype) / (1 - p))[tokens].unsqueeze(-1)
