"""What this machine trains on, and the settings that follow from it.

`train.precision` and `train.jit_compile` default to "auto": mixed float16
and XLA on a single GPU with tensor cores, float32 and plain TensorFlow on
the CPU (XLA was slower than plain TensorFlow on the CPUs measured here)
and with several replicas.

>>> cpu = Accelerator(kind="cpu", name="AMD EPYC", count=1)
>>> resolve_precision("auto", cpu), resolve_jit_compile("auto", cpu, 1)
('float32', False)
>>> gpu = Accelerator(kind="gpu", name="NVIDIA A100", count=1,
...                   compute_capability=(8, 0))
>>> resolve_precision("auto", gpu), resolve_jit_compile("auto", gpu, 1)
('mixed_float16', True)
"""

from __future__ import annotations

import dataclasses
import functools
import platform

from advmask_tf.errors import InputError

PRECISIONS = ("float32", "mixed_float16", "mixed_bfloat16")
PRECISION_SETTINGS = ("auto",) + PRECISIONS
JIT_SETTINGS = ("auto", "on", "off")
# Tensor cores (float16 matrix units) arrived with Volta, compute capability 7.0.
TENSOR_CORE_CAPABILITY = (7, 0)


@dataclasses.dataclass(frozen=True)
class Accelerator:
    """The device kind training runs on: "gpu" or "cpu", its model name,
    how many there are, and a GPU's compute capability."""

    kind: str
    name: str
    count: int
    compute_capability: tuple | None = None

    @property
    def has_tensor_cores(self) -> bool:
        return (self.kind == "gpu" and self.compute_capability is not None
                and tuple(self.compute_capability) >= TENSOR_CORE_CAPABILITY)

    def describe(self) -> str:
        """e.g. "1 x NVIDIA A100 (compute capability 8.0)" or "CPU: AMD EPYC"."""
        if self.kind == "cpu":
            return f"CPU: {self.name}"
        capability = (f" (compute capability "
                      f"{'.'.join(map(str, self.compute_capability))})"
                      if self.compute_capability else "")
        return f"{self.count} x {self.name}{capability}"


@functools.lru_cache(maxsize=None)
def cpu_model() -> str:
    """The CPU's model name from /proc/cpuinfo; the architecture when it
    is not known."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.machine() or "unknown CPU"


def local_accelerator() -> Accelerator:
    """The GPUs TensorFlow sees on this host, or the CPU when it sees none."""
    import tensorflow as tf

    gpus = tf.config.list_physical_devices("GPU")
    if not gpus:
        return Accelerator(kind="cpu", name=cpu_model(), count=1)
    details = tf.config.experimental.get_device_details(gpus[0])
    return Accelerator(kind="gpu", name=details.get("device_name", "GPU"),
                       count=len(gpus),
                       compute_capability=details.get("compute_capability"))


def check_setting(field: str, value, accepted: tuple) -> None:
    if value not in accepted:
        raise InputError(f"{field} must be one of {accepted}; received "
                         f"{value!r}.")


def resolve_precision(setting: str, accelerator: Accelerator | None = None
                      ) -> str:
    """The dtype policy for `train.precision`: "auto" is mixed_float16 on
    GPUs with tensor cores and float32 elsewhere; others are kept."""
    check_setting("train.precision", setting, PRECISION_SETTINGS)
    if setting != "auto":
        return setting
    accelerator = accelerator or local_accelerator()
    return "mixed_float16" if accelerator.has_tensor_cores else "float32"


def resolve_jit_compile(setting: str, accelerator: Accelerator | None = None,
                        replicas: int = 1) -> bool:
    """Whether `compile` asks for XLA: "auto" is on for one GPU replica
    only (off on the CPU, where XLA was slower, and with several replicas,
    where the per-sample state's updates are not XLA-compiled)."""
    check_setting("train.jit_compile", setting, JIT_SETTINGS)
    if setting != "auto":
        return setting == "on"
    accelerator = accelerator or local_accelerator()
    return accelerator.kind == "gpu" and int(replicas) == 1
