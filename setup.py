"""Package discovery: ``sselab`` (the harness), ``sselab_reference_app`` (the copyable example app)
and the top-level ``scenarios/`` folder shipped inside the wheel as ``sselab.builtin_scenarios``
(metadata lives in pyproject.toml)."""

from setuptools import find_packages, setup

setup(
    packages=[*find_packages(include=["sselab", "sselab.*", "sselab_reference_app",
                                      "sselab_reference_app.*"]),
              "sselab.builtin_scenarios"],
    package_dir={"sselab.builtin_scenarios": "scenarios"},
)
