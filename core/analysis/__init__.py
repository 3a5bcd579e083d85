"""Analysis behind the Compare, Sweep and Inspect pages: no Streamlit here, usable from a notebook.

* Geometry: principal angles between subspaces, the angle of each top principal component to a model's
  atom span, and that angle traced over the training of a linear autoencoder (``subspace_trace``: the
  components are learned one after another, largest eigenvalue first, as Refinetti & Goldt describe).
* A sample as the mean (decoder bias) plus its top weighted atoms (``decompose_sample``, the eigenfaces view).
* Nearest-neighbour recognition in code space with a train/test split (``recognition``).
* One-to-one pairing of two dictionaries for side-by-side display (``pair_atoms``, ``comparison_image``).
* Metrics of a stored run (``run_metrics``), reference points for a sweep frontier (``reference_points``),
  thumbnails of atoms for tables (``atoms_thumbnail``), the runs a click on a frontier may have meant
  (``points_near``), CSV bytes of a table (``rows_to_csv``).

Functions of arrays and models, no threads: background work (sweeps, saving a job when it ends) is in
``core.jobs``.

Every model of ``core.models`` decodes affinely (``x_hat = codes @ W + b``), which is what the
decomposition of a sample relies on; ``effective_atoms`` reads ``W`` and ``b`` through
``inverse_transform`` so that whitening (PCA) and missing biases (NMF, NNSAE) need no special case.
"""

from __future__ import annotations

from core.analysis.geometry import SubspaceTrace, pc_angles, principal_angles, subspace_angle, subspace_trace, top_principal_components
from core.analysis.decomposition import RECOGNITION_MAX_SAMPLES, SampleDecomposition, decompose_sample, effective_atoms, nearest_neighbour_accuracy, recognition, recognition_sizes, split_indices
from core.analysis.pairing import AtomPairs, comparison_image, pair_atoms, reconstruction_image
from core.analysis.tables import analysis_rows, atoms_thumbnail, feature_table, points_near, reference_points, rows_to_csv, run_metrics, top_activating, training_seconds

__all__ = [
    "AtomPairs", "RECOGNITION_MAX_SAMPLES", "SampleDecomposition", "SubspaceTrace",
    "analysis_rows", "atoms_thumbnail", "comparison_image", "decompose_sample",
    "effective_atoms", "feature_table", "nearest_neighbour_accuracy", "pair_atoms", "pc_angles",
    "points_near", "principal_angles", "reconstruction_image", "recognition", "reference_points",
    "recognition_sizes", "rows_to_csv", "run_metrics", "split_indices", "subspace_angle", "subspace_trace",
    "top_activating", "top_principal_components", "training_seconds",
]
