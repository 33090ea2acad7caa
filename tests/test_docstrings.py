"""The examples in public docstrings run and print what they say, and the
documentation site builds."""

import doctest
import importlib
import os
import pkgutil
import subprocess
import sys

import pytest

import advmask_tf

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

MODULES = sorted(
    info.name for info in pkgutil.walk_packages(advmask_tf.__path__,
                                                "advmask_tf.")
    # The apps define absl flags on import; their shared helpers do not.
    if not info.name.startswith("advmask_tf.cli")
    or info.name == "advmask_tf.cli.common")


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS
                             | doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0, f"{result.failed} example(s) failed in {name}"


def test_the_documentation_site_builds_with_warnings_as_errors(tmp_path):
    # MkDocs with mkdocstrings, offline: a broken link, a page missing from
    # the navigation's files or a docstring it cannot render fails here.
    result = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir",
         str(tmp_path / "site")], cwd=REPO, capture_output=True, text=True,
        timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    with open(tmp_path / "site" / "evaluation" / "index.html") as f:
        page = f.read()
    for name in ("deterministic", "large_eps", "more_steps", "black_box",
                 "logit_scale"):  # the anchors the check warnings link to
        assert f'id="check-{name}"' in page, name
