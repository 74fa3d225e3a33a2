"""Data-parallel grid training (torch.distributed, gloo on CPU): 2 processes
with half a batch each take the same steps as 1 process with the whole batch.

The module spawns 2 processes twice (10-20 s in all on 2 idle cores, most of it
importing torch; marked slow)."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import pytest
import torch
from torch import nn
from torch.nn import functional as F

from imle_solvers.datasets import generate_synthetic_warcraft
from imle_solvers.grid_learning import GridLearningConfig, train_grid

K = 4
ESTIMATORS = ("imle", "aimle", "fenchel-young")


class NoNormCNN(nn.Module):
    """A cost network without batch norm (batch norm differs per shard by design)."""

    def __init__(self, k: int = K):
        super().__init__()
        self.k = k
        self.conv = nn.Conv2d(3, 6, kernel_size=4, stride=4)
        self.head = nn.Conv2d(6, 1, kernel_size=1)

    def forward(self, images):
        x = F.relu(self.conv(images.float() / 255.0))  # (B, 6, 8, 8)
        x = F.adaptive_avg_pool2d(self.head(x), (self.k, self.k))
        # Costs in (8, 12): perturbed costs are (almost) never clamped at zero, where cells would
        # tie exactly and a last-bit difference could break the tie differently on one rank; and
        # tanh keeps the gradient alive (a saturated softplus left it at 1e-8, where Adam's
        # normalised step turns rounding into steps of the full learning rate).
        return 10.0 + 2.0 * torch.tanh(x.squeeze(1))  # (B, k, k)


def _data():
    return (generate_synthetic_warcraft(32, k=K, seed=7, stream="train"), None,
            generate_synthetic_warcraft(4, k=K, seed=7, stream="test"))


def _config(estimator: str) -> GridLearningConfig:
    # 2 epochs of 4 steps of 8 maps; a constant learning rate keeps the steps large
    return GridLearningConfig(k=K, estimator=estimator, epochs=2, num_train=32, num_val=0, num_test=4,
                              batch_size=8, num_samples=3, lr=0.05, schedule="constant", threads=1,
                              augment=True)


def _train_all(data) -> dict:
    """Train every estimator from the same initial network; parameters and target buffers."""
    out = {}
    for estimator in ESTIMATORS:
        torch.manual_seed(0)
        result = train_grid(_config(estimator), data=data, model=NoNormCNN())
        buffers = {name: value.clone() for name, value in result.estimator.named_buffers()}
        out[estimator] = {"params": {n: p.detach().clone() for n, p in result.model.state_dict().items()},
                          "buffers": buffers, "loss": [r["loss"] for r in result.history]}
    return out


def _rank(rank: int, world: int, rendezvous: str, folder: str) -> None:
    import torch.distributed as dist

    dist.init_process_group("gloo", init_method=rendezvous, rank=rank, world_size=world)
    try:
        torch.save(_train_all(_data()), Path(folder) / f"rank{rank}.pt")
    finally:
        dist.destroy_process_group()


@pytest.fixture(scope="module")
def two_ranks():
    """Each rank trains every estimator under a 2-process group (the torchrun path of train_grid)."""
    import torch.multiprocessing as mp

    with tempfile.TemporaryDirectory() as folder:
        mp.start_processes(_rank, args=(2, f"file://{folder}/rendezvous", folder), nprocs=2, join=True,
                           start_method="spawn")
        yield [torch.load(Path(folder) / f"rank{rank}.pt") for rank in range(2)]


@pytest.fixture(scope="module")
def one_process():
    return _train_all(_data())


@pytest.mark.slow
@pytest.mark.parametrize("estimator", ESTIMATORS)
def test_two_processes_with_half_batches_take_the_single_process_steps(estimator, two_ranks, one_process):
    single = one_process[estimator]
    for rank, ranks in enumerate(two_ranks):
        trained = ranks[estimator]
        for name, value in single["params"].items():
            torch.testing.assert_close(trained["params"][name], value, rtol=1e-4, atol=1e-5,
                                       msg=f"rank {rank}, {name}")
        assert trained["loss"] == pytest.approx(single["loss"], rel=1e-5)
    # the training moved every parameter: the comparison is not between two untouched networks
    torch.manual_seed(0)
    for name, value in NoNormCNN().state_dict().items():
        assert (value - single["params"][name]).abs().max() > 0.02, name


@pytest.mark.slow
def test_adaptive_target_state_is_the_same_on_every_rank_and_equals_one_process(two_ranks, one_process):
    single = one_process["aimle"]["buffers"]
    assert set(single) == {"target.beta", "target.nonzeros"}
    for name, value in single.items():
        assert torch.equal(two_ranks[0]["aimle"]["buffers"][name], two_ranks[1]["aimle"]["buffers"][name]), name
        torch.testing.assert_close(two_ranks[0]["aimle"]["buffers"][name], value, rtol=1e-6, atol=0)
    assert float(single["target.beta"]) != 1.0  # beta was adapted


@pytest.mark.slow
def test_cli_trains_with_two_processes(tmp_path, capsys):
    from imle_solvers.cli import main

    out = tmp_path / "out"
    code = main(["train-grid", "--k", "4", "--nproc", "2", "--epochs", "1", "--train", "16", "--val", "4",
                 "--test", "4", "--batch-size", "8", "--width", "4", "--threads", "1", "--samples", "2",
                 "--data-dir", str(tmp_path / "maps"), "--output", str(out), "--no-progress"])
    assert code == 0
    printed = capsys.readouterr().out
    assert "2 processes of 4 maps each" in printed
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["data"]["processes"] == 2 and metrics["data"]["batch_size"] == 8
    assert len(metrics["history"]) == 1 and metrics["history"][0]["val"]["num_maps"] == 4
    assert (out / "model.pt").is_file()


def test_batch_not_divisible_by_the_processes_is_refused(capsys):
    from imle_solvers.cli import main

    with pytest.raises(SystemExit):
        main(["train-grid", "--nproc", "3", "--batch-size", "32"])
    assert "divisible" in capsys.readouterr().err
