"""PSC Bridge: Pro Santé Connect / CPS upstream -> neutral Authentication -> RIE v2 policy -> OIDC provider."""
