"""Every registered part, norm and attack passes the same checks (every
model: tests/test_models.py).

The lists come from the registries at collection time, so a part
registered by a new module is checked without touching this file; a part
registered in a test alone (tests/test_extending.py) runs through
`check_part` there.
"""

import dataclasses
import os

import keras
import numpy as np
import pytest
import tensorflow as tf
from conftest import REPO, tiny

from advmask_tf import runs
from advmask_tf.attacks import ATTACKS, AttackBudgets, budget_fields
from advmask_tf.attacks.registry import build_attacks
from advmask_tf.config_reference import reference_markdown
from advmask_tf.configs_lib import (
    PART_SECTIONS,
    base_config,
    name_field,
    tunable_options,
)
from advmask_tf.errors import InputError
from advmask_tf.models import build_model
from advmask_tf.models.normalization import NORMS
from advmask_tf.options import declared
from advmask_tf.training import AdversarialModel
from advmask_tf.tuning.space import searched_ranges

PARTS = [(section, name) for section, (registry, _) in PART_SECTIONS.items()
         for name in registry.names()]
# Values one of which each declared range refuses.
PROBES = (-1e9, 1e9, float("nan"), -1, 10**9, "?", ("?",), (-1.0,))


def refused_value(option):
    """A value the option's declaration refuses, or None if none of the
    probes is refused (free text)."""
    for probe in PROBES:  # of the field's type: a ConfigDict keeps types
        same_type = type(probe) is type(option.default) or (
            type(probe) is int and type(option.default) is float)
        if same_type and option.accepts is not None and \
                not option.accepts(probe):
            return probe
    return None


def configured_for(section, name):
    """A tiny config that uses the part `name` of `section`."""
    registry, _ = PART_SECTIONS[section]
    config = tiny({f"{section}.{name_field(registry)}": name})
    if name == "sampled":  # a range needs high > low (0: attack.eps)
        config.radius.high = 0.0
    if getattr(registry.get(name), "needs_told_network", False):
        config.model.norm = "split_batchnorm"
    return config


def check_part(section, name):
    """The checks every part of a part section passes: it subclasses its
    contract, its get_config rebuilds it, each option it declares is a
    config field at its declared default, each range is checked naming the
    field, and each tunable option can be searched for it."""
    registry, _ = PART_SECTIONS[section]
    factory = registry.get(name)
    assert issubclass(factory, registry.base)
    assert factory.__doc__, f"{name} has no docstring"
    config = configured_for(section, name)
    runs.check_config(config)
    part = registry.build(runs.part_spec(registry, name, config))
    assert part.name == name
    rebuilt = registry.build(part.get_config())
    assert rebuilt.get_config() == part.get_config()
    base = base_config()
    for option in declared(factory.Options):
        if not option.in_config:
            continue
        assert base[section][option.name] == option.default, option.name
        bad = refused_value(option)
        if bad is not None:
            config = configured_for(section, name)
            config[section][option.name] = bad
            with pytest.raises(InputError, match=rf"{section}\.{option.name}"
                               r" must be .*; received"):
                runs.check_config(config)
        if option.tune is not None:
            assert option.name in tunable_options()
            searched = {r.name: r for r in searched_ranges()}[option.name]
            assert name in searched.parts
            assert base.tune[option.name] == ()
    assert f"'{name}'" in reference_markdown()


@pytest.mark.parametrize("section, name", PARTS)
def test_every_part_declares_checks_and_rebuilds_its_options(section, name):
    check_part(section, name)


ARGUMENTS = {"method": "objective", "radius": "radius",
             "weighting": "weighting"}


def part_arguments(section, name) -> dict:
    """AdversarialModel's arguments for the part, its state acting from
    the first step (no warm-up or burn-in)."""
    spec = runs.part_spec(PART_SECTIONS[section][0], name,
                          configured_for(section, name))
    if name == "gairat":
        spec["burn_in_epochs"] = 0
    if name == "adaptive":
        # The authors' rule: a second probe attack and the clean
        # correctness on top of the paper rule's table updates.
        spec.update(warmup_epochs=0, rule="authors_code")
    return {ARGUMENTS[section]: spec}


def _trained_alike(parts):
    """The entries whose model is the same (a registry's default part is
    Madry's model): one replica run covers them all."""
    groups = {}
    for section, name in parts:
        model = {"objective": "madry", "radius": "fixed",
                 "weighting": "uniform", **part_arguments(section, name)}
        key = repr(sorted((k, repr(v)) for k, v in model.items()))
        groups.setdefault(key, []).append((section, name))
    return [pytest.param(group[0], id="+".join(f"{s}-{n}" for s, n in group))
            for group in groups.values()]


@pytest.mark.parametrize("entry", _trained_alike(PARTS))
def test_every_part_trains_alike_on_one_and_two_replicas(
        entry, fashion_slice, float64, replica_pair):
    section, name = entry
    # Two steps of 32 images: the second step sees the state (IAAT's radii,
    # GAIRAT's weights) and the weights the first one left.
    x, y = fashion_slice(64, dtype=np.float64)
    keras.utils.set_random_seed(0)

    factory = PART_SECTIONS[section][0].get(name)
    told = getattr(factory, "needs_told_network", False)

    def network():
        return build_model("small_cnn", (28, 28, 1), 10, width=2,
                           dense_units=8,
                           norm="split_batchnorm" if told
                           else "sync_batchnorm")

    # A frozen guide (HAT's helper) is given; replica_pair starts it, like
    # a trained one, from the network's initial weights.
    guide = network() if getattr(factory, "guide", None) == "frozen" else None
    initial = network().get_weights()
    (one, one_logs), (two, two_logs) = replica_pair(
        lambda: AdversarialModel(network(), attack={"eps": 0.1, "steps": 1,
                                                    "step_size": 0.1},
                                 num_examples=len(y),
                                 guide=guide and network(),
                                 **part_arguments(section, name)),
        initial, x, y)
    # Every trained network (LBGAT's guide too) moved alike.
    for one_net, two_net in zip(one.trained_networks, two.trained_networks):
        for a, b in zip(one_net.weights, two_net.weights):
            np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-7,
                                       atol=1e-9, err_msg=a.path)
    assert one_logs.keys() == two_logs.keys()
    for key in one_logs:
        np.testing.assert_allclose(one_logs[key], two_logs[key], rtol=1e-7,
                                   atol=1e-9, err_msg=key)
    # Trained: the weights moved.
    assert any(not np.allclose(w, v.numpy())
               for w, v in zip(initial, one.network.weights))
    # Per-example state is updated alike from every replica.
    for kind in ("radius", "weighting"):
        table = getattr(one, kind).table
        if table is not None:
            np.testing.assert_allclose(getattr(two, kind).table.numpy(),
                                       table.numpy(), rtol=1e-7, atol=1e-9,
                                       err_msg=kind)


def test_parts_sharing_an_option_declare_it_alike():
    # TRADES and MART share method.beta; every block derives without a
    # conflicting declaration, and each part's options are in its block.
    config = base_config()
    for section, (registry, _) in PART_SECTIONS.items():
        for name in registry.names():
            for option in declared(registry.get(name).Options):
                if option.in_config:
                    assert option.name in config[section]


@pytest.mark.parametrize("name", sorted(ATTACKS.names()))
def test_every_attack_runs_reports_its_budgets_and_keeps_its_promise(
        name, fashion_slice):
    x, y = fashion_slice(8, split="test")
    keras.utils.set_random_seed(0)
    network = build_model("small_cnn", (28, 28, 1), 10, width=2,
                          dense_units=8)
    small = AttackBudgets(pgd_steps=2, cw_steps=2, apgd_steps=2,
                          apgd_targets=2, fab_steps=2, square_queries=4)
    (attack,) = build_attacks(name, 0.1, small).values()
    assert attack.eps == 0.1 and isinstance(attack.uses_gradients, bool)
    # An ensemble (AutoAttack's versions) runs stage by stage.
    stages = attack.stages().values() if hasattr(attack, "stages") else [
        attack]
    fooled = np.zeros(8, bool)
    for stage in stages:
        assert stage.eps == 0.1
        fooled |= np.asarray(stage.fooled(network, tf.constant(x),
                                          tf.constant(y)))
    assert fooled.shape == (8,) and fooled.dtype == bool
    # Points the network already gets wrong count as fooled.
    wrong = np.argmax(network(x), -1) != y
    assert np.all(fooled[wrong])
    fields = {f.name for f in dataclasses.fields(AttackBudgets)}
    assert set(budget_fields(name)) <= fields
    assert f"'{name}'" in reference_markdown()


@pytest.mark.parametrize("norm", NORMS)
def test_every_norm_builds_saves_and_is_a_config_choice(norm, tmp_path):
    config = tiny({"model.norm": norm})
    runs.check_config(config)
    options = runs.norm_options(config)
    network = build_model("small_cnn", (28, 28, 1), 10, width=2,
                          dense_units=8, norm=norm, norm_options=options)
    path = str(tmp_path / "net.keras")
    network.save(path)
    again = keras.models.load_model(path)
    x = np.random.default_rng(0).random((2, 28, 28, 1), np.float32)
    inputs = x if options is None else {"image": x,
                                        "eps": np.zeros(2, np.float32)}
    np.testing.assert_allclose(again(inputs), network(inputs), atol=1e-5)
    assert f"'{norm}'" in reference_markdown()


def test_the_config_reference_in_the_docs_is_current():
    with open(os.path.join(REPO, "docs", "config-reference.md")) as f:
        assert f.read() == reference_markdown(), (
            "regenerate it: python scripts/config_reference.py")
