import pickle

import numpy as np
import pytest

import imle_solvers as im
from imle_solvers import registry


@pytest.fixture
def clean_registry():
    saved = dict(registry._REGISTRY)
    yield
    registry._REGISTRY.clear()
    registry._REGISTRY.update(saved)


class Argmin(im.Oracle):
    sense = "min"

    def solve(self, theta):
        z = np.zeros_like(theta)
        z[np.argmin(theta)] = 1
        return z


def argmin_fn(costs):
    z = np.zeros_like(costs)
    z[np.argmin(costs)] = 1
    return z


def test_builtins_are_listed_sorted():
    names = im.available_oracles()
    assert names == sorted(names)
    assert {"topk", "onehot"} <= set(names)


def test_register_as_call_and_decorator(clean_registry):
    assert im.register_oracle("argmin_call", Argmin) is Argmin

    @im.register_oracle("argmin_deco")
    class Deco(Argmin):
        pass

    assert isinstance(Deco(), Argmin)  # the decorator returns the class unchanged
    for name in ("argmin_call", "argmin_deco"):
        oracle = im.get_oracle(name)
        assert oracle.name == name
        np.testing.assert_array_equal(oracle(np.array([[2.0, 1.0, 3.0]])), [[0, 1, 0]])
    assert {"argmin_call", "argmin_deco"} <= set(im.available_oracles())


def test_register_plain_function(clean_registry):
    im.register_oracle("argmin_fn", argmin_fn, sense="min")
    oracle = im.get_oracle("argmin_fn")
    assert oracle.sense == "min"
    np.testing.assert_array_equal(oracle(np.array([[3.0, 1.0], [0.0, 2.0]])), [[0, 1], [1, 0]])

    @im.register_oracle("argmax_fn", sense="max", event_ndim=2)
    def argmax2d(theta):
        z = np.zeros_like(theta)
        z[np.unravel_index(np.argmax(theta), theta.shape)] = 1
        return z

    out = im.get_oracle("argmax_fn")(np.arange(12.0).reshape(2, 2, 3))
    assert out.shape == (2, 2, 3) and out.sum() == 2 and out[0, 1, 2] == 1


def test_function_without_sense_is_a_factory_and_says_so(clean_registry):
    im.register_oracle("not_a_factory", argmin_fn)
    with pytest.raises(TypeError, match="sense="):
        im.get_oracle("not_a_factory")


def test_duplicate_name_refused_unless_overwrite(clean_registry):
    im.register_oracle("dup", Argmin)
    with pytest.raises(ValueError, match="already registered"):
        im.register_oracle("dup", Argmin)
    im.register_oracle("dup", argmin_fn, sense="min", overwrite=True)
    assert isinstance(im.get_oracle("dup"), im.FunctionOracle)


@pytest.mark.parametrize("bad", [None, "", 3])
def test_bad_name_is_a_type_error(bad, clean_registry):
    with pytest.raises(TypeError):
        im.register_oracle(bad, Argmin)


def test_bad_factory_is_a_type_error(clean_registry):
    with pytest.raises(TypeError, match="expected an Oracle class"):
        im.register_oracle("x", 42)


def test_unknown_name_lists_and_suggests():
    with pytest.raises(im.OracleNotFoundError) as info:
        im.get_oracle("top_k")
    message = str(info.value)
    assert "Did you mean 'topk'?" in message
    assert "onehot" in message
    assert isinstance(info.value, KeyError)
    assert info.value.__suppress_context__


def test_unknown_name_without_close_match():
    with pytest.raises(im.OracleNotFoundError, match="no oracle named 'zzzzzz'. Available"):
        im.get_oracle("zzzzzz")


def test_entry_point_plugin_is_loaded_lazily():
    import sys

    assert "loopback_argmin" in im.available_oracles()
    oracle = im.get_oracle("loopback_argmin")
    assert "imle_solvers_loopback" in sys.modules
    assert oracle.sense == "min"
    np.testing.assert_array_equal(oracle(np.array([[2.0, 0.5, 1.0]])), [[0, 1, 0]])


def test_broken_plugin_is_reported_with_its_entry_point():
    with pytest.raises(im.OracleNotFoundError, match="plugin oracle 'loopback_broken'.*could not be loaded") as info:
        im.get_oracle("loopback_broken")
    assert isinstance(info.value.__cause__, AttributeError)
    assert im.get_oracle("loopback_argmin").sense == "min"  # the rest of the registry still works


def _default_options(name):
    from tests.test_conformance import CASES  # built-ins that need options (graphs, k) have a case there

    return CASES[name].options if name in CASES else {}


def test_every_registered_oracle_pickles():
    import cloudpickle

    # Built-ins and plugins pickle by reference; oracles registered at run time
    # (doctests, notebooks) may hold functions only cloudpickle can carry, which
    # is what the process runners use.
    for name in im.available_oracles():
        if name == "loopback_broken":
            continue
        oracle = im.get_oracle(name, **_default_options(name))
        dumps = pickle.dumps if name in registry._BUILTINS or name.startswith("loopback") else cloudpickle.dumps
        clone = pickle.loads(dumps(oracle))
        assert type(clone) is type(oracle) and clone.name == oracle.name and clone.sense == oracle.sense


def test_oracles_with_runner_pickle_without_the_pool():
    oracle = im.get_oracle("topk", k=1, runner="threads")
    clone = pickle.loads(pickle.dumps(oracle))
    assert isinstance(clone.runner, im.SerialRunner)


# ---------------------------------------------------------------------- #
# Wrong, missing and misspelled options
# ---------------------------------------------------------------------- #
def test_misspelled_option_names_the_oracle_its_options_and_the_closest():
    with pytest.raises(im.InvalidInputError) as info:
        im.get_oracle("shortest_path_grid", neighbourhod=4)
    message = str(info.value)
    assert message.startswith("oracle 'shortest_path_grid': unknown option 'neighbourhod' "
                              "(did you mean 'neighbourhood'?)"), message
    assert "neighbourhood=8" in message and "negative='raise'" in message and "backend='numba'" in message
    assert "runner='serial', timeout=None" in message
    assert info.value.oracle == "shortest_path_grid"


def test_us_spelling_of_neighbourhood_is_accepted():
    costs = np.array([[1.0, 9.0, 1.0], [1.0, 9.0, 1.0], [9.0, 1.0, 1.0]])
    us = im.get_oracle("shortest_path_grid", neighborhood=4)
    np.testing.assert_array_equal(us(costs), im.get_oracle("shortest_path_grid", neighbourhood=4)(costs))
    assert us.neighbourhood == 4
    with pytest.raises(im.InvalidInputError, match="disagree"):
        im.get_oracle("shortest_path_grid", neighbourhood=4, neighborhood=8)


def test_missing_required_options_are_listed():
    with pytest.raises(im.InvalidInputError, match=r"oracle 'shortest_path': missing required options 'graph', "
                                                   r"'source' and 'target'\. Its options \(with defaults\): graph "
                                                   r"\(required\), source \(required\), target \(required\), "
                                                   r"backend='numba'"):
        im.get_oracle("shortest_path")
    with pytest.raises(im.InvalidInputError, match=r"oracle 'topk': missing required option 'k'"):
        im.get_oracle("topk")


def test_per_call_data_given_as_an_option_says_where_it_goes():
    with pytest.raises(im.InvalidInputError) as info:
        im.get_oracle("knapsack", weights=np.ones(3))
    assert ("'weights' is not an option: weights and capacity are passed with each call: "
            "oracle(theta, weights=..., capacity=...)") in str(info.value)
    assert "backend='auto'" in str(info.value)


def test_options_of_an_oracle_without_options_and_of_a_registered_function(clean_registry):
    with pytest.raises(im.InvalidInputError, match=r"oracle 'onehot': unknown option 'k'\. It takes no options"):
        im.get_oracle("onehot", k=2)
    im.register_oracle("argmin_fn_opts", argmin_fn, sense="min")
    with pytest.raises(im.InvalidInputError, match=r"oracle 'argmin_fn_opts': unknown option 'k'"):
        im.get_oracle("argmin_fn_opts", k=2)


def test_precise_errors_for_topk_k_zero_and_ilp_upper_none():
    with pytest.raises(im.InvalidInputError, match=r"oracle 'topk': expected k to be a positive int .* k=0"):
        im.get_oracle("topk", k=0)
    with pytest.raises(im.InvalidInputError, match=r"oracle 'ilp': expected upper to be an integer or an \(n,\) "
                                                   r"array of integers, but found upper=None; .*upper=np\.inf"):
        im.get_oracle("ilp", upper=None)


# ---------------------------------------------------------------------- #
# imle-solvers oracles [NAME]
# ---------------------------------------------------------------------- #
def test_cli_shows_one_oracles_options_data_and_complexity(capsys):
    from imle_solvers.cli import main

    assert main(["oracles", "knapsack"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("knapsack\n")
    assert ("get_oracle('knapsack', backend='auto', dp_max_cells=50000000.0, time_limit=None, num_workers=1, dims=None, "
            "bb_node_limit=200000)") in out
    assert "weights (1-d per instance, required), capacity (scalar per instance, required): " \
           "oracle(theta, weights=..., capacity=...)" in out
    assert "O(n C)" in out and "runner='serial', timeout=None" in out
    assert main(["oracles", "shortest_path_grid"]) == 0
    out = capsys.readouterr().out
    assert "neighbourhood=8" in out and "neighborhood (= neighbourhood)" in out and "per-call data  none" in out
    assert main(["oracles", "loopback_argmin"]) == 0  # a plugin
    assert "options        none of its own" in capsys.readouterr().out


def test_cli_unknown_oracle_name(capsys):
    from imle_solvers.cli import main

    assert main(["oracles", "knapsak"]) == 2
    assert "no oracle named 'knapsak'. Did you mean 'knapsack'?" in capsys.readouterr().err


def test_cli_table_without_a_name(capsys):
    from imle_solvers.cli import main

    assert main(["oracles"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["name", "sense", "event", "backend", "dependencies"]
    assert any(line.startswith("topk ") for line in lines)
