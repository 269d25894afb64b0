"""Paper-scale parameter sweeps on Dask distributed, one command per figure (4, 5, 6).

``presets`` defines the paper's run grids, ``tasks`` one idempotent task per run, ``engine``
the Dask backends (local, remote scheduler, SLURM), ``status`` the summary of a sweep
directory, ``figures`` figures 4 and 5 from a sweep directory (and figure 6 through the
microcircuit family's figure function). See docs/sweeps.md.
"""
