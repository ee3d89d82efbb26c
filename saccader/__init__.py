"""Saccader: a PyTorch companion to Elsayed, Kornblith & Le (NeurIPS 2019), "Saccader: Improving
Accuracy of Hard Attention Models for Vision" (arXiv 1908.07644)."""

__version__ = "0.1.0"
