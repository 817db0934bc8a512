"""Per-service policies from policies/*.yaml, the RIE v2 rules, and their evaluation."""
from bridge.policy.calendar import Limits, effective_limits, paris_date, paris_epoch
from bridge.policy.evaluate import REASONS, WARNINGS, Decision, evaluate
from bridge.policy.loader import PolicyError, load_policies
from bridge.policy.means import eligible_activities, login_means, step_up_means
from bridge.policy.messages import reason_message
from bridge.policy.rules import Rule, rule_catalogue
from bridge.policy.schema import Attestation, Client, PolicySet, Reserve, Service

__all__ = ["REASONS", "WARNINGS", "Attestation", "Client", "Decision", "Limits", "PolicyError", "PolicySet",
           "Reserve", "Rule", "Service", "effective_limits", "eligible_activities", "evaluate", "load_policies",
           "login_means", "paris_date", "paris_epoch", "reason_message", "rule_catalogue", "step_up_means"]
