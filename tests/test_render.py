"""`perceiver-sc2 render`: frame geometry and colours, order tracking, events, files, attention."""

import imageio.v3 as iio
import numpy as np
import pytest

from agent.cli import main
from agent.render import video
from agent.render.draw import HEADER_PX, SIDE_COLOURS, FrameDrawer, FrameInfo
from agent.render.record import AttentionProbe, OrderTracker, _events, record
from agent.render.video import write_video
from envs.action_space import Verb
from envs.entity_env import entity_spec
from envs.errors import UserError
from envs.raw_schema import NUM_PLAYER_COLUMNS, NUM_SCORE_COLUMNS, NUM_UNIT_COLUMNS, Alliance, RawObs
from envs.raw_schema import FeatureUnit as FU
from tests.test_matrix import make_checkpoint


def raw_obs(units, game_loop=0):
    """A RawObs from (tag, alliance, unit_type, x, y, radius, health_ratio, weapon_cooldown, orders) rows."""
    rows = np.zeros((len(units), NUM_UNIT_COLUMNS), dtype=np.int64)
    for row, (tag, alliance, utype, _x, _y, _r, hr, cd, orders) in zip(rows, units, strict=True):
        row[[FU.tag, FU.alliance, FU.unit_type, FU.health_ratio]] = tag, alliance, utype, hr
        row[FU.weapon_cooldown], row[FU.order_length] = cd, orders
    return RawObs(raw_units=rows, positions=np.array([[u[3], u[4]] for u in units], dtype=np.float64),
                  radii=np.array([u[5] for u in units], dtype=np.float64),
                  player=np.zeros(NUM_PLAYER_COLUMNS, np.int64), game_loop=game_loop,
                  score_cumulative=np.zeros(NUM_SCORE_COLUMNS, np.int64))


def test_units_are_drawn_where_they_are_in_their_side_colour_with_health_to_scale():
    drawer = FrameDrawer((22.0, 20.0, 44.0, 36.0), scale=20.0)
    # Own Marine near the top-left corner (high y = top), enemy Roach near the bottom-right.
    raw = raw_obs([(1, Alliance.self, 48, 24.0, 34.0, 0.375, 255, 0, 0),
                   (2, Alliance.enemy, 110, 42.0, 22.0, 1.0, 127, 0, 0)])
    frame = drawer.draw(raw, FrameInfo(title="t", step=0))
    assert frame.shape == (drawer.height, drawer.width, 3) and frame.shape[0] % 16 == 0
    # view starts 1 unit outside the playable area: x 24 -> (24 - 21) * 20 = 60 px; y 34 -> 37 - 34 = 3 units
    own_px = (HEADER_PX + 3 * 20 + 3, 60 + 4)  # (row, column), off the label in the middle
    enemy_px = (HEADER_PX + 15 * 20 + 10, 21 * 20 + 10)
    assert tuple(frame[own_px]) == SIDE_COLOURS[Alliance.self]
    assert frame[enemy_px][0] > 150 and frame[enemy_px][2] < 100  # red (shaded per type)
    # The Roach's health bar (half health) sits above it: green up to about its middle, dark after.
    bar_row = HEADER_PX + 15 * 20 - 20 - 5 + 1
    bar = frame[bar_row, 21 * 20 - 20 : 21 * 20 + 20]
    green = (bar[:, 1] > 150) & (bar[:, 0] < 120)
    assert 17 <= green.sum() <= 23, green.sum()


def test_order_tracker_follows_the_actions_and_forgets_finished_orders():
    spec = entity_spec("DefeatRoaches")
    layout, tracker = spec.layout, OrderTracker(spec)
    tags = np.zeros(spec.max_entities, dtype=np.int64)
    tags[:3] = 10, 11, 12  # two own units in slots 0, 1; padding in 2..U-1; an enemy in slot U
    tags[spec.max_units] = 99
    mask = np.ones((spec.max_units, layout.num_actions), dtype=np.int8)
    actions = np.zeros(spec.max_units, dtype=np.int64)
    actions[0] = layout.encode(Verb.ATTACK_ENTITY, spec.max_units)
    actions[1] = layout.encode(Verb.MOVE_POINT, 5)
    tracker.give(actions, tags, mask)
    assert tracker.orders[10].attack and tracker.orders[10].target_tag == 99
    assert not tracker.orders[11].attack
    assert tracker.orders[11].target_xy == pytest.approx(tuple(spec.cell_centres()[5]))
    tracker.give(np.zeros_like(actions), tags, mask)  # no-op keeps the orders
    assert set(tracker.orders) == {10, 11}
    # Unit 11 reports no order (arrived); unit 10 still attacks a living target.
    tracker.update(raw_obs([(10, 1, 48, 30, 28, 0.4, 255, 0, 1), (11, 1, 48, 31, 28, 0.4, 255, 0, 0),
                            (99, 4, 110, 40, 28, 0.5, 255, 0, 0)]))
    assert set(tracker.orders) == {10}
    tracker.update(raw_obs([(10, 1, 48, 30, 28, 0.4, 255, 0, 1)]))  # the target died
    assert tracker.orders == {}
    actions[0] = layout.encode(Verb.STOP)
    tracker.give(actions, tags, mask)
    assert 10 not in tracker.orders


def test_events_find_shots_and_deaths():
    prev = raw_obs([(1, 1, 48, 30, 28, 0.4, 255, 10, 1), (2, 1, 48, 31, 28, 0.4, 255, 10, 1),
                    (3, 4, 110, 40, 28, 0.5, 255, 0, 0)], game_loop=8)
    # Unit 1's cooldown fell by the 8 loops elapsed (no shot), unit 2's was reset (a shot); 3 died.
    now = raw_obs([(1, 1, 48, 30, 28, 0.4, 255, 2, 1), (2, 1, 48, 31, 28, 0.4, 255, 9, 1)], game_loop=16)
    fired, deaths = _events(prev, now, [])
    assert fired == {2}
    assert deaths == [(40.0, 28.0, 0.5, 0)]
    _, deaths = _events(now, now, deaths)
    assert deaths == [(40.0, 28.0, 0.5, 1)]  # aged; dropped after record.py's DEATH_FRAMES


def test_scripted_defeat_roaches_frames_show_motion_and_combat():
    frames, summary = record("scripted", "DefeatRoaches", seed=3, steps=40)
    assert len(frames) == 41 and summary["steps"] == 40
    assert all(f.shape == frames[0].shape for f in frames)
    arena = slice(HEADER_PX, None)
    moved = [np.any(a[arena] != b[arena]) for a, b in zip(frames, frames[1:], strict=False)]
    assert sum(moved) >= 35  # the picture changes nearly every step
    # Attack lines (orange) appear once the Marines have been ordered to attack.
    orange = [np.count_nonzero((f[..., 0] == 255) & (f[..., 1] == 110) & (f[..., 2] == 60)) for f in frames]
    assert orange[0] > 0 and max(orange) > 100


def test_gif_round_trip_and_mp4_needs_imageio_ffmpeg(tmp_path, monkeypatch):
    frames = [np.full((32, 48, 3), c, dtype=np.uint8) for c in (0, 120, 240)]
    path = write_video(frames, tmp_path / "x.gif", fps=4)
    back = iio.imread(path, index=None)
    assert back.shape[:3] == (3, 32, 48)
    assert [int(f.mean()) for f in back] == pytest.approx([0, 120, 240], abs=2)
    monkeypatch.setattr(video, "mp4_available", lambda: False)
    with pytest.raises(UserError, match="imageio-ffmpeg"):
        write_video(frames, tmp_path / "x.mp4", fps=4)
    with pytest.raises(UserError, match=r"\.gif or \.mp4"):
        write_video(frames, tmp_path / "x.avi", fps=4)


def test_render_cli_writes_a_gif(tmp_path, capsys):
    out = tmp_path / "3m.gif"
    assert main(["render", "random", "--map", "3m", "--out", str(out), "--steps", "6", "--seed", "1"]) == 0
    assert len(iio.imread(out, index=None)) == 7
    assert "7 frames" in capsys.readouterr().out


def test_attention_joins_each_latent_to_a_real_entity(tmp_path):
    ckpt = make_checkpoint(tmp_path / "pio", "3m")
    plain, _ = record(str(ckpt), "3m", seed=0, steps=3)
    frames, _ = record(str(ckpt), "3m", seed=0, steps=3, attention=True)
    assert frames[0].shape[1] > plain[0].shape[1]  # room for the latent column
    from agent.training.checkpoint import load_policy
    from envs.entity_env import EntityEnv

    policy, _ = load_policy(ckpt)
    env = EntityEnv("3m")
    obs, _ = env.reset(seed=0)
    probe = AttentionProbe(policy.encoder)
    policy.act(obs)
    # 4 latents in make_checkpoint, over the real entities only (the policy skips padding slots).
    real = int(obs["entity_mask"].sum())
    assert real < env.entity_spec.max_entities and probe.weights.shape[-2:] == (4, real)
    top = probe.top_entities(env.slot_tags, obs["entity_mask"])
    assert len(top) == 4 and all(tag in set(env.slot_tags[obs["entity_mask"] == 1]) for tag, _ in top)


@pytest.mark.parametrize("agent, message", [("scripted", "needs a Perceiver IO checkpoint"),
                                            ("deepsets", "uses 'deepsets'")])
def test_attention_needs_a_perceiver_io_checkpoint(tmp_path, agent, message):
    if agent == "deepsets":
        agent = str(make_checkpoint(tmp_path / "ds", "3m", encoder="deepsets"))
    with pytest.raises(UserError, match=message):
        record(agent, "3m", steps=1, attention=True)
