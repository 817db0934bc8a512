"""APDU builders and parsers against the byte strings of docs/sources.md, CPS."""
import hashlib

import pytest

from bridge import cps_proof as proof
from bridge.card import apdu
from bridge.card.errors import UnsupportedCard
from bridge.card.profiles import CPS3, CPS4, profile_for_atr

H = bytes.fromhex


def test_select_cps3_application_with_fcp():
    # cps.md §4: 00 A4 04 04 0D E8 28 BD 08 0F 80 25 00 00 01 FF 00 10 00
    assert apdu.select_aid(CPS3.aid, fcp=True) == H("00A404040DE828BD080F8025000001FF001000")


def test_select_cps4_application_on_channel_1():
    # cps.md §4: 01 A4 04 0C 08 80 25 00 00 01 FF 01 00
    assert apdu.select_aid(CPS4.aid, cla=CPS4.cla) == H("01A4040C088025000001FF0100")


def test_select_mf_like_cryptolib():
    assert apdu.select_mf() == H("00A4090C023F00")


def test_select_ef_sn_icc_by_path_from_mf_drops_3f00():
    assert apdu.select_path(H("3F00D003")) == H("00A4080C02D003")


def test_mse_set_at_for_the_cps3_authentication_key():
    # cps.md §4: 00 22 41 A4 06 84 01 82 80 01 02
    assert apdu.mse_set_at(0x82) == H("002241A406840182800102")


def test_mse_set_ct_for_cps4():
    assert apdu.mse_set_ct(0x20) == H("012241B803830120")


def test_pin_counter_query_like_cryptolib():
    # cps.md §3: 00 CB 3F FF 0A 4D 08 70 06 BF 81 <ref> 02 A0 80 00
    assert apdu.pin_counter_query(0x01) == H("00CB3FFF0A4D087006BF810102A08000")


def test_internal_authenticate_is_case_4():
    data = b"\x30" * 51
    assert apdu.internal_authenticate(data) == H("00880000") + bytes([51]) + data + b"\x00"


def test_verify_and_empty_verify():
    assert apdu.verify(0x01, apdu.pin_block("1234")) == H("0020000108") + b"1234" + b"\xff" * 4
    assert apdu.verify_query(0x01) == H("00200001")


def test_pin_block_refuses_malformed_pins():
    for bad in ("123", "12a4", "123456789", ""):
        with pytest.raises(ValueError):
            apdu.pin_block(bad)


def test_reset_retry_counter_forms():
    assert apdu.reset_retry_counter(0x01, b"12345678") == H("002C010108") + b"12345678"
    assert apdu.reset_retry_counter(0x01, b"12345678", b"9999\xff\xff\xff\xff")[:5] == H("002C000110")


def test_read_binary_offsets_and_get_response():
    assert apdu.read_binary(0x1CE, 0xE7) == H("00B001CEE7")
    assert apdu.get_response(0x00) == H("00C0000000")
    with pytest.raises(ValueError):
        apdu.read_binary(0x8000, 1)


def test_pso_decipher_chains_a_2048_bit_block():
    blocks = apdu.pso_decipher(b"\x01" * 256)
    assert [b[:5] for b in blocks] == [H("112A8086FF"), H("012A808601")]
    assert b"".join(b[5:] for b in blocks) == b"\x01" * 256


@pytest.mark.parametrize("sw,tries", [(0x63C2, 2), (0x63C1, 1), (0x63C0, 0), (0x6983, 0), (0x9000, None),
                                      (0x6A82, None)])
def test_tries_from_status_word(sw, tries):
    assert apdu.tries_from_sw(sw) == tries


def test_tlv_parses_ef_sn_icc_and_pin_counter():
    sn = H("5A0A8025000001") + H("2900995235")
    (item,) = apdu.parse_tlv(sn)
    assert (item.tag, item.value) == (0x5A, H("80250000012900995235"))
    counter = H("700CBF810108A0069A01039B0101")
    found = apdu.find_tlv(apdu.parse_tlv(counter), 0x9B)
    assert found.value == b"\x01"
    assert apdu.find_tlv(apdu.parse_tlv(counter), 0xBF8101).constructed


def test_tlv_long_lengths_and_padding_round_trip():
    value = bytes(300)
    encoded = apdu.encode_tlv(0x04, value)
    assert encoded[:4] == H("04820 12C".replace(" ", ""))
    assert apdu.parse_tlv(encoded + b"\xff\xff") == [apdu.Tlv(0x04, value, False)]
    with pytest.raises(ValueError):
        apdu.parse_tlv(H("0405AABB"))


def test_fcp_file_size():
    assert apdu.fcp_file_size(H("620B8002049A820101830270 05".replace(" ", ""))) == 0x049A


def test_pkcs1_type1_block():
    block = apdu.pkcs1_type1(b"\xAA" * 51, 256)
    assert len(block) == 256 and block[:2] == H("0001") and block[-52:] == b"\x00" + b"\xAA" * 51
    assert set(block[2:-52]) == {0xFF}


def test_atr_detection():
    assert profile_for_atr(H("3BAC00402A001225006480000310009000")) is CPS3
    assert profile_for_atr(H("3BAC00402A001225006480820212009000")) is CPS3     # the other CPS3 ATR seen
    assert profile_for_atr(H("3B9B188001001225006480040100009044")) is CPS4
    with pytest.raises(UnsupportedCard):   # Oberthur, listed as NOT a CPS
        profile_for_atr(H("3B7D180000003180718E6477E30100829000"))


def test_proof_message_digest_info():
    message = proof.signed_message("https://bridge.example", "abc")
    assert message == b"psc-bridge-cps-v1|https://bridge.example|abc"
    info = proof.digest_info("https://bridge.example", "abc")
    assert info == H("3031300d060960864801650304020105000420") + hashlib.sha256(message).digest()
    assert len(info) == 51


@pytest.mark.parametrize("origin,challenge", [("https://a|b", "c"), ("https://a", "x|y"), ("", "c"),
                                              ("https://a", ""), ("https://a", "new\nline")])
def test_proof_refuses_ambiguous_fields(origin, challenge):
    with pytest.raises(ValueError):
        proof.signed_message(origin, challenge)
