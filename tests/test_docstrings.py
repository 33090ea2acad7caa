"""The examples in public docstrings run and print what they say."""

import doctest
import importlib
import pkgutil

import pytest

import advmask_tf

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
