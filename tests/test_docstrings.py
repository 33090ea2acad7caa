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


def _documents():
    paths = [os.path.join(REPO, "README.md")] + sorted(
        os.path.join(REPO, "docs", name)
        for name in os.listdir(os.path.join(REPO, "docs"))
        if name.endswith(".md"))
    for path in paths:
        with open(path) as f:
            yield os.path.relpath(path, REPO), f.read()


def _resolves(dotted: str) -> bool:
    parts = dotted.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            target = importlib.import_module(".".join(parts[:cut]))
        except ImportError:
            continue
        try:
            for attribute in parts[cut:]:
                target = getattr(target, attribute)
        except AttributeError:
            return False
        return True
    return False


def test_every_python_name_the_docs_give_imports():
    import re

    missing = []
    for path, text in _documents():
        for module, listed, inline in re.findall(
                r"from (advmask_tf[\w.]*) import (?:\(([^)]*)\)|([\w, ]+))",
                text):
            names = listed or inline
            for name in filter(None, (n.strip() for n in names.split(","))):
                if not _resolves(f"{module}.{name}"):
                    missing.append(f"{path}: from {module} import {name}")
        for dotted in re.findall(r"`(advmask_tf(?:\.\w+)+)", text):
            if not _resolves(dotted):
                missing.append(f"{path}: {dotted}")
    assert not missing, missing
