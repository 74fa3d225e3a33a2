"""Oracles on a Dask cluster through client.get_executor(). Faults on Dask
(errors, killed workers, timeouts) are in tests/test_faults.py."""

import distributed  # the dev extra installs it
import numpy as np
import pytest

import imle_solvers as im
from imle_solvers.oracles import FunctionOracle
from tests import faulty


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
