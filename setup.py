"""Package discovery: the code packages, plus the top-level ``scenarios/`` folder shipped inside
the wheel as ``simulator.builtin_scenarios`` (metadata lives in pyproject.toml)."""

from setuptools import find_packages, setup

setup(
    packages=[*find_packages(include=["simulator*", "reference_app*"]),
              "simulator.builtin_scenarios"],
    package_dir={"simulator.builtin_scenarios": "scenarios"},
)
