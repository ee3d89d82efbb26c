"""Speed benchmarks (not tests): the library that ``python -m saccader benchmark`` and the scripts of
``benchmarks/`` call. ``core``: timing, FLOPs, MFU, results files; ``models``: forward throughput of
every model; ``train``: one training step of every stage as the engine runs it; ``cli``: the
``benchmark`` sub-command."""
