"""Test-only plugin: an argmin oracle registered through an entry point."""

import numpy as np

from imle_solvers import Oracle

LOADED = True


class LoopbackArgmin(Oracle):
    """One-hot argmin of a cost vector (sense "min"), ties to the lowest index."""

    name = "loopback_argmin"
    sense = "min"
    event_ndim = 1
    backend = "plugin"

    def solve_chunk(self, theta):
        z = np.zeros(theta.shape)
        z[np.arange(theta.shape[0]), np.argmin(theta, axis=1)] = 1.0
        return z
