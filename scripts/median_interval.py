"""The 95% interval of a median, for the bench scripts (bench-metrics.sh, bench-http.sh).

The medians of 2,000 resamples of the values, drawn with replacement (a bootstrap), with a fixed
seed so a run's printout follows from its values alone.
"""
import random
import statistics


def median_interval(values, draws=2000):
    rng = random.Random(1)
    meds = sorted(statistics.median(rng.choices(values, k=len(values))) for _ in range(draws))
    return meds[int(0.025 * draws)], meds[int(0.975 * draws) - 1]
