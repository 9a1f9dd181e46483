"""The benchmark harness: everything the benchmark scripts share.

- :mod:`harness.proc` -- child processes: environment, memory guard, wall and
  CPU time from outside, peak RSS, and running a function in a fresh process;
- :mod:`harness.data` -- synthetic data, generated once and cached: registries
  as Parquet, encoded arrays, the tie-heavy check sets, the weight-set snapshot;
- :mod:`harness.timing` -- the timed child (warm-up, repeats, every run kept,
  peak RSS above the inputs), the machine floor and pmt's stage profile;
- :mod:`harness.agree` -- the agreement check of every peer against pmt;
- :mod:`harness.report` -- the one table renderer, the machine description and
  the results file ``benchmarks/results/<kind>_<date>.md``;
- :mod:`harness.suite` -- the command-line options the scripts share and the
  sizes x tools loop of the in-process benchmarks.

The tools themselves are in :mod:`peers`, one module each.
"""
