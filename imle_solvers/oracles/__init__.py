"""MAP oracles: one module per problem family, an :class:`Oracle` base class.

Oracles know nothing of torch autograd; the numpy core of each works on host
arrays, and device-native ones (``topk``, ``onehot``, ``ranking``) also run
torch ops on the tensor's own device. Solver libraries (scipy, networkx,
numba, OR-Tools, cvxpy) are imported on first use, not with this package.
"""

from .base import Oracle, format_index
from .function import FunctionOracle
from .graph import ShortestPath
from .grid import ShortestPathGrid
from .ilp import ILP
from .knapsack import Knapsack
from .matching import Matching
from .ranking import Ranking
from .selection import OneHot, TopK
from .spanning_tree import SpanningTree
from .tsp import TSP

__all__ = [
    "Oracle",
    "FunctionOracle",
    "TopK",
    "OneHot",
    "Ranking",
    "Matching",
    "ShortestPath",
    "ShortestPathGrid",
    "SpanningTree",
    "Knapsack",
    "TSP",
    "ILP",
    "format_index",
]
