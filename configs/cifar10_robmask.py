"""RobMask (adversarial masking) of ResNet-18 on CIFAR-10: each training
image gets a strength from {0, 2, 4, 6, 8}/255, is attacked at it while
the network is told it, and trained on the clean cross-entropy (told 0)
plus the adversarial one; masking layers make batch norm's rescaling from
an orthogonal encoding of the strength. The schedule is the shared
PGD-AT one (200 epochs, drops at 100 and 150).

Should reproduce: the paper's CIFAR-10 figures are PGD figures we could
not check against a leaderboard; this preset's own run is the figure.
"""

from advmask_tf.configs_lib import cifar10_paper_base


def get_config():
    config = cifar10_paper_base("resnet18", width=64)
    config.method.name = "mixed"
    config.radius.policy = "sampled"
    config.radius.strengths = tuple(k / 255 for k in (0, 2, 4, 6, 8))
    config.model.norm = "masking"
    config.model.masking.encoding = "orthogonal"
    config.model.masking.encoding_dim = 16
    return config
