"""Running simulations: the job handlers that drive simulated conversations through the real turn service, the
simulated user, success criteria through the metric judge, reliability figures, artifacts and the CLI."""
