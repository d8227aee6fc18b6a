"""Simulations (the ``Simulation`` tag): personas, scenarios, unit tests, unit test sets and their runs.

This package is the domain (tables, wire models, CRUD, run bookkeeping). Running the simulated conversations is
``tertulia.simulator`` (the job handlers, the simulated user, the judge and the reliability figures).
"""

RUN_ITEM_JOB = "simulation.run-item"
FINALIZE_JOB = "simulation.finalize-run"


from tertulia.simulation import metric_usage  # noqa: E402,F401  (registers the delete-metric usage check)
