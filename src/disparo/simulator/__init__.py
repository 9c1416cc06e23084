"""A Telegram Bot API look-alike (HTTP server, users, limits, faults) for demo, tests, benches.

It models Telegram, not Disparo, and imports nothing else of Disparo. Start it in-process with
`SimulatorServer` or as a process with `python -m disparo.simulator`.
"""

from disparo.simulator.config import SimulatorConfig
from disparo.simulator.server import SimulatorServer, add_arguments, run, run_from_args

__all__ = ["SimulatorConfig", "SimulatorServer", "add_arguments", "run", "run_from_args"]
