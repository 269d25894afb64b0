"""Shared helpers of the microcircuit tests (not a test module)."""

from __future__ import annotations

import copy

import numpy as np

from spikealign.microcircuits.network import NetParams, Network

#: a complete config of the paper's format, shrunk so a run takes well under a second
TINY = {
    "network_properties": {
        "dims": [1, 1, 1],
        "lambda_api": 0.02,
        "lambda_nudge": 0.6,
        "learning_lag": 50,
        "lr": [{"up": 0.4, "down": 0.01}, {"up": 0.01}],
        "n_last_spks": 1,
        "size_moving_average": 50,
        "stdp_a_anticausal": 1.0,
        "stdp_a_causal": -1.0,
        "stdp_tau_anticausal": 10.0,
        "stdp_tau_causal": 10.0,
        "t_ref": 10,
        "tau_syn": 10,
    },
    "student_initial_parameters": {
        "bias": [-1.0, -1.0],
        "share_weights": False,
        "random_weights_init_limits": {"up": [-3.0, 3.0], "down": [-3.0, 3.0]},
    },
    "student_simulation_settings": {
        "len_epoch": 4,
        "len_symmetrization": 1,
        "len_validation": 2,
        "num_epochs": 2,
        "poisson_seed": 11,
        "weights_init_seed": 12,
        "record_all_spks": True,
        "recorded_quantities": [
            ["u_in"],
            ["u_pyr", "v_api", "w_up", "w_down", "u_inn"],
            ["u_pyr", "v_nudge", "u_tgt", "w_up", "validation", "symmetrization"],
        ],
        "recorded_sample_length": 70,
        "set_sps": True,
        "shuffle_training": True,
        "shuffle_validation": False,
        "t_pattern": 30,
        "training_seed": 13,
        "update_down": True,
    },
    "teacher_initial_parameters": {"bias": [-1.0, -1.0], "weights": [{"w_up": 2.0}, {"w_up": 2.0}]},
    "teacher_simulation_settings": {
        "len_epoch": 3,
        "len_validation": 2,
        "num_epochs": 1,
        "poisson_seed": 21,
        "recorded_quantities": [["u_in"], [], []],
        "shuffle_training": True,
        "shuffle_validation": False,
        "t_pattern": 30,
        "training_seed": 22,
    },
    "u_input": {"training": [-2.0, 0.5, 2.0], "validation": [-1.0, 1.0]},
}


def tiny(**changes) -> dict:
    """A copy of :data:`TINY`; ``changes`` map dotted keys to values."""
    cfg = copy.deepcopy(TINY)
    for key, value in changes.items():
        node = cfg
        parts = key.split(".")
        for part in parts[:-1]:
            node = node[int(part)] if isinstance(node, list) else node[part]
        last = parts[-1]
        if isinstance(node, list):
            node[int(last)] = value
        else:
            node[last] = value
    return cfg


def tiny_dims(dims, **changes) -> dict:
    """:func:`tiny` with other layer sizes (learning rates and biases adjusted)."""
    n = len(dims)
    lr = [{"up": 0.4, "down": 0.01} for _ in range(n - 2)] + [{"up": 0.01}]
    return tiny(
        **{
            "network_properties.dims": list(dims),
            "network_properties.lr": lr,
            "student_initial_parameters.bias": [-1.0] * (n - 1),
            "teacher_initial_parameters.bias": [-1.0] * (n - 1),
            "teacher_initial_parameters.weights": [{"w_up": 2.0 / dims[k]} for k in range(n - 1)],
            "student_simulation_settings.recorded_quantities": [["u_in"]]
            + [["u_pyr", "v_api", "w_up", "w_down", "w_pi", "w_ip", "u_inn", "v_bas"]] * (n - 2)
            + [["u_pyr", "v_bas", "v_nudge", "u_tgt", "w_up"]],
            "teacher_simulation_settings.recorded_quantities": [[]] * n,
            **changes,
        }
    )


def random_network(dims, seed=0, *, update_down=True, **params) -> Network:
    """A network with random weights in the self-predicting state and biases -1."""
    n_layers = len(dims)
    kw = dict(
        lr_up=(0.0,) + (0.2,) * (n_layers - 2) + (0.003,),
        lr_down=(0.0,) + (0.01,) * (n_layers - 2) + (0.0,),
        learning_lag=20,
        ma_size=50,
    )
    kw.update(params)
    net = Network(NetParams(dims=tuple(dims), **kw))
    rng = np.random.default_rng(seed)
    weights = []
    for layer in range(1, n_layers):
        entry = {"w_up": rng.uniform(-3, 3, (dims[layer], dims[layer - 1]))}
        if layer < n_layers - 1:
            entry["w_down"] = rng.uniform(-3, 3, (dims[layer], dims[layer + 1]))
        weights.append(entry)
    net.set_weights(weights)
    net.distribute_weights(update_down)
    net.set_bias([-1.0] * (n_layers - 1))
    return net
