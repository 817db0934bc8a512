"""The neutral data model: what every upstream produces and the provider consumes.

Plain frozen dataclasses so they can be compared, hashed, stored as JSON and rebuilt without loss.
"""
from __future__ import annotations

from dataclasses import dataclass, field, fields, is_dataclass

from bridge.cps_number import logical_number

ID_KINDS = {"8": "rpps", "0": "adeli"}
# Every id_kind value: the two prefixes above, `psi` (Pro Santé Identité: PSC's PSISubjectNameID, staff enrolled
# without an RPPS number; set by bridge.upstream.psc_claims), `other` (FINESS, sandbox ids...).
KINDS = ("rpps", "adeli", "psi", "other")


def id_kind(national_id: str) -> str:
    """'8'+RPPS (11 digits) -> rpps, '0'+ADELI -> adeli; anything else (FINESS, sandbox ids...) -> other."""
    if national_id[:1] in ID_KINDS and national_id[1:].isdigit():
        return ID_KINDS[national_id[0]]
    return "other"


_FIELD_NAMES: dict[type, tuple[str, ...] | None] = {}   # dataclass -> its field names; other types -> None


def _compact(value):
    """Dataclasses become dicts (fields in order, as dataclasses.asdict gives them, without its deep copy of every
    leaf: ≈ 4 % of a login's instructions), empty values left out; dicts and lists are new containers."""
    names = _FIELD_NAMES.get(type(value), _FIELD_NAMES)   # the dict itself: not seen yet
    if names is _FIELD_NAMES:
        names = _FIELD_NAMES[type(value)] = tuple(f.name for f in fields(value)) if is_dataclass(value) else None
    if names is not None:
        value = {name: getattr(value, name) for name in names}
    if isinstance(value, dict):
        return {k: _compact(v) for k, v in value.items() if v not in ("", None, (), [], {}) or k == "national_id"}
    if isinstance(value, (list, tuple)):
        return [_compact(v) for v in value]
    return value


@dataclass(frozen=True)
class Activity:
    """One 'situation d'exercice' (PSC `activities[]`); empty strings where PSC sends ""."""

    mode: str = ""               # codeModeExercice: L libéral, S salarié
    sector: str = ""             # codeSecteurDactivite (SA07...)
    genre: str = ""              # codeGenreActivite
    role: str = ""               # codeRole
    pharmacist_section: str = ""  # codeSectionPharmacien
    organization: str = ""       # raisonSocialeSite
    siret: str = ""
    siren: str = ""
    finess: str = ""             # numeroFinessSite
    finess_legal: str = ""       # numeroFinessetablissementJuridique
    structure_id: str = ""       # identifiantTechniqueDeLaStructure
    postal_code: str = ""
    city_code: str = ""

    @property
    def label(self) -> str:
        where = self.organization or self.structure_id or self.finess or self.siret or "?"
        mode = {"L": "libéral", "S": "salarié", "B": "bénévole"}.get(self.mode, self.mode)
        return f"{where} ({mode})" if mode else where


@dataclass(frozen=True)
class Exercice:
    profession: str = ""         # codeProfession (TRE_G15: 10 médecin, 21 pharmacien, 50 sage-femme...)
    category: str = ""           # codeCategorieProfessionnelle
    savoir_faire_type: str = ""
    savoir_faire: str = ""
    civilite: str = ""           # codeCiviliteDexercice
    family_name: str = ""        # nomDexercice
    given_name: str = ""         # prenomDexercice
    activities: tuple[Activity, ...] = ()


@dataclass(frozen=True)
class Identity:
    national_id: str             # idNat_PS: PSC SubjectNameID or the card certificate CN
    given_name: str = ""
    family_name: str = ""
    exercices: tuple[Exercice, ...] = ()
    email: str = ""
    kind: str = ""               # set when the id's shape does not tell (psi); otherwise derived from it

    @property
    def id_kind(self) -> str:
        return self.kind or id_kind(self.national_id)

    def activities(self) -> list[tuple[int, int, Exercice, Activity]]:
        """Every (exercice index, activity index, exercice, activity), the choices of a 'situation d'exercice'."""
        return [(e, a, ex, act) for e, ex in enumerate(self.exercices) for a, act in enumerate(ex.activities)]


@dataclass(frozen=True)
class Card:
    type: str                    # CPS, CPF, CDE, CPE, CDA, CPA
    serial: str = ""             # what the agent read from the chip: informative, not authenticated
    cert_sha256: str = ""
    cert_issuer: str = ""        # the certificate's issuer (RFC 4514) and serial number (hex): what a CRL lists,
    cert_serial: str = ""        # so the console can tell when an opposed card's certificate is revoked

    @property
    def logical_number(self) -> str:
        """The number printed on the card's mailer (bridge.cps_number; mapping UNCONFIRMED)."""
        return logical_number(self.serial)


@dataclass(frozen=True)
class Authentication:
    identity: Identity
    mie: str                     # id from bridge.mie.CATALOGUE
    amr: tuple[str, ...]         # RFC 8176
    acr: str
    auth_time: int               # epoch seconds
    upstream: str                # psc | cps-pin | cps-tls
    card: Card | None = None
    upstream_session: dict = field(default_factory=dict)  # PSC sid, id_token (for end_session), sub, deadline
    selected_activity: tuple[int, int] | None = None      # (exercice, activity) indexes
    # Upstream facts, as reported (PSC: `acr`, `authMode`, `auth_level`); `acr` above is the bridge's (bridge.acr).
    upstream_acr: str = ""
    auth_mode: str = ""
    auth_level: str = ""

    def to_dict(self) -> dict:
        """Compact JSON-able form: empty values are left out (PSC sends many ""), defaults restore them."""
        return _compact(self)

    @classmethod
    def from_dict(cls, data: dict) -> Authentication:
        ident = dict(data["identity"])
        ident["exercices"] = tuple(
            Exercice(**{**ex, "activities": tuple(Activity(**act) for act in ex.get("activities", ()))})
            for ex in ident.get("exercices", ()))
        values = {f.name: data[f.name] for f in fields(cls) if f.name in data}
        values["identity"] = Identity(**ident)
        values["amr"] = tuple(data.get("amr", ()))
        for name in ("mie", "acr", "upstream"):
            values.setdefault(name, "")
        values["card"] = Card(**data["card"]) if data.get("card") else None
        values["selected_activity"] = tuple(data["selected_activity"]) if data.get("selected_activity") else None
        return cls(**values)

    @staticmethod
    def peek(data: dict) -> tuple[str, int, str, str]:
        """(national_id, auth_time, acr, mie) read straight from the to_dict() form. Introspection needs only these
        on every API call of an app; rebuilding the whole identity there cost 7 % of the request."""
        return data["identity"]["national_id"], data["auth_time"], data.get("acr", ""), data.get("mie", "")

    def with_activity(self, exercice: int, activity: int) -> Authentication:
        from dataclasses import replace

        return replace(self, selected_activity=(exercice, activity))

    @property
    def exercice(self) -> Exercice | None:
        """The chosen exercice, or the only one."""
        exs = self.identity.exercices
        if self.selected_activity:
            return exs[self.selected_activity[0]]
        return exs[0] if len(exs) == 1 else None

    @property
    def activity(self) -> Activity | None:
        if self.selected_activity:
            e, a = self.selected_activity
            return self.identity.exercices[e].activities[a]
        choices = self.identity.activities()
        return choices[0][3] if len(choices) == 1 else None
