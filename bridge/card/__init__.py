"""Direct CPS card access, workstation side, plus what the server shares with it.

- apdu.py         ISO 7816 command builders, BER-TLV, PKCS#1 type-1 padding (pure)
- pcsc.py         PC/SC (pyscard's scard layer): reader states, shared connections, transactions, bounded waits,
                  transmit with `61 xx` / `6C xx` handling
- slots.py        reader and slot names (pcsc-lite "<reader> <slot>"), ATR kinds (CPx, carte Vitale, other)
- profiles.py     CPS3 (IAS-ECC) and CPS4 (ChipDoc) behind one interface; ATR + EF.SN.ICC detection
- errors.py       NoReader, NoCard, NoCpsCard, SeveralCards, CardRemoved, CardReset, Busy, UnsupportedCard,
                  WrongPin(tries_left), CardBlocked (`.code`)
- certificate.py  card type, profession, holder name from an authentication certificate (agent and server)
- service.py      the agent's card operations: status of every slot, sign, which card signed where
- watch.py        the removal watch: SCardGetStatusChange, then POST <bridge>/cps/removed {capability}
- agent.py        `bridge card-agent`: loopback HTTP agent (/v1/status, /v1/sign, /v1/watch)
What the card signs is bridge/cps_proof.py; the card's printed number bridge/cps_number.py.
"""
