"""Progress bars (tqdm) with ETA for long work; silent when asked or when not on a terminal."""

from __future__ import annotations

import os
import sys

from tqdm.auto import tqdm


def progress(total=None, desc: str = "", unit: str = "it", disable: bool | None = None, **kw):
    """A tqdm bar on stderr. ``disable=None`` hides it when SPIKEALIGN_QUIET is set."""
    if disable is None:
        disable = bool(os.environ.get("SPIKEALIGN_QUIET"))
    return tqdm(total=total, desc=desc, unit=unit, disable=disable, file=sys.stderr,
                dynamic_ncols=True, mininterval=0.5, **kw)
