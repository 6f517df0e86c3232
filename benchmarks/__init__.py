"""The studio's performance budget as runnable benchmarks: ``python -m benchmarks``.

Each module measures one figure of the budget (see ``docs/performance.md``) and runs on its
own too (``python -m benchmarks.NAME [--quick]``). Figures are ratios or differences against
a baseline measured in the same run wherever one exists, because the machines they run on
are small and shared: absolute times drift, side-by-side comparisons hold.
"""

BENCHMARKS = [
    "engine_overhead",
    "live_latency",
    "ui_stalls",
    "startup",
    "streaming",
    "reload",
    "soak",
]

#: Diagnostics behind the explanations in docs/performance.md: run with ``--only``, not by
#: default (they measure causes, not the budget).
DIAGNOSTICS = ["conversions", "worker_faults", "engine_profile", "preview_scaling"]
