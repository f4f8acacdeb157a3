"""Total cost of ownership of a Design against cloud APIs at the same token volume (pure)."""

from garrison.cost.parameters import CostParameters
from garrison.cost.result import TCO, CloudCost, SensitivityRow, UsdRange
from garrison.cost.tco import compute_tco, horizon_years

__all__ = ["TCO", "CloudCost", "CostParameters", "SensitivityRow", "UsdRange", "compute_tco", "horizon_years"]
