"""The `admins:` list of the admin service policy: who may enter the admin console."""
from __future__ import annotations

import pytest

from bridge.policy import PolicyError, load_policies

ADMIN = """\
service: admin
clients:
  - client_id: bridge-admin
    token_endpoint_auth_method: none
    redirect_uris: [http://127.0.0.1:8000/admin/callback]
allowed_mie: [psc]
"""


def load(tmp_path, text: str, name: str = "admin.yaml"):
    (tmp_path / name).write_text(text)
    return load_policies(tmp_path)


def test_quoted_national_ids_are_kept_as_written(tmp_path):
    policies = load(tmp_path, ADMIN + 'admins: ["899700000001", "0751234567"]\n')
    assert policies.services["admin"].admins == ("899700000001", "0751234567")


def test_unquoted_ids_are_refused_because_yaml_drops_leading_zeros(tmp_path):
    with pytest.raises(PolicyError) as error:
        load(tmp_path, ADMIN + "admins: [0751234567]\n")
    assert "admins[0]" in str(error.value) and "quoted" in str(error.value)


def test_bad_or_duplicate_ids(tmp_path):
    with pytest.raises(PolicyError) as error:
        load(tmp_path, ADMIN + 'admins: ["8997 0001", "899700000001", "899700000001"]\n')
    text = str(error.value)
    assert "admins[0]: '8997 0001' is not a national id" in text and "admins[2]" in text and "twice" in text


def test_only_the_admin_service_has_administrators(tmp_path):
    other = ADMIN.replace("service: admin", "service: dpi").replace("bridge-admin", "dpi-web")
    with pytest.raises(PolicyError) as error:
        load(tmp_path, other + 'admins: ["899700000001"]\n', "dpi.yaml")
    assert "only the 'admin' service" in str(error.value)


def test_an_admin_policy_without_admins_warns(tmp_path):
    policies = load(tmp_path, ADMIN)
    assert policies.services["admin"].admins == ()
    assert any("refuses everyone" in w for w in policies.warnings)


def test_shipped_admin_policy_names_the_demo_administrator():
    assert load_policies("policies").services["admin"].admins == ("899700000001",)
