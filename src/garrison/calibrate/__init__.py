"""Calibration: fit the sizing model's efficiency factors to measurements, check them on held-out points."""

from __future__ import annotations

from garrison.calibrate.fit import (
    CalibrationReport,
    PointError,
    bench_points,
    calibrate,
    fit_efficiency,
    profile_json,
    split_points,
)

__all__ = [
    "CalibrationReport",
    "PointError",
    "bench_points",
    "calibrate",
    "fit_efficiency",
    "profile_json",
    "split_points",
]
