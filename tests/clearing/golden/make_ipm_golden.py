#!/usr/bin/env python3
"""Build the Mastercard IPM golden files for tests/clearing/test_ipm.c.

Written from the published IPM layout (Mastercard "IPM Clearing Formats":
message layouts for 1644 file header/trailer, 1240, 1442, 1740; data element
and PDS definitions), independently of switch/clearing/clr_ipm.c: every
field is spelled out below with its number, name and format.

Framing (IPM offline file structure): each message is preceded by a 4-byte
big-endian record descriptor word (RDW) holding the message's length; the
file ends with an RDW of 0. In the 1014-blocked form that byte stream is cut
into 1012-byte pieces, each followed by two 0x40 bytes, the last piece filled
up with 0x40.

Message: MTI (n-4), primary bitmap (b-8), secondary bitmap (b-8, always
present in IPM: bit 1 of the primary bitmap set), then the data elements in
ascending order. Text and digits are EBCDIC (code page 037); LLVAR/LLLVAR
length prefixes are 2/3 EBCDIC digits.

Output (next to this script):
  ipm-sample.ipm / ipm-sample-blocked.ipm    header, seven financial
      messages, one non-financial 1644 (financial detail addendum, 696)
      after the first presentment, trailer
  ipm-records.ipm / ipm-records-blocked.ipm  the same without the 1644/696:
      what clr_writer produces from the seven records

Run: python3 make_ipm_golden.py   (Python 3 standard library only)
"""
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))

# PDS 0105 File ID, n-25: file type (n-3), file reference date (YYMMDD),
# processor ID (n-11), file sequence number (n-5).
FILE_ID = "002" + "250314" + "00000012345" + "00042"
assert len(FILE_ID) == 25


def ebcdic(text):
    return text.encode("cp037")


def fixed_n(value, width):
    """Fixed-length numeric: right-justified, zero-filled."""
    s = "%0*d" % (width, value) if isinstance(value, int) else value
    assert len(s) == width and s.isdigit(), (s, width)
    return ebcdic(s)


def fixed_ans(text, width):
    """Fixed-length text: left-justified, space-filled."""
    assert len(text) <= width, (text, width)
    return ebcdic(text.ljust(width))


def llvar(text, maximum):
    assert 0 < len(text) <= maximum, (text, maximum)
    return ebcdic("%02d" % len(text)) + ebcdic(text)


def lllvar(text, maximum):
    assert 0 < len(text) <= maximum, (text, maximum)
    return ebcdic("%03d" % len(text)) + ebcdic(text)


def pds(tag, data):
    """One private data subelement: tag n-4, length n-3, data."""
    return "%04d%03d%s" % (tag, len(data), data)


def message(mti, fields):
    """fields: {DE number: encoded bytes}. Returns RDW + message."""
    bitmap = bytearray(16)
    bitmap[0] |= 0x80                       # DE 1: secondary bitmap present
    body = b""
    for de in sorted(fields):
        assert 2 <= de <= 128
        bitmap[(de - 1) // 8] |= 0x80 >> ((de - 1) % 8)
        body += fields[de]
    msg = fixed_n(mti, 4) + bytes(bitmap) + body
    return struct.pack(">I", len(msg)) + msg


def luhn_digit(digits):
    total = 0
    for i, c in enumerate(reversed(digits)):
        d = int(c)
        if i % 2 == 0:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return str((10 - total % 10) % 10)


def arn(bin6, julian, seq):
    """DE 31 acquirer reference data, n-23: mixed-use digit, acquirer BIN
    (6), Julian processing date YDDD (4), acquirer sequence (11), check
    digit."""
    body = "0" + bin6 + julian + "%011d" % seq
    return body + luhn_digit(body)


def de43(name, city, country):
    """DE 43 card acceptor name/location, ans..99: name \\ street \\ city \\
    postal code (ans-10) region (ans-3) country (ans-3). These merchants have
    no street, postal code or region."""
    return name + "\\" + "" + "\\" + city + "\\" + " " * 10 + " " * 3 + country.ljust(3)


# The seven financial records. Keys are the data elements; values are the
# plain text the layout places there (encoded in financial() below).
RECORDS = [
    dict(  # purchase, first presentment, cardholder billed in USD
        mti=1240, de2="5413330089020011", de3="000000", de4=12345, de6=13580,
        de12="250312", de24="200", de26="5411",
        de31=arn("541334", "5071", 1), de33="012345", de38="A1B2C3",
        de41="TERM0001", de42="MERCHANT0000001",
        de43=de43("ACME GROCERY", "BERLIN", "DEU"), de49=978, de51=840),
    dict(  # ATM cash withdrawal, first presentment
        mti=1240, de2="5555555555554444", de3="010000", de4=20000,
        de12="250313", de24="200", de26="6011",
        de31=arn("541334", "5072", 2), de33="012345", de38="654321",
        de41="ATM00042", de42="ATMOPERATOR0042",
        de43=de43("HIGH ST ATM", "LONDON", "GBR"), de49=826),
    dict(  # credit (purchase return): DE 3 starts 20, no approval code
        mti=1240, de2="5413330089020011", de3="200000", de4=2599,
        de12="250311", de24="200", de26="5651",
        de31=arn("541334", "5072", 3), de33="012345",
        de41="POS00007", de42="SHOEPALACE00007",
        de43=de43("SHOE PALACE", "PARIS", "FRA"), de49=978),
    dict(  # second presentment (full), message reason 2713
        mti=1240, de2="5413330089020011", de3="000000", de4=4500,
        de12="250301", de24="205", de25="2713", de26="5812",
        de31=arn("541334", "5062", 4), de33="012345", de38="XYZ789",
        de42="CAFECENTRAL0001",
        de43=de43("CAFE CENTRAL", "VIENNA", "AUT"), de49=978),
    dict(  # reversal of a first presentment: PDS 0025 R + original date
        mti=1240, de2="5200828282828210", de3="000000", de4=999,
        de12="250312", de24="200", de26="5999",
        de31=arn("541334", "5072", 5), de33="012345", de38="777001",
        de42="ONLINESTORE0001",
        de43=de43("ONLINE STORE", "NEW YORK", "USA"),
        de48=pds(25, "R" + "250312"), de49=840),
    dict(  # first chargeback (full), 1442, message reason 4837
        mti=1442, de2="5413330089020011", de3="000000", de4=12345,
        de12="250220", de24="450", de25="4837", de26="5411",
        de31=arn("541334", "5051", 6), de33="012345", de38="A1B2C3",
        de41="TERM0001", de42="MERCHANT0000001",
        de43=de43("ACME GROCERY", "BERLIN", "DEU"), de49=978),
    dict(  # fee collection, 1740, no acquirer reference data
        mti=1740, de2="5413330089020011", de3="190000", de4=1500,
        de12="250314", de24="700", de25="7600", de33="012345", de49=978),
]


def financial(rec, msgno):
    f = {}
    if "de2" in rec:
        f[2] = llvar(rec["de2"], 19)                 # DE 2 PAN, n..19 LLVAR
    f[3] = fixed_n(rec["de3"], 6)                    # DE 3 processing code, n-6
    f[4] = fixed_n(rec["de4"], 12)                   # DE 4 amount, transaction, n-12
    if "de6" in rec:
        f[6] = fixed_n(rec["de6"], 12)               # DE 6 amount, cardholder billing, n-12
    # DE 12 date and time, local transaction, n-12 YYMMDDhhmmss (no time known: 000000)
    f[12] = fixed_n(rec["de12"] + "000000", 12)
    f[24] = fixed_n(rec["de24"], 3)                  # DE 24 function code, n-3
    if "de25" in rec:
        f[25] = fixed_n(rec["de25"], 4)              # DE 25 message reason code, n-4
    if "de26" in rec:
        f[26] = fixed_n(rec["de26"], 4)              # DE 26 card acceptor business code (MCC), n-4
    if "de31" in rec:
        f[31] = llvar(rec["de31"], 23)               # DE 31 acquirer reference data, ..23 LLVAR
    f[33] = llvar(rec["de33"], 11)                   # DE 33 forwarding institution ID, n..11 LLVAR
    if "de38" in rec:
        f[38] = fixed_ans(rec["de38"], 6)            # DE 38 approval code, ans-6
    if "de41" in rec:
        f[41] = fixed_ans(rec["de41"], 8)            # DE 41 card acceptor terminal ID, ans-8
    if "de42" in rec:
        f[42] = fixed_ans(rec["de42"], 15)           # DE 42 card acceptor ID code, ans-15
    if "de43" in rec:
        f[43] = llvar(rec["de43"], 99)               # DE 43 card acceptor name/location, ans..99 LLVAR
    if "de48" in rec:
        f[48] = lllvar(rec["de48"], 999)             # DE 48 additional data (PDS), ..999 LLLVAR
    f[49] = fixed_n(rec["de49"], 3)                  # DE 49 currency code, transaction, n-3
    if "de51" in rec:
        f[51] = fixed_n(rec["de51"], 3)              # DE 51 currency code, cardholder billing, n-3
    f[71] = fixed_n(msgno, 8)                        # DE 71 message number, n-8
    return message(rec["mti"], f)


def header(msgno):
    return message(1644, {
        24: fixed_n("697", 3),                       # DE 24 function code 697: file header
        48: lllvar(pds(105, FILE_ID), 999),          # DE 48: PDS 0105 file ID
        71: fixed_n(msgno, 8),                       # DE 71 message number
    })


def addendum(msgno, first_presentment_msgno):
    # 1644/696 financial detail addendum: PDS 0501 transaction description:
    # usage code n-2, industry record number n-3, occurrence indicator n-3,
    # associated first presentment number n-8 (the 1240's DE 71).
    return message(1644, {
        24: fixed_n("696", 3),
        48: lllvar(pds(501, "01" + "000" + "001" + "%08d" % first_presentment_msgno), 999),
        71: fixed_n(msgno, 8),
    })


def trailer(msgno, amount_sum):
    # PDS 0301 file amount checksum n-16: DE 4 summed over every message of
    # the file; PDS 0306 file message count n-8: every message including the
    # header and this trailer.
    return message(1644, {
        24: fixed_n("695", 3),                       # DE 24 function code 695: file trailer
        48: lllvar(pds(105, FILE_ID)
                   + pds(301, "%016d" % amount_sum)
                   + pds(306, "%08d" % msgno), 999),
        71: fixed_n(msgno, 8),
    })


def build(with_addendum):
    out = [header(1)]
    n = 1
    for i, rec in enumerate(RECORDS):
        n += 1
        out.append(financial(rec, n))
        if with_addendum and i == 0:
            n += 1
            out.append(addendum(n, n - 1))
    n += 1
    out.append(trailer(n, sum(r["de4"] for r in RECORDS)))
    return b"".join(out) + struct.pack(">I", 0)     # RDW of 0: end of file


def block1014(data):
    if len(data) % 1012:
        data += b"\x40" * (1012 - len(data) % 1012)
    return b"".join(data[i:i + 1012] + b"\x40\x40" for i in range(0, len(data), 1012))


def main():
    for name, with_addendum in (("ipm-sample", True), ("ipm-records", False)):
        data = build(with_addendum)
        for suffix, body in (("", data), ("-blocked", block1014(data))):
            with open(os.path.join(HERE, name + suffix + ".ipm"), "wb") as f:
                f.write(body)


if __name__ == "__main__":
    main()
