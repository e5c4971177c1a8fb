"""The policy, the encoder zoo, and what trains, evaluates and renders agents."""
