"""The network, in pure torch: the entity-encoder zoo (encoders.py) and the AlphaStar-style policy
(policy.py). No Ray and no engine simulation: the policy reads only the action layout of envs.action_space."""
