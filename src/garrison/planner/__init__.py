"""The planner: requirements -> candidates -> a ranked, justified Design."""

from garrison.planner.plan import plan

__all__ = ["plan"]
