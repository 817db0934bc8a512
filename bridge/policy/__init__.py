"""Per-service policies from policies/*.yaml (DESIGN §4) and their evaluation."""
from bridge.policy.evaluate import Decision, evaluate
from bridge.policy.loader import PolicyError, load_policies
from bridge.policy.schema import Attestation, Client, PolicySet, Reserve, Service

__all__ = ["Attestation", "Client", "Decision", "PolicyError", "PolicySet", "Reserve", "Service",
           "evaluate", "load_policies"]
