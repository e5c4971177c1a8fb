"""Benchmarks: the `bench` command (command.py) runs the engine's, the entity env's or the encoders'
(encoders.py: FLOPs, parameters and CPU latency of the entity encoders at AlphaStar's sizes)."""
