"""Phase-plane grids, attractor line and its deviation from the diagonal."""

import numpy as np
import pytest

from spikealign.config import ConfigError
from spikealign.principle import (
    attractor,
    attractor_deviation,
    phase_plane,
    rotate_attractor,
    sal_drift,
    stdd,
)
from spikealign.stdp import sal_window

KW = dict(t_ref=5, t_syn=5, t_max=12)


def test_grid_orientation_and_values():
    w = np.array([-1.0, 0.0, 0.5, 1.5])
    win = sal_window(5)
    grid = phase_plane(w, b_a=0.2, b_b=-0.3, window=win, **KW)
    assert grid.shape == (4, 4, 2)
    for i, j in [(0, 3), (3, 0), (1, 2), (2, 2)]:
        dt, p = stdd(w[i], w[j], 0.2, -0.3, **KW)
        np.testing.assert_allclose(grid[i, j], sal_drift(dt, p, win), rtol=0, atol=1e-15)
    # antisymmetric window: exactly opposite components
    np.testing.assert_array_equal(grid[..., 1], -grid[..., 0])


def test_parallel_grid_equals_serial():
    w = np.linspace(-1, 1, 5)
    kw = dict(b_a=0.0, b_b=0.5, window=sal_window(5), chain="simulator", **KW)
    np.testing.assert_array_equal(phase_plane(w, workers=2, **kw), phase_plane(w, **kw))


def test_equal_biases_attractor_is_the_diagonal():
    w = np.linspace(-1.5, 1.5, 10)
    grid = phase_plane(w, b_a=0.3, b_b=0.3, window=sal_window(5), **KW)
    line = attractor(w, grid, n_upscale=60)
    assert len(line) >= 55
    np.testing.assert_allclose(line[:, 0], line[:, 1], atol=1e-6)
    assert attractor_deviation(line) < 1e-5
    rot = rotate_attractor(line)
    np.testing.assert_allclose(rot[:, 0], line[:, 0], atol=1e-6)
    np.testing.assert_allclose(rot[:, 1], 0.0, atol=1e-6)


def test_unequal_biases_move_the_attractor_off_the_diagonal():
    w = np.linspace(-1.5, 1.5, 10)
    grid = phase_plane(
        w, b_a=1.0, b_b=-1.0, t_ref=10, t_syn=5, t_max=20, psp="alpha", window=sal_window(10)
    )
    line = attractor(w, grid, n_upscale=None)
    assert attractor_deviation(line) > 0.01
    # points of the attractor are zeros of dW_AB
    for w_ba, w_ab in line[::3]:
        dt, p = stdd(w_ab, w_ba, 1.0, -1.0, t_ref=10, t_syn=5, t_max=20, psp="alpha")
        assert abs(sal_drift(dt, p, sal_window(10))[0]) < 2e-3


def test_deviation_formula():
    pts = np.array([[1.0, 1.1], [2.0, 2.2], [3.0, 3.3]])
    d = 0.5 * np.abs(pts[:, 0] - pts[:, 1]) / np.abs(pts.mean(axis=1))
    expected = np.trapezoid(d, pts[:, 0]) / 2.0
    assert attractor_deviation(pts) == pytest.approx(expected)
    assert np.isnan(attractor_deviation(pts[:1]))


@pytest.mark.parametrize(
    "w,msg", [([], "non-empty"), ([[0.0, 1.0]], "1-D"), ([0.0, np.inf], "finite")]
)
def test_bad_grid(w, msg):
    with pytest.raises(ConfigError, match=msg):
        phase_plane(w, b_a=0, b_b=0, window=sal_window(5), **KW)


def test_grid_too_large_for_memory_fails_before_computing():
    with pytest.raises(ConfigError, match="phase plane at t_max=12 needs about"):
        phase_plane(np.zeros(300_000), b_a=0, b_b=0, window=sal_window(5), **KW)


def test_window_type_checked():
    with pytest.raises(ConfigError, match="window"):
        phase_plane([0.0, 1.0], b_a=0, b_b=0, window=lambda d: d, **KW)
