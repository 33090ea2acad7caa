"""PGD-AT (Madry et al. 2018) of PreAct ResNet-18 on CIFAR-10 at eps 8/255,
as "Overfitting in adversarially robust deep learning" (Rice, Wong and
Kolter, ICML 2020) trains it: PGD-10 with step 2/255, SGD 0.1 dropped x0.1
at epoch 100 and x0.01 at 150 of 200, weight decay 5e-4, the best epoch
kept (early stopping).

Should reproduce: RobustBench lists Rice et al.'s early-stopped PGD-AT only
for WideResNet-34-20 (85.34% clean, 53.42% AutoAttack; entry
Rice2020Overfitting); for PreAct ResNet-18 the paper gives robust test
error, not an AutoAttack figure, so this preset's own run is the figure.

    advmask-train --config=configs/cifar10_pgd_at.py --workdir=runs/c10_pgd_at
"""

from advmask_tf.configs_lib import cifar10_paper_base


def get_config():
    return cifar10_paper_base("preact_resnet18", width=64)
