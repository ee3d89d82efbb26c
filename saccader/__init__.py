"""Saccader: a PyTorch companion to Elsayed, Kornblith & Le (NeurIPS 2019), "Saccader: Improving
Accuracy of Hard Attention Models for Vision" (arXiv 1908.07644)."""

__version__ = "0.1.0"

import warnings as _warnings

# In a Jupyter kernel without ipywidgets, tqdm.auto falls back to text progress bars and warns on
# every import; the book's pages need the bars, not the warning.
_warnings.filterwarnings("ignore", message="IProgress not found")
