"""From a TrainConfig to what it builds: the env's kwargs and the policy's constructor arguments.

`policy_kwargs` is the one mapping from the config to EntityPolicy: the RLModule gets exactly these
kwargs (agent/rllib/ppo_config.py), checkpoints save them, and every policy built from a config uses them.
"""

from __future__ import annotations

from agent.model.policy import EntityPolicy
from agent.training.config import TrainConfig
from envs.entity_env import entity_spec
from envs.errors import UserError
from envs.featurize import NUM_UNIT_TYPES, entity_features, fog_cell_count, scalar_features

ORDER_FEATURES = ("dx_own", "dy_own", "order_dx", "order_dy")


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


def observed_features(kwargs: dict) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The entity and scalar features read by a policy of these constructor arguments."""
    economy = bool(kwargs.get("economy", False))
    cells = fog_cell_count(bool(kwargs.get("unseen_cells")), int(kwargs.get("grid_size", 0)))
    return entity_features(economy), scalar_features(economy, cells)


def policy_kwargs(cfg: TrainConfig) -> dict:
    """EntityPolicy's constructor arguments (JSON-able) for this config: the entity observation's sizes,
    which depend on the map only through whether it is an economy map and whether it has fog (not on its
    caps), and the model settings."""
    width, options = cfg.model.resolved()
    spec = entity_spec(cfg.env.map, grid_size=cfg.env.grid_size)
    features = spec.entity_features
    positions = [features.index("x"), features.index("y")]
    # Where each unit's standing order points (agent/model/claims.py), if the observation says.
    order = [features.index(name) for name in ORDER_FEATURES if name in features]
    return {
        "num_features": len(features),
        "num_scalars": len(spec.scalar_features),
        "num_unit_types": NUM_UNIT_TYPES,
        "grid_size": cfg.env.grid_size,
        "width": width,
        "key_dim": cfg.model.key_dim,
        "encoder": cfg.model.encoder,
        "encoder_options": options,
        "noop_bias": cfg.model.noop_bias,
        "keep_bias": cfg.model.keep_bias,
        "order_column": features.index("has_order"),
        "position_features": positions if cfg.model.distance_bias else None,
        "ordered_decoding": cfg.model.ordered_decoding,
        "memory": cfg.model.memory,
        "order_features": order if cfg.model.ordered_decoding and len(order) == len(ORDER_FEATURES) else None,
        "economy": spec.economy,
        "unseen_cells": spec.fog,
    }


def check_model(cfg: TrainConfig) -> None:
    """Build the env's spec and the policy once: bad settings fail here, before Ray starts."""
    try:
        entity_spec(cfg.env.map, max_entities=cfg.env.max_entities, max_units=cfg.env.max_units,
                    grid_size=cfg.env.grid_size)
    except UserError as err:
        raise UserError(f"config section 'env': {err}") from None
    try:
        EntityPolicy(**policy_kwargs(cfg))
    except UserError as err:
        raise UserError(f"config key 'model.encoder_options': {err}") from None


def observation_meta(kwargs: dict | None = None) -> dict:
    """The observation read by a policy of these constructor arguments (default: a combat map's without
    fog), by name: saved with every checkpoint (policy.json)."""
    entities, scalars = observed_features(kwargs or {})
    return {"entity_features": list(entities), "scalar_features": list(scalars),
            "num_unit_types": NUM_UNIT_TYPES}


def _changes(saved: list, now: tuple) -> str:
    added, removed = [f for f in now if f not in saved], [f for f in saved if f not in now]
    parts = [f"gained {', '.join(added)}"] if added else []
    parts += [f"lost {', '.join(removed)}"] if removed else []
    return " and ".join(parts) or "were reordered"


def check_fits_observation(meta: dict, where) -> None:
    """A checkpoint's policy reads this version's observation, or a one-line UserError saying what changed
    since it was trained (it would otherwise fail on its first step, or silently read the wrong columns)."""
    kwargs, saved = meta.get("policy_kwargs", {}), meta.get("observation")
    entities, scalars = observed_features(kwargs)  # the observation of the map kind it was trained on
    problems = []
    if saved is not None:  # checkpoints name their features: say which ones changed
        for key, now in (("entity_features", entities), ("scalar_features", scalars)):
            if list(saved.get(key, [])) != list(now):
                problems.append(f"its {key.replace('_', ' ')} {_changes(saved.get(key, []), now)}")
    sizes = (("num_features", len(entities), "entity features"),
             ("num_scalars", len(scalars), "scalar features"),
             ("num_unit_types", NUM_UNIT_TYPES, "unit types"))
    if not problems:
        problems = [f"{name}: {kwargs.get(key)} in the checkpoint, {now} now" for key, now, name in sizes
                    if kwargs.get(key) != now]
    if problems:
        raise UserError(f"checkpoint {where} does not fit this version's observation "
                        f"({'; '.join(problems)}): retrain it, or play it with the version that trained it")
