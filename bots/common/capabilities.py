"""What a role may ask the bots: the capability names the roles file (`may:`) lists, its schema
(schemas/roles.schema.json, tested equal) and the commands' permissions use. Written nowhere else.
"""

from __future__ import annotations

PATIENT_OPEN = "patient.open"  # open a patient room (in a coordination room)
PATIENT_CLOSE = "patient.close"  # close the episode (room kept read-only)
PATIENT_IDENTITY = "patient.identity"  # have the bot post the patient's identity again
TEAM_MANAGE = "team.manage"  # add and remove team members, confirm a new identity
TEAM_VIEW = "team.view"  # list the team
CLINICAL = "clinical"  # clinical commands (discharge checklist, follow-up), ✅ on an item
DISCHARGE_PLAN = "discharge.plan"  # plan and move the discharge, set the risk, assign, validate
DISCHARGE_ANY_ITEM = "discharge.any_item"  # answer any checklist item, not only the role's
DISCHARGE_OVERRIDE = "discharge.override"  # validate despite blocking items, with a reason
FOLLOWUP_PLAN = "followup.plan"  # start, re-plan and resume the RH30 follow-up, judge avoidability
FOLLOWUP_STATS = "followup.stats"  # the RH30 indicator and its export (coordination room)
DASHBOARD_VIEW = "dashboard.view"  # log in to the coordinator dashboard (bots/dashboard/)

ALL: tuple[str, ...] = (
    PATIENT_OPEN, PATIENT_CLOSE, PATIENT_IDENTITY, TEAM_MANAGE, TEAM_VIEW, CLINICAL,
    DISCHARGE_PLAN, DISCHARGE_ANY_ITEM, DISCHARGE_OVERRIDE, FOLLOWUP_PLAN, FOLLOWUP_STATS,
    DASHBOARD_VIEW,
)
