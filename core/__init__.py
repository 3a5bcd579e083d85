"""SAE/NMF Explorer engine: datasets, models, training, metrics, rendering and the run store.

Usable without the UI, from a notebook or the CLI (``python -m core --help``). Never imports Streamlit.
"""

__version__ = "0.1.0"
