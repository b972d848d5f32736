"""``synthfactory doctor``: check every store of a workspace, and repair what can be repaired
without losing a verified record.

::

    findings = check_workspace("synthfactory-workspace")          # reads, never writes
    repairs = repair("synthfactory-workspace", findings)          # --repair
    assert not problems(check_workspace("synthfactory-workspace"))

What is checked: :mod:`synthfactory.doctor.checks` (and :mod:`~synthfactory.doctor.datasets`
for the Lance tables); what is repaired and how it is recorded:
:mod:`synthfactory.doctor.repairs`.
"""

from __future__ import annotations

from synthfactory.doctor.checks import check_workspace
from synthfactory.doctor.findings import FINDING_KINDS, Finding, Repair, problems
from synthfactory.doctor.repairs import repair

__all__ = ["FINDING_KINDS", "Finding", "Repair", "check_workspace", "problems", "repair"]
