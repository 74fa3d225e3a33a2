"""The grid shortest-path training job: imle_solvers.grid_learning and `imle-solvers train-grid`.

Tiny configurations (6 x 6 maps, a CNN of width 8, one torch thread): seconds in all.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from imle_solvers import InvalidInputError
from imle_solvers.cli import main
from imle_solvers.datasets import generate_synthetic_warcraft
from imle_solvers.grid_learning import (
    ESTIMATORS,
    GridLearningConfig,
    evaluate,
    hamming_loss,
    train_grid,
    training_loss,
)


@pytest.fixture(scope="module")
def tiny_data():
    """128 training maps of 6 x 6 (train, val, test); generated, not cached."""
    train = generate_synthetic_warcraft(128, k=6, seed=3, stream="train")
    val = generate_synthetic_warcraft(16, k=6, seed=3, stream="val")
    test = generate_synthetic_warcraft(16, k=6, seed=3, stream="test")
    return train, val, test


def _tiny(**overrides) -> GridLearningConfig:
    # one thread: two threads on a busy 2-core machine ran tiny steps 10-20x slower
    options = dict(k=6, num_train=128, num_val=16, num_test=16, epochs=1, batch_size=4, width=8, lr=3e-2,
                   num_samples=16, threads=1, schedule="constant", num_examples=2)
    options.update(overrides)
    return GridLearningConfig(**options)


@pytest.mark.parametrize("estimator", ESTIMATORS)
def test_one_epoch_lowers_the_training_loss(estimator, tiny_data):
    # The training objective (Hamming loss of the sampled paths; the Fenchel-Young loss
    # for fenchel-young) on the same 128 training maps, the same batches and the same
    # noise, before and after one epoch of 32 Adam steps from the same initial weights
    # (seed 0: the model train_grid builds). Deterministic: fixed seeds, serial runner.
    # Over 3 data sets x 5 seeds the ratio after/before was at most 0.52 (imle), 0.59
    # (aimle), 0.90 (blackbox), 0.85 (straight-through), 0.79 (fenchel-young) and 0.95
    # (perturbed, whose score-function gradient is the noisiest).
    train, val, test = tiny_data
    from imle_solvers.models import WarcraftCNN

    config = _tiny(estimator=estimator)
    torch.manual_seed(config.seed)
    initial = WarcraftCNN(k=6, width=8)  # what train_grid builds first under this seed
    before = training_loss(initial, train, config, seed=123)
    result = train_grid(config, data=(train, val, test))
    after = training_loss(result.model, train, config, seed=123)
    assert after < 0.98 * before, (estimator, before, after)
    assert len(result.history) == 1 and np.isfinite(result.history[0]["loss"])


def test_train_grid_writes_metrics_pictures_and_lines(tiny_data, tmp_path):
    lines = []
    config = _tiny(epochs=2, output_dir=str(tmp_path / "run"))
    result = train_grid(config, data=tiny_data, log=lines.append)
    folder = tmp_path / "run"
    for name in ("metrics.json", "learning_curve.png", "examples.png", "model.pt"):
        assert (folder / name).is_file() and (folder / name).stat().st_size > 0, name
    for name in ("learning_curve.png", "examples.png"):
        assert (folder / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    metrics = json.loads((folder / "metrics.json").read_text())
    assert metrics["config"]["estimator"] == "imle" and metrics["config"]["epochs"] == 2
    assert [h["epoch"] for h in metrics["history"]] == [1, 2]
    assert set(metrics["history"][0]["val"]) == {"cost_optimal", "exact_match", "hamming", "num_maps"}
    assert metrics["test"] == pytest.approx(result.test)
    assert 0 <= metrics["test"]["cost_optimal"] <= 1 and metrics["test"]["num_maps"] == 16
    assert {"data", "compile", "train", "test", "files", "total"} <= set(metrics["timings"])
    # one line per epoch with loss, exact-match %, cost-optimal % and time, then the test line
    assert len(lines) == 3
    assert lines[0].startswith("epoch 1/2  loss ") and "val exact" in lines[0] and "cost-optimal" in lines[0]
    assert lines[0].endswith(" s")
    assert lines[2].startswith("test (16 maps): exact")
    # the weights reload into a fresh model with the same predictions
    from imle_solvers.models import WarcraftCNN

    model = WarcraftCNN(k=6, width=8)
    model.load_state_dict(torch.load(folder / "model.pt"))
    assert evaluate(model, tiny_data[2]) == pytest.approx(result.test)


def test_evaluate_scores_the_true_costs_as_perfect(tiny_data):
    # A "model" that returns the true costs gets 100% cost-optimal and exact paths.
    _, _, test = tiny_data
    lookup = {test.images[i].tobytes(): torch.from_numpy(test.costs[i]) for i in range(test.num_maps)}

    class Oracle(torch.nn.Module):
        def forward(self, images):
            return torch.stack([lookup[image.numpy().tobytes()] for image in images])

    metrics = evaluate(Oracle(), test)
    assert metrics == {"cost_optimal": 1.0, "exact_match": 1.0, "hamming": 0.0, "num_maps": 16}


def test_hamming_loss_counts_differing_cells():
    z = torch.tensor([[[1.0, 1.0], [0.0, 1.0]], [[0.5, 0.5], [0.5, 0.5]]])
    y = torch.tensor([[[1.0, 0.0], [0.0, 1.0]]]).expand(2, 2, 2)
    assert hamming_loss(z, y).tolist() == [1.0, 2.0]


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"estimator": "reinforce"}, "expected estimator in"),
        ({"k": 1}, "expected k to be an int >= 2"),
        ({"batch_size": 0}, "expected batch_size to be an int >= 1"),
        ({"lr": -1.0}, "expected lr to be a finite number > 0"),
        ({"lambda_": float("nan")}, "expected lambda_ to be a finite number > 0"),
        ({"runner": "gpu"}, "expected runner in"),
        ({"estimator": "perturbed", "noise": "sum-of-gamma"}, "it needs a noise density"),
        ({"original": "/no/such/folder"}, "expected original to be a folder"),
    ],
)
def test_bad_configurations_are_refused(overrides, message):
    with pytest.raises(InvalidInputError, match=message):
        _tiny(**overrides).validate()


def test_wrong_map_size_is_refused(tiny_data):
    with pytest.raises(InvalidInputError, match="expected 8 x 8 maps \\(config.k\\), but found 6 x 6 training maps"):
        train_grid(_tiny(k=8), data=tiny_data)


# --------------------------------------------------------------------------
# the command line


def test_cli_runs_a_tiny_configuration(tmp_path, capsys):
    out = tmp_path / "out"
    code = main([
        "train-grid", "--k", "6", "--estimator", "blackbox", "--lambda", "2", "--epochs", "2",
        "--train", "32", "--val", "8", "--test", "8", "--batch-size", "8", "--width", "4", "--lr", "0.01",
        "--seed", "1", "--threads", "1", "--runner", "serial", "--samples", "2", "--noise-temperature", "0.5",
        "--cache-dir", str(tmp_path / "cache"), "--output", str(out), "--no-progress",
    ])
    assert code == 0
    printed = capsys.readouterr().out.splitlines()
    assert printed[0].startswith("train-grid: blackbox on 6x6 synthetic")
    assert printed[1] == "estimator: Blackbox(lambda_=2.0)"
    assert printed[2].startswith(f"data: {tmp_path / 'cache'}")
    assert [line.split("  ")[0] for line in printed[3:5]] == ["epoch 1/2", "epoch 2/2"]
    assert printed[5].startswith("test (8 maps)")
    metrics = json.loads((out / "metrics.json").read_text())
    config = metrics["config"]
    assert (config["k"], config["estimator"], config["lambda_"], config["seed"]) == (6, "blackbox", 2.0, 1)
    assert (config["num_samples"], config["noise_temperature"], config["threads"]) == (2, 0.5, 1)
    assert metrics["data"] == {"source": "synthetic", "k": 6, "num_train": 32, "num_val": 8, "num_test": 8,
                               "steps_per_epoch": 4, "batch_size": 8}
    assert (out / "examples.png").is_file() and (out / "learning_curve.png").is_file()


def test_cli_says_which_estimator_settings_and_which_data_file_it_uses(tmp_path, capsys):
    """The job's estimator defaults differ from the library's: the first lines
    say what is used, and where the data set is cached (before generating it)."""
    code = main([
        "train-grid", "--k", "6", "--epochs", "1", "--train", "16", "--val", "0", "--test", "4",
        "--batch-size", "8", "--width", "4", "--threads", "1", "--data-dir", str(tmp_path / "maps"),
        "--output", str(tmp_path / "out"), "--no-progress",
    ])
    assert code == 0
    printed = capsys.readouterr().out.splitlines()
    assert "1 epoch of batch 8, 1 torch thread" in printed[0] and "epochs" not in printed[0]
    assert printed[1] == ("estimator: IMLE(target=PerturbedTarget(lambda_=1.0), noise=Gumbel(), "
                          "noise_temperature=1.0, num_samples=8)")
    from imle_solvers.datasets import synthetic_warcraft_cache_file

    cache_file = synthetic_warcraft_cache_file(6, seed=0, cache_dir=tmp_path / "maps")
    assert printed[2].startswith(f"data: {cache_file} ") and "--data-dir" in printed[2]
    assert [path.name for path in (tmp_path / "maps").iterdir()] == [cache_file.name]


def test_cli_help_says_why_the_estimator_defaults_differ_from_the_library(capsys):
    with pytest.raises(SystemExit):
        main(["train-grid", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "PerturbedTarget(lambda_=10) and num_samples=1; here lambda = 1 and 8 samples" in text
    assert "lambda is in the units of the costs" in text
    assert "--data-dir PATH, --cache-dir PATH" in text and "IMLE_SOLVERS_CACHE" in text


def test_one_epoch_learning_curve_has_whole_epoch_ticks_and_a_legend_clear_of_the_points():
    from imle_solvers.grid_learning.pictures import _learning_curve_figure

    for history in ([{"epoch": 1, "loss": 5.0, "val": {"cost_optimal": 0.1, "exact_match": 0.05}}],
                    [{"epoch": e, "loss": 5.0 / e, "val": {"cost_optimal": 0.2 * e, "exact_match": 0.1 * e}}
                     for e in range(1, 5)]):
        figure = _learning_curve_figure(history, "t")
        figure.canvas.draw()
        epochs = [record["epoch"] for record in history]
        for axis in figure.axes:
            low, high = axis.get_xlim()
            shown = [tick for tick in axis.get_xticks() if low <= tick <= high]
            assert shown == epochs, (shown, axis.get_xlim())
        accuracy = figure.axes[1]
        legend_box = accuracy.get_legend().get_window_extent()
        for line in accuracy.get_lines():
            for point in accuracy.transData.transform(line.get_xydata()):
                assert not legend_box.contains(*point), "the legend covers a point"


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--estimator", "magic"], "invalid choice: 'magic'"),
        (["--epochs", "0"], "argument --epochs: expected an integer >= 1, but found 0"),
        (["--lr", "fast"], "argument --lr: expected a number, but found 'fast'"),
        (["--lambda", "-3"], "argument --lambda: expected a finite number > 0"),
        (["--original", "/no/such/folder"], "expected original to be a folder"),
    ],
)
def test_cli_bad_options_give_clear_errors(argv, message, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["train-grid", *argv])
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err


def _write_original(folder, split, n, k, rng):
    """Files in the layout of the original Warcraft data set (N, H, W, 3) images."""
    data = generate_synthetic_warcraft(n, k=k, seed=rng, stream=split)
    np.save(folder / f"{split}_maps.npy", data.images.transpose(0, 2, 3, 1).copy())
    np.save(folder / f"{split}_vertex_weights.npy", data.costs.astype(np.float64))
    np.save(folder / f"{split}_shortest_paths.npy", data.paths.astype(np.float64))


def test_cli_trains_on_files_in_the_original_format(tmp_path, capsys):
    folder = tmp_path / "warcraft_shortest_path_oneskin" / "6x6"
    folder.mkdir(parents=True)
    for split, n in (("train", 24), ("val", 6), ("test", 10)):
        _write_original(folder, split, n, 6, 5)
    out = tmp_path / "out"
    code = main([
        "train-grid", "--original", str(tmp_path), "--k", "6", "--epochs", "1", "--train", "100", "--test", "8",
        "--batch-size", "8", "--width", "4", "--output", str(out), "--no-progress", "--threads", "1",
    ])
    assert code == 0
    assert "original Warcraft files" in capsys.readouterr().out
    metrics = json.loads((out / "metrics.json").read_text())
    # the first --test maps, and every training map when the file holds fewer than --train
    assert metrics["data"]["source"] == str(tmp_path)
    assert (metrics["data"]["num_train"], metrics["data"]["num_val"], metrics["data"]["num_test"]) == (24, 6, 8)
    assert metrics["test"]["num_maps"] == 8


def test_cli_reports_a_broken_original_folder(tmp_path, capsys):
    (tmp_path / "train_maps.npy").write_bytes(b"")
    code = main(["train-grid", "--original", str(tmp_path), "--k", "6", "--no-progress", "--output",
                 str(tmp_path / "out")])
    assert code == 1
    err = capsys.readouterr().err
    assert "imle-solvers train-grid: error:" in err and "train_vertex_weights.npy" in err


def test_rotation_augmentation_keeps_paths_optimal(tiny_data):
    # A rotated map's rotated label is an optimal path of the rotated costs (cost equal
    # to the labeller's optimum), and the images turn with the paths.
    from imle_solvers.datasets import grid_shortest_paths, path_cost
    from imle_solvers.grid_learning import _rotate_half

    train = tiny_data[0]
    images, paths = torch.from_numpy(train.images[:32]), torch.from_numpy(train.paths[:32]).float()
    rotated_images, rotated_paths = _rotate_half(images, paths, torch.Generator().manual_seed(0))
    turned = (rotated_paths != paths).flatten(1).any(1).numpy() | (rotated_images != images).flatten(1).any(1).numpy()
    assert 4 <= turned.sum() <= 28  # about half of the maps
    costs = train.costs[:32].copy()
    costs[turned] = costs[turned][:, ::-1, ::-1]
    assert np.allclose(path_cost(rotated_paths.numpy(), costs), path_cost(grid_shortest_paths(costs), costs))
    assert torch.equal(rotated_images[turned], images[turned].flip(-2, -1))
    assert torch.equal(rotated_images[~turned], images[~turned])


def test_augmented_training_runs(tiny_data):
    result = train_grid(_tiny(augment=True, num_val=0), data=(tiny_data[0], None, tiny_data[2]))
    assert result.history[0]["val"] is None and np.isfinite(result.history[0]["loss"])


def test_cli_size_defaults_apply_unless_an_option_is_given():
    from imle_solvers.cli import _grid_config, build_parser

    def config(*argv):
        return _grid_config(build_parser().parse_args(["train-grid", *argv]))

    assert config() == GridLearningConfig(output_dir="runs/grid")  # `make demo` keeps the 12 x 12 defaults
    large = config("--k", "30", "--model", "resnet18-trunk")
    assert (large.k, large.num_train, large.epochs, large.model) == (30, 20_000, 8, "resnet18-trunk")
    assert config("--k", "18", "--epochs", "3").epochs == 3 and config("--k", "18").epochs == 8
    with pytest.raises(SystemExit):
        main(["train-grid", "--model", "resnet18-trunk", "--width", "8"])
