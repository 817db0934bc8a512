"""`bridge client add` and `bridge client hash-secret`: register an application in its service's policy file.

The client block is inserted as text (the file's comments stay where they are) and the result is validated by the
same loader as `bridge policy check` and start-up, on a copy of the whole directory (duplicate client ids span
files). Anything invalid leaves the file untouched. The secret is printed once and never logged or written.
"""
from __future__ import annotations

import hashlib
import json
import os
import re
import secrets
import shutil
import sys
import tempfile
import time
from pathlib import Path

import click
import requests
import yaml

from bridge.config import production_requested
from bridge.policy.clients import GRANT_TYPES
from bridge.policy.loader import PolicyError, load_policies, policy_files

SECRET_BYTES = 32   # 256 random bits, base64url: 43 characters
PLAIN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:/@%+~-]*$")   # nothing YAML could read as syntax (flow lists)


class ClientAddError(Exception):
    """One line for the operator; the file is left as it was."""


def hash_secret(secret: str) -> str:
    """What the policy stores and the provider compares (bridge/provider/clients.py): hex SHA-256 of UTF-8."""
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def _scalar(value: str) -> str:
    """Plain when YAML reads it back as the same string (URLs, ids); else JSON, a valid double-quoted scalar."""
    if PLAIN.match(value) and yaml.safe_load(value) == value:
        return value
    return json.dumps(value, ensure_ascii=False)


def _flow_list(values) -> str:
    return "[" + ", ".join(_scalar(v) for v in values) + "]"


def client_block(entry: dict, indent: int) -> list[str]:
    """The YAML lines of one `clients:` item, its dash at column `indent`."""
    pad, lines = " " * (indent + 2), []
    for i, (key, value) in enumerate(entry.items()):
        if isinstance(value, bool):
            rendered = "true" if value else "false"
        elif isinstance(value, (list, tuple)):
            rendered = _flow_list(value)
        elif isinstance(value, dict):
            rendered = json.dumps(value, ensure_ascii=False, separators=(", ", ": "))  # JSON is a YAML flow mapping
        else:
            rendered = _scalar(value)
        lines.append(f"{' ' * indent}- {key}: {rendered}" if i == 0 else f"{pad}{key}: {rendered}")
    return lines


def insert_client(text: str, entry: dict) -> str:
    """`text` with `entry` appended to its top-level `clients:` block list (or a new `clients:` at the end)."""
    root = yaml.compose(text)
    if not isinstance(root, yaml.MappingNode):
        raise ClientAddError("the policy file is not a YAML mapping")
    lines = text.splitlines()
    for key, node in root.value:
        if key.value != "clients":
            continue
        if not isinstance(node, yaml.SequenceNode) or node.flow_style or not node.value:
            raise ClientAddError(f"line {key.start_mark.line + 1}: `clients:` is not a block list with at least one "
                                 "item (\"- client_id: ...\"); add this client by hand")
        first = node.value[0].start_mark
        indent = lines[first.line].rfind("-", 0, first.column)
        end = node.end_mark.line if node.end_mark.column == 0 else node.end_mark.line + 1
        # after the list's last content line: comments that follow it describe the next key
        while end > node.start_mark.line and (not lines[end - 1].strip() or lines[end - 1].lstrip().startswith("#")):
            end -= 1
        return "\n".join(lines[:end] + client_block(entry, max(indent, 0)) + lines[end:]) + "\n"
    return text.rstrip("\n") + "\nclients:\n" + "\n".join(client_block(entry, 2)) + "\n"


def new_policy_file(service: str, entry: dict) -> str:
    return "\n".join([
        f"# Service {service}: written by `bridge client add --create`. Review the means and timeouts below",
        "# (docs/policies.md) before going live.",
        f"service: {service}",
        f"name: {_scalar(service)}",
        "clients:",
        *client_block(entry, 2),
        "allowed_mie: [psc]          # every Pro Santé Connect means (card, e-CPS, establishment IdP through PSC)",
        "require_2fa: true",
        "idle_timeout: 30m           # RIE v2 RIE-PS 13 caps: inactivity <= 30 min, session <= 4 h",
        "max_session: 4h",
    ]) + "\n"


def _load(directory: Path, *, production: bool, shown_as=None):
    return load_policies(directory, dev=not production, now=time.time(), shown_as=shown_as)


def read_jwks(jwks_file: str | None, jwks_url: str | None) -> dict:
    """The client's public keys, inlined in the policy (a JWKS URL is read once, now)."""
    try:
        if jwks_file:
            data = json.loads(Path(jwks_file).read_text(encoding="utf-8"))
        else:
            response = requests.get(jwks_url, timeout=10)
            response.raise_for_status()
            data = response.json()
    except (OSError, ValueError, requests.RequestException) as exc:
        raise ClientAddError(f"JWKS {jwks_file or jwks_url}: cannot be read ({exc})") from None
    keys = data.get("keys") if isinstance(data, dict) else None
    if not isinstance(keys, list) or not keys:
        raise ClientAddError(f"JWKS {jwks_file or jwks_url}: no {{\"keys\": [...]}} in it")
    private = [k.get("kid", "?") for k in keys if isinstance(k, dict) and ({"d", "p", "q", "k"} & set(k))]
    if private:
        raise ClientAddError(f"JWKS {jwks_file or jwks_url}: key {private[0]} holds private parts; give the public "
                             "keys only")
    return {"keys": keys}


def add_client(directory: Path, service: str, entry: dict, *, production: bool, create: bool) -> Path:
    """Write `entry` into `service`'s file once the whole directory with it validates; return that file.

    An empty or missing directory is a start from scratch: nothing to load yet, so only --create can add to it
    (the directory itself is made once the new file validates)."""
    if not directory.is_dir() or not policy_files(directory):   # (--dir is never a file: click checks it)
        known: dict = {}
    else:
        try:
            known = _load(directory, production=production).services
        except PolicyError as exc:
            raise ClientAddError(f"{exc.errors[0]} (the policies already have {len(exc.errors)} error(s): run "
                                 "`bridge policy check` and fix them first)") from None
    if service in known:
        target = Path(known[service].source)
        text = insert_client(target.read_text(encoding="utf-8"), entry)
    elif create:
        target = directory / f"{service}.yaml"
        if target.exists():
            raise ClientAddError(f"{target} exists but does not declare service {service!r}")
        text = new_policy_file(service, entry)
    else:
        names = ", ".join(sorted(known)) or "none"
        raise ClientAddError(f"no service {service!r} in {directory} (known: {names}); --create writes a new "
                             f"{service}.yaml")
    with tempfile.TemporaryDirectory(prefix="bridge-client-add-") as tmp:
        for path in (policy_files(directory) if directory.is_dir() else []):
            shutil.copy2(path, Path(tmp) / path.name)
        (Path(tmp) / target.name).write_text(text, encoding="utf-8")
        try:
            _load(Path(tmp), production=production, shown_as=directory)
        except PolicyError as exc:
            raise ClientAddError(exc.errors[0] + (f" (and {len(exc.errors) - 1} more)" if len(exc.errors) > 1
                                                  else "")) from None
    directory.mkdir(parents=True, exist_ok=True)
    staged = target.with_name(f".{target.name}.{os.getpid()}.tmp")   # hidden: the loader skips it
    staged.write_text(text, encoding="utf-8")
    if target.exists():
        shutil.copymode(target, staged)
    os.replace(staged, target)
    return target


def _credentials(entry: dict, method: str, public: bool, jwks_file, jwks_url, subject_dn, secret_sha256) -> str:
    """Fill the client's authentication in `entry`; return the generated secret ("" when none is made)."""
    key_options = [o for o, v in (("--public", public), ("--jwks-file", jwks_file), ("--jwks-url", jwks_url),
                                  ("--client-secret-sha256", secret_sha256), ("--tls-subject-dn", subject_dn)) if v]
    if len(key_options) > 1:
        raise ClientAddError(f"{' and '.join(key_options)} exclude each other")
    if public and method != "client_secret_basic":
        raise ClientAddError(f"--public and --auth-method {method} exclude each other")
    if method == "tls_client_auth":
        if not subject_dn:
            raise ClientAddError("--auth-method tls_client_auth needs --tls-subject-dn (the client certificate's "
                                 "subject, e.g. \"CN=crm.example.org,O=Hopital,C=FR\")")
        entry.update(token_endpoint_auth_method=method, tls_client_auth_subject_dn=subject_dn)
        return ""
    if subject_dn:
        raise ClientAddError("--tls-subject-dn goes only with --auth-method tls_client_auth")
    if method == "self_signed_tls_client_auth":
        if not (jwks_file or jwks_url):
            raise ClientAddError("--auth-method self_signed_tls_client_auth needs --jwks-file or --jwks-url (the "
                                 "public keys of the client's self-signed certificates)")
        entry.update(token_endpoint_auth_method=method, jwks=read_jwks(jwks_file, jwks_url))
        return ""
    if public:
        entry["token_endpoint_auth_method"] = "none"
        return ""
    if jwks_file or jwks_url:
        entry.update(token_endpoint_auth_method="private_key_jwt", jwks=read_jwks(jwks_file, jwks_url))
        return ""
    secret = "" if secret_sha256 else secrets.token_urlsafe(SECRET_BYTES)
    entry["client_secret_sha256"] = (secret_sha256 or hash_secret(secret)).lower()
    entry["token_endpoint_auth_method"] = method
    return secret


@click.group(help="Register applications (OIDC clients) in the service policy files.")
def client() -> None:
    pass


@client.command("hash-secret", help="Read a client secret on stdin; print the client_secret_sha256 to put in the "
                "policy (e.g. printf %s \"$SECRET\" | bridge client hash-secret).")
def hash_secret_command() -> None:
    secret = sys.stdin.read().rstrip("\r\n")
    if not secret:
        click.echo("error: no secret on stdin", err=True)
        raise SystemExit(1)
    click.echo(hash_secret(secret))


@client.command("add", help="Add a client to SERVICE's policy file, validate the whole directory, print the "
                "generated secret once. Nothing is written if the result would not load.")
@click.argument("service")
@click.argument("client_id")
@click.option("--redirect-uri", "redirect_uris", multiple=True, metavar="URI",
              help="Exact redirect URI (repeat for several); required with the authorization_code grant.")
@click.option("--grant-type", "grant_types", multiple=True, type=click.Choice(GRANT_TYPES), metavar="GRANT",
              help="A grant the client may use (repeatable; default authorization_code and refresh_token), e.g. "
                   "urn:ietf:params:oauth:grant-type:device_code for a kiosk (no redirect URI then).")
@click.option("--post-logout-uri", "post_logout_uris", multiple=True, metavar="URI",
              help="post_logout_redirect_uri allowed after RP-initiated logout (repeatable).")
@click.option("--backchannel-logout-uri", metavar="URI", help="Where the bridge POSTs back-channel logout tokens.")
@click.option("--scope", "scopes", multiple=True, metavar="SCOPE",
              help="Allowed scope (repeatable; default openid profile). Known: openid, profile, email, rpps.")
@click.option("--name", "display_name", help="Name shown to users (default: the client id).")
@click.option("--auth-method", type=click.Choice(["client_secret_basic", "client_secret_post", "tls_client_auth",
                                                "self_signed_tls_client_auth"]),
              default="client_secret_basic", show_default=True,
              help="How a confidential client authenticates: its secret, or its TLS certificate (RFC 8705: "
              "tls_client_auth with --tls-subject-dn, self_signed_tls_client_auth with --jwks-file/--jwks-url).")
@click.option("--public", is_flag=True, help="Public client (browser or mobile app): no secret, PKCE S256 only.")
@click.option("--jwks-file", type=click.Path(dir_okay=False),
              help="private_key_jwt (or self_signed_tls_client_auth): the client's public JWKS file.")
@click.option("--jwks-url", metavar="URL", help="private_key_jwt (or self_signed_tls_client_auth): read the client's "
              "JWKS from this URL now (the keys are copied into the policy; after a key rotation, edit the client's "
              "jwks line).")
@click.option("--tls-subject-dn", metavar="DN", help="tls_client_auth: the client certificate's subject, RFC 4514 "
              "(e.g. \"CN=crm.example.org,O=Hopital,C=FR\").")
@click.option("--consent", type=click.Choice(["required", "none"]), default="none", show_default=True,
              help="required: a third party's app, the professional allows its claims first.")
@click.option("--frontchannel-logout-uri", metavar="URI", help="Loaded in an iframe by the bridge's logout page.")
@click.option("--dpop", is_flag=True, help="Sender-constrained tokens: the client must use DPoP (RFC 9449).")
@click.option("--require-par", is_flag=True, help="The client must push its authorization requests (RFC 9126).")
@click.option("--client-secret-sha256", "secret_sha256", metavar="HEX",
              help="Use your own secret's hash (bridge client hash-secret) instead of generating one.")
@click.option("--create", is_flag=True, help="Write a new SERVICE.yaml (PSC only, 30m/4h) if no file declares it.")
@click.option("--dir", "directory", type=click.Path(file_okay=False, path_type=Path),
              envvar="BRIDGE_POLICIES_DIR", default="policies", show_default=True, show_envvar=True,
              help="Policies directory.")
@click.option("--production/--development", default=production_requested,
              help="Production refuses http redirect URIs, even on loopback, but for a public client's portless "
                   "http://127.0.0.1/… or http://[::1]/… (native app, RFC 8252) (default from BRIDGE_ENV).")
def add(service, client_id, redirect_uris, grant_types, post_logout_uris, backchannel_logout_uri, scopes,
        display_name, auth_method, public, jwks_file, jwks_url, tls_subject_dn, consent, frontchannel_logout_uri,
        dpop, require_par, secret_sha256, create, directory, production) -> None:
    try:
        entry: dict = {"client_id": client_id, "name": display_name or client_id}
        secret = _credentials(entry, auth_method, public, jwks_file, jwks_url, tls_subject_dn, secret_sha256)
        if redirect_uris or not grant_types or "authorization_code" in grant_types:
            if not redirect_uris:
                raise ClientAddError("--redirect-uri is required for the authorization_code grant")
            entry["redirect_uris"] = list(redirect_uris)
        if grant_types:
            entry["grant_types"] = list(dict.fromkeys(grant_types))
        if post_logout_uris:
            entry["post_logout_redirect_uris"] = list(post_logout_uris)
        if backchannel_logout_uri:
            entry["backchannel_logout_uri"] = backchannel_logout_uri
        if frontchannel_logout_uri:
            entry["frontchannel_logout_uri"] = frontchannel_logout_uri
        entry["scopes"] = list(scopes) or ["openid", "profile"]
        if consent == "required":
            entry["consent"] = "required"
        if dpop:
            entry["dpop_bound_access_tokens"] = True
        if require_par:
            entry["require_pushed_authorization_requests"] = True
        target = add_client(directory, service, entry, production=production, create=create)
    except ClientAddError as exc:
        click.echo(f"error: {exc}", err=True)
        raise SystemExit(1) from None
    click.echo(f"Client {client_id!r} added to service {service!r} in {target} "
               f"({entry['token_endpoint_auth_method']}).")
    if secret:
        click.echo(f"client_secret: {secret}")
        click.echo("  (shown only this once: put it in the application's configuration now; the policy keeps only "
                   "its SHA-256)")
    if "client_secret_sha256" in entry:
        click.echo(f"client_secret_sha256: {entry['client_secret_sha256']}")
    click.echo("Apply it: reload the bridge (systemctl reload psc-bridge, or kill -HUP the gunicorn master); "
               "a development server or `make demo` needs a restart.")
