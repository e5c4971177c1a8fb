"""The Python 3.11 shims for pysc2, and the isolation helper the other pysc2 test modules use.

pytest runs every test in one process, and protobuf's backend is fixed by the first protobuf import
anywhere (ray imports it). `isolated` runs a pysc2 test in this process when the shim can still be
installed here, and otherwise re-runs exactly that test in a fresh interpreter.
"""

from __future__ import annotations

import functools
import os
import random
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path
from xml.etree import ElementTree

from envs import pysc2_compat

REPO = Path(__file__).resolve().parents[1]


def run_python(code: str) -> subprocess.CompletedProcess:
    """Run `code` in a fresh interpreter (repo root as cwd) and return the finished process."""
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)], cwd=REPO, capture_output=True, text=True, timeout=120
    )


_FRESH_RESULTS: dict[str, dict[str, str]] = {}  # test file -> {test name: failure text, "" if passed}


def _fresh_interpreter_results(path: str) -> dict[str, str]:
    """Run a whole test file once in a fresh interpreter; per-test outcomes from its JUnit report."""
    if path not in _FRESH_RESULTS:
        with tempfile.TemporaryDirectory() as tmp:
            report = Path(tmp) / "report.xml"
            proc = subprocess.run(
                [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", f"--junitxml={report}",
                 path],
                cwd=REPO, capture_output=True, text=True, timeout=600,
            )
            assert report.exists(), f"pytest {path} did not run:\n{proc.stdout}\n{proc.stderr}"
            results = {}
            for case in ElementTree.parse(report).getroot().iter("testcase"):
                problems = [f"{child.tag}: {child.get('message')}\n{child.text}" for child in case
                            if child.tag in ("failure", "error", "skipped")]
                results[case.get("name")] = "\n".join(problems)
        _FRESH_RESULTS[path] = results
    return _FRESH_RESULTS[path]


def isolated(test):
    """Decorator: run the test here if pysc2 can be imported in this process, else in a fresh one.

    The fallback runs the test's whole file once in a fresh interpreter and reports this test's outcome
    from there (one interpreter per file rather than per test keeps it to seconds).
    """

    @functools.wraps(test)
    def wrapper(*args, **kwargs):
        if pysc2_compat.installable():
            pysc2_compat.install()
            return test(*args, **kwargs)
        node_id = os.environ["PYTEST_CURRENT_TEST"].rsplit(" ", 1)[0]  # "path::name[params] (call)"
        path, name = node_id.split("::", 1)
        results = _fresh_interpreter_results(path)
        assert name in results, f"{node_id} did not run in a fresh interpreter"
        assert not results[name], f"{node_id} failed in a fresh interpreter:\n{results[name]}"
        return None

    return wrapper


def test_install_makes_pysc2_importable_in_a_fresh_interpreter():
    proc = run_python(
        """
        from envs import pysc2_compat
        pysc2_compat.install()
        from pysc2.env import sc2_env, mock_sc2_env
        from pysc2.lib import features, actions, colors
        from google.protobuf.internal import api_implementation
        print(api_implementation.Type(), len(colors.unit_type()))
        """
    )
    assert proc.returncode == 0, proc.stderr
    backend, palette_size = proc.stdout.split()
    assert backend == "python"
    assert int(palette_size) > 1000  # colors.unit_type() uses the 2-argument shuffle


def test_without_install_pysc2_import_fails_as_documented():
    # Guards the premise of the shim: if a pysc2 release fixes this, the shim can go.
    proc = run_python("from pysc2.env import sc2_env")
    assert proc.returncode != 0
    assert "Descriptors cannot be created directly" in proc.stderr or "shuffle" in proc.stderr


def test_install_after_protobuf_c_backend_raises_clear_error():
    proc = run_python(
        """
        import os
        os.environ.pop("PROTOCOL_BUFFERS_PYTHON_IMPLEMENTATION", None)
        from google.protobuf.internal import api_implementation
        assert api_implementation.Type() != "python", api_implementation.Type()
        from envs import pysc2_compat
        assert not pysc2_compat.installable()
        try:
            pysc2_compat.install()
        except pysc2_compat.Pysc2ImportOrderError as err:
            print(err)
        """
    )
    assert proc.returncode == 0, proc.stderr
    assert "before importing ray" in proc.stdout
    assert "PROTOCOL_BUFFERS_PYTHON_IMPLEMENTATION=python" in proc.stdout


def test_engine_sc2env_attribute_installs_the_shims_first():
    proc = run_python(
        """
        import envs
        env_cls = envs.EngineSC2Env
        from pysc2.agents import scripted_agent
        from google.protobuf.internal import api_implementation
        print(api_implementation.Type(), env_cls.__name__)
        """
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["python", "EngineSC2Env"]


@isolated
def test_shuffle_two_argument_form_matches_python_310_by_hand():
    pysc2_compat.install()
    x = list(range(10))
    random.shuffle(x, lambda: 0.5)
    # Worked by hand: for i = 9..1 swap x[i] with x[int(0.5 * (i + 1))].
    assert x == [0, 9, 1, 7, 2, 6, 3, 8, 4, 5]
    y = list(range(5))
    random.shuffle(y, lambda: 0.0)  # j = 0 every time
    assert y == [1, 2, 3, 4, 0]


@isolated
def test_shuffle_one_argument_form_is_the_stdlib_stream():
    pysc2_compat.install()
    pysc2_compat.install()  # idempotent: still one wrapper around the stdlib
    assert random.shuffle.stdlib_shuffle.__self__ is random._inst
    random.seed(123)
    ours = list(range(50))
    random.shuffle(ours)
    after = random.random()
    reference = random.Random(123)
    expected = list(range(50))
    reference.shuffle(expected)
    assert ours == expected
    assert after == reference.random()  # consumed exactly as much randomness
