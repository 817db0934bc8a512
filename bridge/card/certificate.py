"""Reading the private extensions of a CPx authentication certificate (docs/sources.md, CPS): profession, card type,
product category. The mapping to an Identity is bridge/upstream/cps_claims.py.

Shared by the agent (status: card type) and the server (bridge.pki). The test PKI writes the same fields.

Card type convention (UNCONFIRMED on real cards): the family comes from a private extension
`1.2.250.1.71.1.2.2` (the NOS OID of TRE_G02 "TypeProduit") whose value is an OCTET STRING holding the two ASCII
digits of the TRE_G02 code: "00" CPS, "01" CPF, "02" CPE/CDE, "03" CPA/CDA. A one-byte value (0x00..0x03) or an
INTEGER is read the same way. A certificate without it has an unknown type (""), which no policy allows: we do not
guess the family from the subject. Codes 02 and 03 cannot tell the "D" (dirigeant) variants apart: we report
CPE and CPA.
"""
from __future__ import annotations

from cryptography import x509

from bridge.card.apdu import parse_tlv

OID_CARD_TYPE = x509.ObjectIdentifier("1.2.250.1.71.1.2.2")         # TRE_G02 (our convention, see above)
OID_PRODUCT_CATEGORY = x509.ObjectIdentifier("1.2.250.1.71.1.2.5")  # TRE_G01: 00 CPx card, 80 test card...
OID_PROFESSION = x509.ObjectIdentifier("1.2.250.1.71.1.2.7")        # TRE_G15: 10 médecin, 50 sage-femme...

CARD_TYPES = {"00": "CPS", "01": "CPF", "02": "CPE", "03": "CPA"}
CARD_TYPE_CODES = {name: code for code, name in CARD_TYPES.items()}
PROFESSION_LABELS = {"10": "Médecin", "21": "Pharmacien", "40": "Chirurgien-Dentiste", "50": "Sage-Femme",
                     "60": "Infirmier", "70": "Masseur-Kinésithérapeute"}


def encode_code(code: str) -> bytes:
    """extnValue for our code extensions: DER OCTET STRING of the ASCII code."""
    raw = code.encode("ascii")
    return bytes([0x04, len(raw)]) + raw


def encode_integer(value: int) -> bytes:
    raw = value.to_bytes((value.bit_length() + 8) // 8, "big")
    return bytes([0x02, len(raw)]) + raw


def _extension_code(cert: x509.Certificate, oid: x509.ObjectIdentifier) -> str:
    """Two-digit code of a private extension (OCTET STRING/string of ASCII digits, one raw byte, or INTEGER)."""
    try:
        raw = cert.extensions.get_extension_for_oid(oid).value.value
        item = parse_tlv(raw)[0]
    except (x509.ExtensionNotFound, ValueError, IndexError, AttributeError):
        return ""
    value = item.value
    if item.tag == 0x02:
        return f"{int.from_bytes(value, 'big', signed=True):02d}"
    if value.isdigit():
        return value.decode("ascii")
    if len(value) == 1:
        return f"{value[0]:02X}"
    return ""


def card_type(cert: x509.Certificate) -> str:
    """CPS, CPF, CPE, CPA, or "" when the certificate does not say (see the module docstring)."""
    return CARD_TYPES.get(_extension_code(cert, OID_CARD_TYPE), "")


def product_category(cert: x509.Certificate) -> str:
    return _extension_code(cert, OID_PRODUCT_CATEGORY)


def profession_code(cert: x509.Certificate) -> str:
    return _extension_code(cert, OID_PROFESSION)


def holder_name(cert: x509.Certificate) -> str:
    """"Given-name Family-name" from the subject (GN and SN; readable without the PIN), "" when absent."""
    def first(oid) -> str:
        values = cert.subject.get_attributes_for_oid(oid)
        return str(values[0].value).strip() if values else ""

    return " ".join(part for part in (first(x509.NameOID.GIVEN_NAME), first(x509.NameOID.SURNAME)) if part)
