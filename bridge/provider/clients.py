"""Authlib's view of a policy client (ClientMixin). Secrets are compared as SHA-256 in constant time."""
from __future__ import annotations

import hashlib
import hmac

from authlib.oauth2.rfc6749 import ClientMixin
from authlib.oauth2.rfc6749.util import scope_to_list

from bridge.policy import Client, Service
from bridge.policy.values import loopback_matches


class OAuthClient(ClientMixin):
    def __init__(self, service: Service, client: Client):
        self.service, self.client = service, client
        self.client_id = client.client_id
        self.client_metadata = {"id_token_signed_response_alg": client.id_token_signed_response_alg,
                                "post_logout_redirect_uris": list(client.post_logout_redirect_uris)}
        self.id_token_signed_response_alg = client.id_token_signed_response_alg

    def get_client_id(self):
        return self.client_id

    def get_default_redirect_uri(self):
        # Exact matching only: a request without redirect_uri is refused rather than guessed.
        return None

    def get_allowed_scope(self, scope):
        if not scope:
            return ""
        allowed = set(self.client.scopes)
        return " ".join(s for s in scope_to_list(scope) if s in allowed)

    def check_redirect_uri(self, redirect_uri):
        # Exact matching, but for a public client's portless loopback URI: any port (RFC 8252 §7.3).
        if redirect_uri in self.client.redirect_uris:
            return True
        return self.client.public and any(loopback_matches(r, redirect_uri) for r in self.client.redirect_uris)

    def check_client_secret(self, client_secret):
        presented = hashlib.sha256(client_secret.encode()).hexdigest()
        return hmac.compare_digest(presented, self.client.client_secret_sha256)

    def check_endpoint_auth_method(self, method, endpoint):
        # The same registered method at every endpoint (token, introspection, revocation).
        return method == self.client.token_endpoint_auth_method

    def check_response_type(self, response_type):
        return response_type == "code" and "authorization_code" in self.client.grant_types

    def check_grant_type(self, grant_type):
        return grant_type in self.client.grant_types
