"""From a TrainConfig to what it builds: the env's kwargs and the policy's constructor arguments."""

from __future__ import annotations

from agent.model.policy import EntityPolicy
from agent.rllib.module import policy_init_kwargs
from agent.training.config import TrainConfig
from envs.entity_env import entity_spec, observation_space
from envs.errors import UserError


def env_kwargs(cfg: TrainConfig) -> dict:
    """gymnasium kwargs of the training env (the same for evaluation)."""
    return {
        "map_name": cfg.env.map,
        "max_entities": cfg.env.max_entities,
        "max_units": cfg.env.max_units,
        "grid_size": cfg.env.grid_size,
        "step_mul": cfg.env.step_mul,
        "enemy_bot": cfg.env.enemy_bot,
    }


def model_config(cfg: TrainConfig) -> dict:
    width, options = cfg.model.resolved()
    return {
        "grid_size": cfg.env.grid_size,
        "width": width,
        "key_dim": cfg.model.key_dim,
        "encoder": cfg.model.encoder,
        "encoder_options": options,
        "noop_bias": cfg.model.noop_bias,
        "ordered_decoding": cfg.model.ordered_decoding,
        "distance_bias": cfg.model.distance_bias,
    }


def policy_kwargs(cfg: TrainConfig) -> dict:
    """EntityPolicy constructor arguments for this config (no env is created)."""
    spec = entity_spec(cfg.env.map, max_entities=cfg.env.max_entities, max_units=cfg.env.max_units,
                       grid_size=cfg.env.grid_size)
    return policy_init_kwargs(observation_space(spec), model_config(cfg))


def check_model(cfg) -> None:
    """Build the policy once on the env's observation space: bad model settings fail before Ray starts."""
    try:
        entity_spec(cfg.env.map, max_entities=cfg.env.max_entities, max_units=cfg.env.max_units,
                    grid_size=cfg.env.grid_size)
    except UserError as err:
        raise UserError(f"config section 'env': {err}") from None
    try:
        EntityPolicy(**policy_kwargs(cfg))
    except UserError as err:
        raise UserError(f"config key 'model.encoder_options': {err}") from None
