"""KerasTuner searches of the robustness/accuracy trade-off (advmask-tune).

`AdversarialHyperModel` turns hyper-parameters into an experiment config
(`config.tune` says what varies), `AdversarialTuner` runs each trial as an
advmask-train run judged on the validation split, `objectives.score` is what
it maximises, and `pareto_front` / `search` report the clean/robust front.
"""

from advmask_tf.tuning.objectives import OBJECTIVES, score
from advmask_tf.tuning.pareto import pareto_front, trial_number
from advmask_tf.tuning.search import AdversarialTuner, make_tuner, search
from advmask_tf.tuning.space import AdversarialHyperModel

__all__ = [
    "OBJECTIVES",
    "AdversarialHyperModel",
    "AdversarialTuner",
    "make_tuner",
    "pareto_front",
    "score",
    "search",
    "trial_number",
]
