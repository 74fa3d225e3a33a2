"""The cost-map CNN of the Warcraft experiments."""

from __future__ import annotations

import pytest
import torch

from imle_solvers.datasets import generate_synthetic_warcraft
from imle_solvers.errors import InvalidInputError
from imle_solvers.models import WarcraftCNN


def _expected_parameter_count(width: int, num_blocks: int) -> int:
    stem = 3 * width * 7 * 7 + 2 * width  # conv (no bias) + batch norm
    block = 2 * (width * width * 3 * 3 + 2 * width)
    head = width + 1
    return stem + num_blocks * block + head


@pytest.mark.parametrize("k", [12, 18])
def test_output_shape_and_positivity(k):
    torch.manual_seed(0)
    model = WarcraftCNN(k=k)
    images = torch.randint(0, 256, (3, 3, 8 * k, 8 * k), dtype=torch.uint8)
    costs = model(images)
    assert costs.shape == (3, k, k) and costs.dtype == torch.float32
    assert (costs > 0).all()
    model.eval()
    with torch.no_grad():
        assert (model(images) > 0).all()


def test_grid_size_is_read_from_the_image_when_not_given():
    model = WarcraftCNN(width=8)
    assert model(torch.zeros(2, 3, 96, 96, dtype=torch.uint8)).shape == (2, 12, 12)
    assert model(torch.zeros(2, 3, 144, 144, dtype=torch.uint8)).shape == (2, 18, 18)
    assert WarcraftCNN(k=5, width=8)(torch.zeros(1, 3, 96, 96)).shape == (1, 5, 5)


def test_gradients_reach_every_parameter():
    torch.manual_seed(0)
    model = WarcraftCNN(k=12, width=8)
    images = torch.randint(0, 256, (4, 3, 96, 96), dtype=torch.uint8)
    model(images).square().mean().backward()
    for name, parameter in model.named_parameters():
        assert parameter.grad is not None, name
        assert torch.isfinite(parameter.grad).all() and parameter.grad.abs().sum() > 0, name


@pytest.mark.parametrize(("width", "num_blocks"), [(32, 2), (16, 1), (64, 2)])
def test_parameter_count(width, num_blocks):
    model = WarcraftCNN(k=12, width=width, num_blocks=num_blocks)
    count = sum(p.numel() for p in model.parameters())
    assert count == _expected_parameter_count(width, num_blocks)
    # The default model (width 16) has 11,745 parameters; ResNet18 has 11.7 million.
    assert sum(p.numel() for p in WarcraftCNN().parameters()) == _expected_parameter_count(16, 2) == 11_745


def test_uint8_and_float_images_agree():
    torch.manual_seed(0)
    model = WarcraftCNN(k=12, width=8).eval()
    images = torch.randint(0, 256, (2, 3, 96, 96), dtype=torch.uint8)
    with torch.no_grad():
        torch.testing.assert_close(model(images), model(images.float() / 255))
        torch.testing.assert_close(model(images), model(images.double() / 255))


def test_bad_input():
    model = WarcraftCNN(k=12, width=8)
    with pytest.raises(InvalidInputError, match=r"\(B, 3, H, W\), but found \(2, 96, 96, 3\)"):
        model(torch.zeros(2, 96, 96, 3, dtype=torch.uint8))
    with pytest.raises(InvalidInputError, match="uint8 or floating"):
        model(torch.zeros(2, 3, 96, 96, dtype=torch.int64))
    with pytest.raises(ValueError, match="pooling"):
        WarcraftCNN(pooling="median")
    with pytest.raises(ValueError, match="positive int"):
        WarcraftCNN(k=0)


def test_max_pooling_and_state_dict_round_trip():
    torch.manual_seed(0)
    model = WarcraftCNN(k=12, width=8, pooling="max", mean=(0.5, 0.5, 0.5), std=(0.25, 0.25, 0.25)).eval()
    clone = WarcraftCNN(k=12, width=8, pooling="max").eval()
    clone.load_state_dict(model.state_dict())  # the normalisation travels with the weights
    images = torch.randint(0, 256, (2, 3, 96, 96), dtype=torch.uint8)
    with torch.no_grad():
        torch.testing.assert_close(clone(images), model(images))


def test_learns_terrain_costs_from_pixels():
    """A short supervised fit (30 full-batch steps on 16 synthetic maps) ranks
    the cells of 16 held-out maps by terrain: cheap cells (road, grass) below
    expensive ones (forest, hills, water) for about 99% of the pairs, from
    about 24% before training. Seeded and deterministic."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # fast and repeatable beside other busy processes
    try:
        torch.manual_seed(0)
        train = generate_synthetic_warcraft(16, k=12, seed=1)
        held_out = generate_synthetic_warcraft(16, k=12, seed=1, stream="test")
        images, costs = torch.from_numpy(train.images), torch.from_numpy(train.costs)
        model = WarcraftCNN(k=12, width=8)
        optimiser = torch.optim.Adam(model.parameters(), lr=1e-2)

        def ranked_pairs():
            with torch.no_grad():
                predicted = model.eval()(torch.from_numpy(held_out.images))
            model.train()
            true = torch.from_numpy(held_out.costs)
            cheap, expensive = predicted[true < 2.0], predicted[true > 5.0]
            return (cheap[:, None] < expensive[None, :]).float().mean().item()

        assert ranked_pairs() < 0.5
        for _ in range(30):
            loss = (model(images) - costs).square().mean()
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
        assert ranked_pairs() > 0.95
    finally:
        torch.set_num_threads(threads)


def test_resnet18_trunk_has_the_papers_layout():
    """conv 7x7/2 (64) + BN + ReLU + max pool, ResNet18's layer1 (two 64-channel
    basic blocks), adaptive max pooling to k x k, then a 1 x 1 conv: with
    the conv's weights at 1/64 it is the original's channel mean."""
    from torch.nn import functional as F

    from imle_solvers.models import ResNet18Trunk

    torch.manual_seed(0)
    model = ResNet18Trunk(k=12).eval()
    conv = model.stem[0]
    assert (conv.in_channels, conv.out_channels, conv.kernel_size, conv.stride) == (3, 64, (7, 7), (2, 2))
    assert len(model.blocks) == 2 and all(block.conv1.in_channels == 64 for block in model.blocks)
    assert sum(p.numel() for p in model.parameters()) == _expected_parameter_count(64, 2)
    images = torch.randint(0, 256, (2, 3, 96, 96), dtype=torch.uint8)
    with torch.no_grad():
        model.head.weight.fill_(1 / 64)
        model.head.bias.zero_()
        features = model.blocks(model.stem(model.normalise(images)))  # (2, 64, 24, 24)
        assert features.shape == (2, 64, 24, 24)
        expected = F.softplus(F.adaptive_max_pool2d(features, (12, 12)).mean(dim=1))
        torch.testing.assert_close(model(images), expected)
        # the order matters: pooling after the 1 x 1 conv (PyEPO's) gives other costs
        assert not torch.allclose(F.softplus(F.adaptive_max_pool2d(model.head(features), (12, 12)).squeeze(1)),
                                  expected)
