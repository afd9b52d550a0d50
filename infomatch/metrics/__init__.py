"""Distribution-matching battery and downstream probes (numpy in, dict out; no Lightning).

Example:
    >>> import numpy as np
    >>> from infomatch.metrics import dm_battery, linear_probe
    >>> z = np.random.default_rng(0).standard_normal((400, 3))
    >>> dm_battery(z, "gaussian", seeds=2)["families"]["moments"]["pass"]
    True
"""

from infomatch.metrics.battery import FAMILIES, STATISTICS, clear_reference_cache, dm_battery
from infomatch.metrics.disentangle import dci, dci_scores, mig
from infomatch.metrics.downstream import (
    knn_accuracy,
    linear_probe,
    linear_probe_model,
    outlier_auroc,
    stratified_split,
)
from infomatch.metrics.outliers import detection_figures, outlier_scores
from infomatch.metrics.runs import RunData, evaluate_arrays, evaluate_run, load_run

__all__ = [
    "FAMILIES",
    "STATISTICS",
    "RunData",
    "clear_reference_cache",
    "dci",
    "dci_scores",
    "detection_figures",
    "dm_battery",
    "evaluate_arrays",
    "evaluate_run",
    "knn_accuracy",
    "linear_probe",
    "linear_probe_model",
    "load_run",
    "mig",
    "outlier_auroc",
    "outlier_scores",
    "stratified_split",
]
