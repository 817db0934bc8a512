"""A CPx card certificate as a neutral Identity: the direct card means' counterpart of psc_claims.py.

The subject gives the national id and names, the profession extension (bridge/card/certificate.py reads the
private extensions) the exercice; the card type and product category travel with the Card (bridge/pki/)."""
from __future__ import annotations

from cryptography import x509
from cryptography.x509.oid import NameOID

from bridge.card.certificate import profession_code
from bridge.model import Exercice, Identity


def _attribute(name: x509.Name, oid: x509.ObjectIdentifier) -> str:
    values = name.get_attributes_for_oid(oid)
    return str(values[0].value) if values else ""


def identity(cert: x509.Certificate) -> Identity:
    """Subject `CN=<PS_IdNat>+SN=<nom>+GN=<prénom>, title=<profession>, C=FR` -> neutral Identity."""
    subject = cert.subject
    national_id = _attribute(subject, NameOID.COMMON_NAME)
    if not national_id:
        raise ValueError("certificate subject has no CN (PS_IdNat)")
    family = _attribute(subject, NameOID.SURNAME)
    given = _attribute(subject, NameOID.GIVEN_NAME)
    profession = profession_code(cert)
    exercices = (Exercice(profession=profession, family_name=family, given_name=given),) if profession else ()
    return Identity(national_id=national_id, given_name=given, family_name=family, exercices=exercices)


def title(cert: x509.Certificate) -> str:
    return _attribute(cert.subject, NameOID.TITLE)
