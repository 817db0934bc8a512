"""Direct CPS card access, workstation side, plus what the server shares with it.

- apdu.py         ISO 7816 command builders, BER-TLV, PKCS#1 type-1 padding (pure)
- pcsc.py         pyscard: readers, connection, transmit with `61 xx` / `6C xx` handling
- profiles.py     CPS3 (IAS-ECC) and CPS4 (ChipDoc) behind one interface; ATR + EF.SN.ICC detection
- errors.py       NoReader, NoCard, CardRemoved, UnsupportedCard, WrongPin(tries_left), CardBlocked (`.code`)
- proof.py        signed_message(origin, challenge) / digest_info(): what the card signs (agent and server)
- certificate.py  identity, profession and card type from an authentication certificate
- agent.py        `bridge card-agent`: loopback HTTP agent (/v1/status, /v1/sign)
"""
