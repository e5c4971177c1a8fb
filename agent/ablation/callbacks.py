"""RLlib callbacks of an ablation trial: the training callbacks plus the config's torch thread count.

Its own module because Tune's trial actors import it by name.
"""

from __future__ import annotations

import torch

from agent.rllib.callbacks import TrainCallbacks


class AblationCallbacks(TrainCallbacks):
    def on_algorithm_init(self, *, algorithm, metrics_logger=None, **kwargs):
        # Ray pins actors to OMP_NUM_THREADS=<their CPUs>; honour scale.torch_threads as `train` does.
        threads = algorithm.config.model_config.get("torch_threads")
        if threads:
            torch.set_num_threads(int(threads))
