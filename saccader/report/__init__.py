"""The presentation layer: what the book shows, drawn from the evaluation's tables, the training
runs and the paper's numbers. It computes no result of its own, apart from ``probes``: quick checks
of a trained model that a chapter runs live to explain a result (never written to ``data/results``).

``figures``: the evaluation chapters' figures and the results table; ``plotting``: the book's one
plotting style, the provenance stamp and legible text; ``tables``: tables as the book shows them;
``runs``: what a training run did (its log, learning curves, config and metrics tables);
``summary``: the architecture in numbers; ``reference``: the paper's numbers (``data/paper``);
``benchmarks``: the report of the speed benchmarks (``data/benchmarks``); ``dataset``: the data-set
chapter's figures; ``intervals``: one run's accuracies and differences with their 95 % intervals over
the test images; ``readme``: the README's headline table (``python -m saccader readme``).
"""
