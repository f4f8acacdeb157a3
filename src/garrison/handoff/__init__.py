"""Hand-offs between Garrison and the other agents of a programme.

- `intake`: a hand-off another agent sends -> Garrison's requirements (free-form values parsed, guessed
  or kept as notes, every step recorded in `Requirements.handoff`);
- `outgoing`: a design -> one hand-off YAML per colleague, escalations addressed to the agent the role
  description names.
"""

from garrison.handoff.outgoing import AGENTS, ESCALATION_ROUTES, TARGETS, handoff, handoff_files, handoff_yaml

__all__ = ["AGENTS", "ESCALATION_ROUTES", "TARGETS", "handoff", "handoff_files", "handoff_yaml"]
