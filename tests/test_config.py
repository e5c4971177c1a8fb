"""Typed training config: the shipped configs validate; malformed ones fail in one line with exit 2."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from agent.cli import main
from agent.model.policy import EntityPolicy
from agent.model.sizes import matched_options
from agent.training.build import policy_kwargs
from agent.training.config import TrainConfig, field_docs, load_config
from envs.engine import MAP_NAMES
from envs.errors import UserError

CONFIGS = Path(__file__).resolve().parent.parent / "configs"

# (YAML text, a word the one-line error must contain: the key or the problem)
OPTION = "config key 'model.encoder_options."
MALFORMED = [
    ("trainer: {}\n", "'trainer'"),
    ("ppo:\n  lrr: 0.1\n", "'ppo.lrr'"),
    ("ppo:\n  lr: fast\n", "'ppo.lr'"),
    ("ppo:\n  lr: -1.0\n", "'ppo.lr'"),
    ("env:\n  map: MoveToBacon\n", "MoveToBeacon"),
    ("model:\n  encoder: lstm\n", "perceiver_io"),
    ("env:\n  num_envs: 2.5\n", "'env.num_envs'"),
    ("ppo:\n  gamma: 1.5\n", "'ppo.gamma'"),
    ("env: [unclosed\n", "not valid YAML"),
    ("- a\n- b\n", "mapping"),
    ("run:\n  progress: maybe\n", "'run.progress'"),
    ("env:\n  max_entities: 4\n  max_units: 9\n", "'env.max_units'"),
    ("ppo: 3\n", "'ppo'"),
    ("env:\n  enemy_bot: rush\n", "'env.enemy_bot': expected one of idle"),
    # Encoder options, by name and value, for every encoder.
    ("model:\n  encoder_options: {self_heads: 0}\n", f"{OPTION}self_heads': expected an integer >= 1"),
    ("model:\n  encoder_options: {latent_dim: -4}\n", f"{OPTION}latent_dim': expected an integer >= 1"),
    ("model:\n  encoder_options: {cross_mlp_ratio: 0}\n", f"{OPTION}cross_mlp_ratio': expected a number > 0"),
    ("model:\n  encoder_options: {latent_dim: 30, self_heads: 8}\n", "30 is not divisible by self_heads=8"),
    ("model:\n  encoder: transformer\n  encoder_options: {num_heads: 0}\n", f"{OPTION}num_heads'"),
    ("model:\n  encoder: transformer\n  encoder_options: {head_dim: -8}\n", f"{OPTION}head_dim'"),
    ("model:\n  encoder: deepsets\n  encoder_options: {hidden_dim: -1}\n", f"{OPTION}hidden_dim'"),
    ("model:\n  encoder: deepsets\n  encoder_options: {num_latents: 4}\n",
     f"{OPTION}num_latents': not an option of encoder 'deepsets'"),
]


@pytest.mark.parametrize("map_name", MAP_NAMES)
def test_one_valid_config_per_map(map_name):
    cfg = load_config(CONFIGS / f"{map_name}.yaml")
    assert cfg.env.map == map_name == cfg.name
    assert cfg.model.encoder == "perceiver_io"


# What a map's config may set: everything else is the shared default (one model and PPO for every map).
MAP_KEYS = {"name", "env.map", "env.max_entities", "env.max_units", "run.max_env_steps", "run.max_minutes",
            "run.max_iterations"}


def _leaves(data: dict, prefix: str = "") -> dict:
    out = {}
    for key, value in data.items():
        if isinstance(value, dict) and key != "encoder_options":
            out.update(_leaves(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


@pytest.mark.parametrize("map_name", MAP_NAMES)
def test_map_configs_differ_only_in_map_caps_and_budget(map_name):
    import yaml

    written = _leaves(yaml.safe_load((CONFIGS / f"{map_name}.yaml").read_text()))
    assert set(written) <= MAP_KEYS, sorted(set(written) - MAP_KEYS)
    loaded = _leaves(load_config(CONFIGS / f"{map_name}.yaml").to_dict())
    defaults = _leaves(TrainConfig().to_dict())
    assert {k for k in loaded if loaded[k] != defaults[k]} <= MAP_KEYS


def test_every_field_has_a_one_line_doc():
    docs = field_docs()
    assert "ppo.lr" in docs and "model.encoder" in docs
    assert all(doc and "\n" not in doc for doc in docs.values())


def test_overrides_reach_nested_keys_and_keep_types():
    cfg = load_config(CONFIGS / "MoveToBeacon.yaml", ["ppo.lr=1e-3", "model.encoder_options.num_latents=24",
                                                     "env.num_envs=4"])
    assert cfg.ppo.lr == pytest.approx(1e-3) and isinstance(cfg.ppo.lr, float)
    assert cfg.model.encoder_options == {"num_latents": 24}  # over the matched sizes, key by key
    assert cfg.model.resolved()[1] == {"num_latents": 24, "num_layers": 2, "self_heads": 4}
    assert cfg.env.num_envs == 4
    # Options belong to one encoder: switching encoders clears the config's Perceiver IO options.
    cfg = load_config(CONFIGS / "MoveToBeacon.yaml", ["model.encoder=deepsets", "model.encoder_options={}"])
    assert (cfg.model.encoder, cfg.model.encoder_options) == ("deepsets", {})


def test_alphastar_size_is_one_key_away():
    cfg = load_config(CONFIGS / "MoveToBeacon.yaml", ["model.size=alphastar"])
    width, options = cfg.model.resolved()
    assert (width, options) == (256, {})
    assert load_config(CONFIGS / "MoveToBeacon.yaml").model.resolved()[0] == 64


def test_model_defaults_are_the_policys_own():
    cfg = load_config(None)
    kwargs = policy_kwargs(cfg)
    for name, default in EntityPolicy.defaults().items():
        if name not in ("encoder_options", "position_features", "order_features", "order_column"):  # obs
            assert kwargs[name] == default, name
    assert kwargs["encoder_options"] == matched_options("perceiver_io", 64) == \
        {"num_latents": 16, "num_layers": 2, "self_heads": 4}
    # The policy stores what it was built with: a config's policy rebuilds from its saved kwargs.
    assert EntityPolicy(**kwargs).constructor_kwargs == kwargs


def test_defaults_validate_and_roundtrip():
    cfg = load_config(None)
    assert isinstance(cfg, TrainConfig)
    from agent.training.config import config_from_dict

    assert config_from_dict(cfg.to_dict()) == cfg


@pytest.mark.parametrize(("text", "needle"), MALFORMED)
def test_malformed_config_is_one_line_and_exit_2(tmp_path, capsys, text, needle):
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    assert main(["train", str(path), "--run-dir", str(tmp_path / "run")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("perceiver-sc2 train: error: ")
    assert needle in err
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("override", ["ppo.lr", "nokey.x=1", "model.encoder_options=3"])
def test_bad_override_is_a_user_error(override):
    with pytest.raises(UserError):
        load_config(CONFIGS / "MoveToBeacon.yaml", [override])


@pytest.mark.parametrize("command", ["train", "ablate"])
def test_config_that_is_not_utf8_is_one_line(tmp_path, capsys, command):
    path = tmp_path / "latin1.yaml"
    path.write_bytes("name: caf\u00e9\n".encode("latin-1"))
    assert main([command, str(path), "--run-dir", str(tmp_path / "run")]) == 2
    assert capsys.readouterr().err == (f"perceiver-sc2 {command}: error: {path}: not UTF-8 text "
                                       "(byte 0xe9 at offset 9); save the config as UTF-8\n")
    assert not (tmp_path / "run").exists()


def test_missing_config_file_is_one_line(tmp_path, capsys):
    assert main(["train", str(tmp_path / "nope.yaml")]) == 2
    assert "config file not found" in capsys.readouterr().err


def test_cli_exit_status_in_a_real_process(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("ppo:\n  num_epochs: 0\n")
    proc = subprocess.run([sys.executable, "-m", "agent.cli", "train", str(path)], capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [
        "perceiver-sc2 train: error: config key 'ppo.num_epochs': expected an integer >= 1, got 0"
    ]
