"""Accuracy against the number of glimpses and against the fraction of the image attended (SPEC 4,
5.2), and the occlusion analysis.

For every policy here the glimpse at step ``t`` does not depend on how many glimpses will be
allowed, so one unroll to ``max_glimpses`` gives every point of a curve. Each point is
``(glimpses, coverage, top-1, top-5)`` averaged over the held-out images, where coverage is the
area of the union of the glimpse squares over the image area (overlaps count once, SPEC 4).

Methods (``METHODS``), each read from a trained run of the preset (``get_trained``):

=========================  ===============  =====================================================
method                     run              policies / readout
=========================  ===============  =====================================================
saccader                   policy           learned, ordered_logits, random, center, sobel_mean,
                                            sobel_var (the same trained model, its own BagNet);
                                            prediction after T glimpses = mean of the T cells' logits
saccader_no_pretraining    policy, with     learned (Figure Supp.3: policy gradient from a random
                           init_location=   location network)
                           scratch
dram                       dram             learned (mean location at test time); prediction after
                                            T glimpses = the classification LSTM's logits at step T.
                                            Coverage: the union of the high-resolution glimpse
                                            squares (the centre context step is not counted)
saccader_classnet          classnet         learned; coverage on the ClassNet's own (larger) image
                                            with its own glimpse size (SPEC 4)
bagnet_full_image          representation   the trained BagNet, logits averaged over every cell
                                            (one row: glimpses = G*G, coverage 1)
cnn_full_image             fullimage        a standard CNN trained on the whole image (one row:
                                            glimpses = 1, coverage 1)
=========================  ===============  =====================================================

**What a seed varies.** Evaluation is deterministic except for the random policy (uniform cells,
drawn from ``torch.manual_seed(seed)``); ``seeds`` repeats the random policy once per seed and
every other method once (its rows carry the first seed). The trained models are those of the
preset's training seed (``get_trained``'s cache); they are not retrained per seed.

**Training seeds.** :func:`get_training_seeds` retrains the Saccader chain (representation ->
location -> policy, the ablation without location pretraining) and DRAM with ``seed`` = 0 ... 4
(``TrainConfig.seed``: initialization, batch order, augmentation and policy samples; the data set
stays the same) and evaluates each, giving the spread of a result over training runs
(``data/results/<preset>/training_seeds.csv``, column ``train_seed``). Seed 0 is the preset's run.

The occlusion analysis (SPEC 5.2): a full-image classifier (``OCCLUSION_CLASSIFIERS``: the BagNet
of the representation run, and the standard CNN of the fullimage run, which shares no weights
with the Saccader) classifies the held-out images with the first ``k`` glimpse squares proposed
by a policy of the Saccader filled with 0, the data-set mean after normalization;
``k = 0 .. max_occluded``.

Results are cached in ``data/results/<preset>/{curves,occlusion,training_seeds,dram_study}.csv`` with a
``.json`` holding their provenance and a key: the training code version
(``saccader.train.cache.code_version``), a hash of the evaluation package's source files
of the module that computes the table and of the evaluation modules it imports
(``evaluation_code_version``: editing ``curves.py`` makes every table stale, editing ``dram_study.py``
only the DRAM study's),
the run folder (stage and config hash) of every run used, and the evaluation settings.
:func:`get_results` / :func:`get_occlusion` reuse a file only when its key matches and say why
they recompute otherwise.

The package: ``curves`` (the accumulator, glimpse boxes and coverage, the curves of one model),
``methods`` (``METHODS``, their trained models and held-out split), ``results`` (the results files
and their cache, ``get_results``), ``occlusion``, ``seeds`` (the training-seed study),
``dram_study`` (DRAM retrained with one change at a time: why it learns or not), ``claims``
(the paper's claims against our tables), ``behaviour`` (what a trained run does, for the stage
chapters) and ``cli`` (``python -m saccader evaluate``). ``saccader.evaluation`` re-exports the
public names of all but ``claims`` and ``cli``.
"""
from saccader.evaluation.behaviour import (
    classnet_glimpse_accuracy,
    dram_behaviour,
    eval_split,
    glimpse_accuracy,
    load_net,
    location_target_match,
    per_location_accuracy,
    runs_glimpse_accuracy,
)
from saccader.evaluation.curves import (
    RESULT_COLUMNS,
    STOCHASTIC_POLICIES,
    CurveAccumulator,
    batches,
    box_coverage,
    box_masks,
    classnet_boxes,
    classnet_curves,
    dram_boxes,
    dram_curves,
    full_image_curves,
    glimpse_boxes_of,
    resolve_device,
    saccader_boxes,
    saccader_curves,
)
from saccader.evaluation.methods import (
    DEFAULT_SEEDS,
    FULL_IMAGE_METHODS,
    METHOD_LABELS,
    METHODS,
    POLICY_LABELS,
    PRESETS,
    SACCADER_POLICIES,
    Method,
    check_method,
    check_preset,
    class_names,
    curve_label,
    evaluate_all,
    evaluate_method,
    heldout_split,
    input_preparer,
    method_model,
    trained_model,
)
from saccader.evaluation.results import (
    COMMITTED,
    LOCAL,
    at_glimpses,
    available_results,
    cached_table,
    evaluation_code_version,
    get_results,
    read_results,
    results_key,
    run_weights,
    source_note,
    stale_reasons,
    summary,
    write_results,
)
from saccader.evaluation.occlusion import (
    OCCLUSION_CLASSIFIERS,
    OCCLUSION_COLUMNS,
    OCCLUSION_POLICIES,
    get_occlusion,
    occlusion_all,
    occlusion_curves,
)
from saccader.evaluation.seeds import (
    SEED_COLUMNS,
    SEED_METHODS,
    TRAINING_SEEDS,
    committed_comparison,
    get_training_seeds,
    seed_spread,
    training_seed_curves,
)
from saccader.evaluation.dram_study import (
    DRAM_POLICIES,
    DRAM_VARIANTS,
    dram_study_curves,
    get_dram_study,
    study_findings,
    study_table,
)

__all__ = [
    "classnet_glimpse_accuracy", "dram_behaviour", "eval_split", "glimpse_accuracy", "load_net",
    "location_target_match", "per_location_accuracy", "runs_glimpse_accuracy", "RESULT_COLUMNS",
    "STOCHASTIC_POLICIES", "CurveAccumulator", "batches", "box_coverage", "box_masks", "classnet_boxes",
    "classnet_curves", "dram_boxes", "dram_curves", "full_image_curves", "glimpse_boxes_of", "resolve_device",
    "saccader_boxes", "saccader_curves", "DEFAULT_SEEDS", "FULL_IMAGE_METHODS", "METHOD_LABELS", "METHODS",
    "POLICY_LABELS", "PRESETS", "SACCADER_POLICIES", "Method", "check_method", "check_preset", "class_names",
    "curve_label", "evaluate_all", "evaluate_method", "heldout_split", "input_preparer", "method_model",
    "trained_model", "COMMITTED", "LOCAL", "at_glimpses", "available_results", "cached_table",
    "evaluation_code_version", "get_results", "read_results", "results_key", "run_weights", "source_note",
    "stale_reasons", "summary", "write_results", "OCCLUSION_CLASSIFIERS", "OCCLUSION_COLUMNS", "OCCLUSION_POLICIES",
    "get_occlusion", "occlusion_all", "occlusion_curves", "SEED_COLUMNS", "SEED_METHODS", "TRAINING_SEEDS",
    "committed_comparison", "get_training_seeds", "seed_spread", "training_seed_curves", "DRAM_POLICIES",
    "DRAM_VARIANTS", "dram_study_curves", "get_dram_study", "study_findings", "study_table",
]
