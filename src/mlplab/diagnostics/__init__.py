"""Diagnostics: gradient checking (and, later, training statistics and advice) (level 3)."""
from .gradcheck import GradcheckReport, GradcheckRow, gradcheck

__all__ = ["GradcheckReport", "GradcheckRow", "gradcheck"]
