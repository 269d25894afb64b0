"""Progress bars (tqdm) with ETA for long work; silent when asked (argument or SPIKEALIGN_QUIET)."""

from __future__ import annotations

import os
import sys

from tqdm.auto import tqdm


def progress(total=None, desc: str = "", unit: str = "it", disable: bool | None = None, **kw):
    """A tqdm bar on stderr; the environment variable SPIKEALIGN_QUIET hides every bar."""
    disable = bool(disable) or bool(os.environ.get("SPIKEALIGN_QUIET"))
    return tqdm(
        total=total,
        desc=desc,
        unit=unit,
        disable=disable,
        file=sys.stderr,
        dynamic_ncols=True,
        mininterval=0.5,
        **kw,
    )
