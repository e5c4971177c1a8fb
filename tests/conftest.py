"""pysc2 needs the pure-Python protobuf runtime, chosen before anything (ray, pysc2) imports protobuf;
installing the shims first lets every pysc2 test run in this process."""

from envs import pysc2_compat

pysc2_compat.install()
