import os

import matplotlib

matplotlib.use("Agg")
os.environ.setdefault("SPIKEALIGN_QUIET", "1")
