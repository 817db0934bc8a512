"""What a local app learns about the user (bridge/provider/claims.py): `sub`, public or pairwise, and the claims
each scope releases. Pure functions: no server, no store."""
from __future__ import annotations

import base64
import hashlib
import hmac

import pytest

from bridge.model import Activity, Card, Exercice, Identity
from bridge.provider.claims import subject, user_claims
from tests.unit.test_policy_support import login, service

SECRET = "bridge-secret-key-for-tests"
NATIONAL_ID = "810001234567"

CHU = Activity(mode="S", sector="SA01", organization="CHU de Nantes", finess="440000289", finess_legal="440000271",
               siret="26440013600013", siren="264400136", structure_id="R10000001", role="FON-01", genre="GENR01",
               postal_code="44093")
CABINET = Activity(mode="L", organization="Cabinet Martin", siret="12345678900011")
DOCTOR = Exercice(profession="10", category="C", savoir_faire_type="S", savoir_faire="SM54", civilite="DR",
                  family_name="MARTIN-DURAND", given_name="Jeanne-Marie", activities=(CHU, CABINET))
PHARMACIST = Exercice(profession="21", category="C", activities=(Activity(mode="L", organization="Pharmacie"),))


def identity(*exercices: Exercice, email: str = "jeanne@example.org") -> Identity:
    return Identity(national_id=NATIONAL_ID, given_name="Jeanne", family_name="Martin", exercices=exercices,
                    email=email)


# --- sub ---------------------------------------------------------------------------------------------------------

def test_public_subject_is_the_national_id():
    assert subject(service(), NATIONAL_ID, SECRET) == NATIONAL_ID
    assert subject(service(subject_type="public"), NATIONAL_ID, "another secret") == NATIONAL_ID


def test_pairwise_subject_is_hmac_sha256_of_service_and_national_id_in_base64url():
    # The pairwise value is what apps store as the user's key: its construction must never change silently.
    expected = base64.urlsafe_b64encode(
        hmac.new(SECRET.encode(), f"svc|{NATIONAL_ID}".encode(), hashlib.sha256).digest()).rstrip(b"=").decode()
    sub = subject(service(subject_type="pairwise"), NATIONAL_ID, SECRET)
    assert sub == expected
    assert len(sub) == 43 and "=" not in sub and NATIONAL_ID not in sub


def test_pairwise_subject_is_stable_and_differs_per_service_person_and_secret():
    pairwise = service(subject_type="pairwise")
    sub = subject(pairwise, NATIONAL_ID, SECRET)
    assert subject(service(subject_type="pairwise"), NATIONAL_ID, SECRET) == sub
    others = {subject(service(subject_type="pairwise", service="other"), NATIONAL_ID, SECRET),
              subject(pairwise, "810009999999", SECRET),
              subject(pairwise, NATIONAL_ID, SECRET + "2")}
    assert sub not in others and len(others) == 3


def test_the_service_and_national_id_cannot_be_shifted_across_the_separator():
    # "a|bc" vs "ab|c": the separator keeps two different (service, person) pairs apart.
    assert subject(service(subject_type="pairwise", service="svc1"), "23", SECRET) \
        != subject(service(subject_type="pairwise", service="svc"), "123", SECRET)


# --- scopes ------------------------------------------------------------------------------------------------------

def test_openid_alone_gives_sub_and_means_only():
    authn = login("psc-card", identity=identity(DOCTOR), selected=(0, 0))
    assert user_claims(authn, {"openid"}, "sub-1") == {"sub": "sub-1", "mie": "psc-card"}
    assert user_claims(authn, set(), "sub-2") == {"sub": "sub-2", "mie": "psc-card"}


def test_profile_prefers_the_names_of_the_chosen_exercice():
    authn = login(identity=identity(DOCTOR, PHARMACIST), selected=(0, 1))
    claims = user_claims(authn, {"openid", "profile"}, "s")
    assert (claims["given_name"], claims["family_name"], claims["name"]) == (
        "Jeanne-Marie", "MARTIN-DURAND", "Jeanne-Marie MARTIN-DURAND")


def test_profile_falls_back_to_the_identity_names_field_by_field():
    only_family = Exercice(profession="10", family_name="DUPONT", activities=(CHU,))
    claims = user_claims(login(identity=identity(only_family)), {"profile"}, "s")
    assert (claims["given_name"], claims["family_name"], claims["name"]) == ("Jeanne", "DUPONT", "Jeanne DUPONT")
    only_given = Exercice(profession="10", given_name="Marie", activities=(CHU,))
    claims = user_claims(login(identity=identity(only_given)), {"profile"}, "s")
    assert (claims["given_name"], claims["family_name"]) == ("Marie", "Martin")


def test_profile_without_a_chosen_exercice_uses_the_identity_names():
    claims = user_claims(login(identity=identity(DOCTOR, PHARMACIST)), {"profile"}, "s")
    assert (claims["given_name"], claims["family_name"], claims["name"]) == ("Jeanne", "Martin", "Jeanne Martin")


@pytest.mark.parametrize("given, family, name", [("", "Martin", "Martin"), ("Jeanne", "", "Jeanne"), ("", "", "")])
def test_name_has_no_stray_space_when_a_part_is_missing(given, family, name):
    person = Identity(national_id=NATIONAL_ID, given_name=given, family_name=family)
    claims = user_claims(login(identity=person), {"profile"}, "s")
    assert (claims["given_name"], claims["family_name"], claims["name"]) == (given, family, name)


def test_email_only_with_its_scope_and_when_known():
    authn = login(identity=identity(DOCTOR))
    assert user_claims(authn, {"email"}, "s")["email"] == "jeanne@example.org"
    assert "email" not in user_claims(authn, {"profile", "rpps"}, "s")
    assert "email" not in user_claims(login(identity=identity(DOCTOR, email="")), {"email"}, "s")


def test_rpps_releases_identifiers_exercice_activity_and_card():
    authn = login("cps-pin", identity=identity(DOCTOR, PHARMACIST), selected=(0, 0), card=Card(type="CPS"))
    claims = user_claims(authn, {"openid", "rpps"}, "s")
    assert claims == {
        "sub": "s", "mie": "cps-pin", "national_id": NATIONAL_ID, "national_id_type": "rpps",
        "profession": "10", "profession_category": "C", "savoir_faire": "SM54",
        "activity": {"mode": "S", "sector": "SA01", "organization": "CHU de Nantes", "finess": "440000289",
                     "finess_legal": "440000271", "siret": "26440013600013", "siren": "264400136",
                     "structure_id": "R10000001", "role": "FON-01"},
        "card_type": "CPS"}


def test_rpps_without_a_chosen_situation_gives_identifiers_only():
    claims = user_claims(login("psc-card", identity=identity(DOCTOR, PHARMACIST)), {"rpps"}, "s")
    assert claims == {"sub": "s", "mie": "psc-card", "national_id": NATIONAL_ID, "national_id_type": "rpps"}


def test_rpps_with_one_exercice_of_several_activities_gives_the_exercice_but_no_activity():
    claims = user_claims(login("psc-card", identity=identity(DOCTOR)), {"rpps"}, "s")
    assert (claims["profession"], claims["savoir_faire"]) == ("10", "SM54")
    assert "activity" not in claims and "card_type" not in claims


def test_rpps_reports_the_kind_of_national_id():
    adeli = Identity(national_id="0751234567")
    assert user_claims(login(identity=adeli), {"rpps"}, "s")["national_id_type"] == "adeli"


def test_every_scope_together():
    authn = login("cps-pin", identity=identity(PHARMACIST), card=Card(type="CPF"))
    claims = user_claims(authn, {"openid", "profile", "email", "rpps"}, "s")
    assert set(claims) == {"sub", "mie", "given_name", "family_name", "name", "email", "national_id",
                           "national_id_type", "profession", "profession_category", "savoir_faire", "activity",
                           "card_type"}
    assert claims["activity"]["organization"] == "Pharmacie" and claims["card_type"] == "CPF"
