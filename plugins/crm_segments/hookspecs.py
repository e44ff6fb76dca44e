"""Hooks the segments plugin declares for other plugins to implement.

The core's plugin manager adds them (``crm_hookspecs`` in the package); the
segments plugin calls them through ``crm.emit``.
"""

from crmcore import hookspec


@hookspec
def crm_segment_membership_changed(crm, segment, entered, left):
    """Membership of ``segment`` (a dict: id, name, kind, rule) changed.

    ``entered`` and ``left`` are lists of contact ids, one batch per refresh
    (or per static add/remove); called inside the refresh's transaction."""


@hookspec
def crm_segment_metrics(crm, segment, contact_ids):
    """Extra metrics for the ``segments`` comparison report.

    Return a dict ``{metric label: value}`` for the segment (a dict: id, name,
    kind, rule) whose members are ``contact_ids``, or ``None``."""
