"""A generic Perceiver IO in torch (Jaegle et al., ICLR 2022). Knows nothing of StarCraft or RLlib."""
