"""The card layer against a virtual card, through pyscard + a real pcscd + the vpcd reader."""
import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding

from bridge import cps_proof as proof
from bridge.card import apdu, pcsc
from bridge.card.errors import CardBlocked, CardRemoved, NoCard, NoReader, UnsupportedCard, WrongPin
from bridge.card.profiles import open_card


def verify_signature(material, signature, origin, challenge):
    material.certificate.public_key().verify(signature, proof.signed_message(origin, challenge),
                                             padding.PKCS1v15(), hashes.SHA256())


def test_detects_cps3_and_reads_serial_and_certificate(insert_card, test_pki):
    material = test_pki.card("899700000001")
    insert_card(material)
    with open_card() as card:
        assert card.generation == "CPS3"
        assert card.serial == material.serial
        assert card.read_certificate() == material.cert_der


def test_tries_go_down_block_and_unblock(insert_card):
    virtual = insert_card(pin="4321", puk="87654321")
    with open_card() as card:
        assert card.pin_tries_left() == 3
        with pytest.raises(WrongPin) as first:
            card.verify_pin("0000")
        assert first.value.tries_left == 2
        with pytest.raises(WrongPin) as second:
            card.verify_pin("1111")
        assert second.value.tries_left == 1
        assert card.pin_tries_left() == 1
        with pytest.raises(CardBlocked):
            card.verify_pin("2222")
        assert card.pin_tries_left() == 0
        with pytest.raises(CardBlocked):      # 69 83: even the right PIN is refused now
            card.verify_pin("4321")
        assert card.connection.transmit(apdu.verify(0x01, apdu.pin_block("4321"))).sw == apdu.SW_BLOCKED
        with pytest.raises(WrongPin):
            card.unblock("11111111")           # a wrong unblock code is refused
        card.unblock("87654321")
        assert card.pin_tries_left() == 3
        card.verify_pin("4321")
    assert virtual.pin_tries == 3


def test_tries_survive_removal_and_reinsertion(insert_card, pcscd):
    from tests.support.pcsc import wait_card_state

    virtual = insert_card()
    with open_card() as card:
        with pytest.raises(WrongPin):
            card.verify_pin("9999")
    virtual.remove()
    wait_card_state(pcscd.reader, False)
    virtual.insert(pcscd.port)
    wait_card_state(pcscd.reader, True)
    with open_card() as card:
        assert card.pin_tries_left() == 2


def test_a_blocked_card_reports_zero_tries(insert_card):
    insert_card(blocked=True)
    with open_card() as card:
        assert card.pin_tries_left() == 0
        with pytest.raises(CardBlocked):
            card.verify_pin("1234")


def test_sign_and_verify_with_the_certificate_key(insert_card, test_pki):
    material = test_pki.card("899700000001")
    virtual = insert_card(material)
    with open_card() as card:
        card.verify_pin("1234")
        signature = card.sign(proof.digest_info("https://bridge.example", "challenge-0001"))
    assert len(signature) == 256
    verify_signature(material, signature, "https://bridge.example", "challenge-0001")
    # what went over the wire: MSE SET AT key 0x82 then INTERNAL AUTHENTICATE, answered through GET RESPONSE
    sent = [c[:2] for c in virtual.commands]
    assert bytes.fromhex("0022") in sent and bytes.fromhex("0088") in sent and bytes.fromhex("00C0") in sent


def test_sign_without_pin_is_refused_by_the_card(insert_card):
    insert_card()
    with open_card() as card:
        with pytest.raises(Exception) as refused:
            card.sign(proof.digest_info("https://bridge.example", "challenge-0001"))
        assert getattr(refused.value, "sw", None) == apdu.SW_SECURITY


def test_pin_verification_does_not_outlive_the_connection(insert_card):
    insert_card()
    with open_card() as card:
        card.verify_pin("1234")
    with open_card() as card:     # the agent's disconnect powered the card down
        with pytest.raises(Exception) as refused:
            card.sign(proof.digest_info("https://bridge.example", "challenge-0001"))
        assert getattr(refused.value, "sw", None) == apdu.SW_SECURITY


def test_cps4_profile_signs_with_host_padding(insert_card, test_pki):
    material = test_pki.card("899700000002")
    virtual = insert_card(material, generation="CPS4")
    with open_card() as card:
        assert card.generation == "CPS4"
        assert card.read_certificate() == material.cert_der
        assert card.pin_tries_left() == 3
        card.verify_pin("1234")
        signature = card.sign(proof.digest_info("https://bridge.example", "challenge-0002"))
    verify_signature(material, signature, "https://bridge.example", "challenge-0002")
    assert bytes.fromhex("112A8086") in virtual.commands     # chained PSO DECIPHER on channel 1


def test_card_removed_mid_operation(insert_card):
    virtual = insert_card()
    virtual.remove_on.add(0x88)
    with open_card() as card:
        card.verify_pin("1234")
        with pytest.raises(CardRemoved):
            card.sign(proof.digest_info("https://bridge.example", "challenge-0001"))


def test_no_card(pcscd):
    with pytest.raises(NoCard):
        open_card(pcscd.reader)


def test_no_reader(pcscd):
    with pytest.raises(NoReader):
        open_card("No Such Reader 99")
    assert pcscd.reader in pcsc.list_readers()


def test_non_cps_atr_is_unsupported(insert_card):
    virtual = insert_card(atr=bytes.fromhex("3B021450"))   # a plain T=0 ATR (SIM-like)
    with pytest.raises(UnsupportedCard):
        open_card()
    assert virtual.commands == []      # refused on the ATR alone


def test_cps_atr_with_foreign_serial_is_unsupported(insert_card):
    insert_card(sn_icc=apdu.encode_tlv(0x5A, bytes.fromhex("80250000022900995235")))
    with pytest.raises(UnsupportedCard):
        open_card()


def test_cps_atr_without_ef_sn_icc_is_unsupported(insert_card):
    insert_card(sn_icc=b"\x5a\x03\x80\x25\x00")      # wrong length
    with pytest.raises(UnsupportedCard):
        open_card()
