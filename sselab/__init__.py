"""sselab's simulator: a fake LLM provider that streams scripted answers with faults.

The public API is what ``__all__`` lists; everything else is private and may change.
"""

from .api import Simulator, SimulatorThread
from .errors import ConfigError, ScenarioError, SselabError, UnknownScenarioError
from .scenario import Scenario, load_all, load_dir, load_file, load_text
from .script.build import compile_scenario
from .server.app import REQUEST_ID_HEADER, SCENARIO_HEADER, create_app
from .server.recorder import RequestRecord

__version__ = "0.1.0"

__all__ = [
    "REQUEST_ID_HEADER",
    "SCENARIO_HEADER",
    "ConfigError",
    "RequestRecord",
    "Scenario",
    "ScenarioError",
    "Simulator",
    "SimulatorThread",
    "SselabError",
    "UnknownScenarioError",
    "__version__",
    "compile_scenario",
    "create_app",
    "load_all",
    "load_dir",
    "load_file",
    "load_text",
]
