"""Planning failures, each named after the PlanGrasp.Result status it maps to."""

from __future__ import annotations


class PlanningError(Exception):
    """A planning failure with a status name matching PlanGrasp.Result's constants."""

    status = "MODEL_ERROR"


class InvalidInputError(PlanningError):
    status = "INVALID_INPUT"


class NoValidGraspError(PlanningError):
    status = "NO_VALID_GRASP"


class NoImageError(PlanningError):
    status = "NO_IMAGE"


class CanceledError(PlanningError):
    status = "CANCELED"
