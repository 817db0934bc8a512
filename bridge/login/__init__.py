"""The middle of every login: what happens between an upstream that authenticated someone (PSC, the CPS card)
and the provider that answers the app. Free of HTTP; the blueprints only render its outcomes."""
