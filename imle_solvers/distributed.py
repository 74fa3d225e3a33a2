"""Pieces for data-parallel training with ``torch.distributed`` (DDP).

In data-parallel training each process (rank) computes the loss of a shard
of the batch. For a perturbation-based estimator to give the same step as a
single process on the whole batch, an example must get the same noise
whatever rank solves it: :class:`ShardedNoise` has every rank draw the noise
of the whole batch from the same generator (same seed, same draws) and keep
its own slice. :meth:`AdaptiveTarget.synchronize
<imle_solvers.targets.AdaptiveTarget.synchronize>` averages AIMLE's
statistics over the ranks. ``imle-solvers train-grid --nproc N`` and
``train_grid`` under ``torchrun`` use both (``docs/grid_learning.md``).
"""

from __future__ import annotations

from typing import Any

from .errors import InvalidInputError

__all__ = ["ShardedNoise"]


class ShardedNoise:
    """A noise distribution that draws for the global batch and returns one rank's shard.

    ``sample((S, b, *rest))`` draws ``noise.sample((S, world_size * b, *rest))``
    and returns entries ``rank * b`` to ``(rank + 1) * b`` of the first batch
    dimension (the dimension after the sample dimension, as every estimator
    of this package asks for ``(num_samples, *theta.shape)``). With the same
    seeded generator on every rank, rank ``r`` gets exactly the noise a
    single process would give examples ``r b .. (r + 1) b - 1`` of the
    global batch — the price is drawing ``world_size`` times the noise,
    which is cheap beside the solver. Other attributes (``neg_log_density_grad``
    for the perturbed optimizer) are the wrapped distribution's.

    Args:
        noise: the distribution (``Gumbel()``, ``SumOfGamma(k)``, ``Normal()``
            or any object with ``sample(shape, *, generator, device, dtype)``).
        rank: this process's rank, ``0 <= rank < world_size``.
        world_size: the number of processes sharing the batch.

    Example:
        >>> import torch
        >>> from imle_solvers import Gumbel
        >>> whole = Gumbel().sample((2, 6, 3), generator=torch.Generator().manual_seed(0))
        >>> shard = ShardedNoise(Gumbel(), rank=1, world_size=3).sample(
        ...     (2, 2, 3), generator=torch.Generator().manual_seed(0))
        >>> torch.equal(shard, whole[:, 2:4])
        True
    """

    def __init__(self, noise: Any, rank: int, world_size: int):
        if not callable(getattr(noise, "sample", None)):
            raise InvalidInputError(
                f"ShardedNoise: expected noise with a sample(shape, *, generator, device, dtype) method, "
                f"but found {type(noise).__name__}"
            )
        for name, value, low in (("world_size", world_size, 1), ("rank", rank, 0)):
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise InvalidInputError(f"ShardedNoise: expected {name} to be an int >= {low}, but found {value!r}")
        if rank >= world_size:
            raise InvalidInputError(f"ShardedNoise: expected rank < world_size = {world_size}, but found {rank}")
        self.noise = noise
        self.rank = rank
        self.world_size = world_size

    def sample(self, shape, *, generator=None, device=None, dtype=None):
        """This rank's slice ``(S, b, *rest)`` of the global draw ``(S, world_size * b, *rest)``."""
        shape = tuple(shape)
        if len(shape) < 2:
            raise InvalidInputError(
                f"ShardedNoise: expected a shape (num_samples, batch, ...) to shard along batch, but found {shape}"
            )
        local = shape[1]
        full = self.noise.sample((shape[0], local * self.world_size, *shape[2:]), generator=generator,
                                 device=device, dtype=dtype)
        return full[:, self.rank * local : (self.rank + 1) * local].contiguous()

    def __getattr__(self, name: str) -> Any:
        if name == "noise":  # not set yet (unpickling): no recursion
            raise AttributeError(name)
        return getattr(self.noise, name)

    def __repr__(self) -> str:
        return f"ShardedNoise({self.noise!r}, rank={self.rank}, world_size={self.world_size})"
