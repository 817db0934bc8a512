"""Authentication.to_dict walks the dataclasses itself (no dataclasses.asdict deep copy): the same compact form as
before, and from_dict restores the same object."""
import json
from dataclasses import asdict

from bridge.model import Activity, Authentication, Card, Exercice, Identity, _compact

FULL = Authentication(
    identity=Identity(national_id="810012345678", given_name="Ada", family_name="Lovelace", email="a@example.fr",
                      exercices=(Exercice(profession="10", category="C", family_name="LOVELACE", activities=(
                          Activity(role="FON-01", sector="SA07", structure_id="1234", organization="Cabinet"),
                          Activity(role="FON-02"))), Exercice(profession="40"))),
    mie="psc-card", amr=("hwk", "pin", "mca"), acr="eidas2", auth_time=1_765_000_000, upstream="psc",
    card=Card(type="CPS", serial="2501234567", cert_sha256="ab" * 32),
    upstream_session={"sid": "s1", "id_token": "eyJ", "nested": {"a": [1, {"b": "c"}]}},
    selected_activity=(0, 1), upstream_acr="eidas2", auth_mode="CARD", auth_level="")


def test_same_compact_form_as_asdict():
    for authn in (FULL, Authentication(identity=Identity(national_id=""), mie="", amr=(), acr="", auth_time=0,
                                       upstream="")):
        assert json.dumps(authn.to_dict()) == json.dumps(_compact(asdict(authn)))
        assert Authentication.from_dict(json.loads(json.dumps(authn.to_dict()))) == authn


def test_the_dict_is_a_copy():
    data = FULL.to_dict()
    data["upstream_session"]["nested"]["a"].append(2)
    data["identity"]["exercices"][0]["activities"].clear()
    assert FULL.upstream_session["nested"]["a"] == [1, {"b": "c"}]
    assert FULL.to_dict()["identity"]["exercices"][0]["activities"][1] == {"role": "FON-02"}
