"""Text generation: `generator.generate` (prompt in, text streamed out), the sampling math (`sampling`) and the
stateful decoders that run one recurrent step per token (`fast_decode`)."""
