"""Oracles on a Dask cluster through client.get_executor()."""

import numpy as np
import pytest

import imle_solvers as im
from imle_solvers.oracles import FunctionOracle
from tests import faulty

distributed = pytest.importorskip("distributed")


@pytest.fixture(scope="module")
def client():
    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None)
    client = distributed.Client(cluster)
    yield client
    client.close()
    cluster.close()


def test_dask_executor_matches_serial(client, rng):
    theta = rng.normal(size=(3, 7, 5))
    executor = client.get_executor()
    runner = im.ExecutorRunner(executor, adaptive=False)
    assert runner.workers == 2
    for oracle in (im.get_oracle("topk", k=2), FunctionOracle(faulty.sign, name="sign")):
        expected = oracle(theta)
        np.testing.assert_array_equal(oracle.configure(runner=runner)(theta), expected)
    # get_oracle accepts the executor directly
    np.testing.assert_array_equal(im.get_oracle("onehot", runner=executor)(theta), im.get_oracle("onehot")(theta))


def test_dask_solver_error_names_the_index(client, rng):
    theta = rng.normal(size=(10, 4))
    theta[6, 0] = faulty.RAISE_TRIGGER
    oracle = FunctionOracle(faulty.raises, name="raiser").configure(runner=im.ExecutorRunner(client.get_executor(), adaptive=False))
    with pytest.raises(im.OracleError, match=r"batch index \(6,\)") as info:
        oracle(theta)
    assert isinstance(info.value.__cause__, ZeroDivisionError)
