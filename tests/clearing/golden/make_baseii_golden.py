#!/usr/bin/env python3
"""Build the Visa BASE II golden files that tests/clearing/test_baseii.c reads.

Every record is filled position by position from the published TCR layouts
(docs/clearing-baseii.md names the sources), independently of the C reader
and writer: positions are 1-based as in Visa's tables, each field says what
it is, and TCR.put refuses a field that overlaps another or runs past 168.

Files (run from anywhere; they are written next to this script):
  baseii-ascii.ctf    TC 90, TC 05 + TCR 1, TC 07, TC 06, TC 25, TC 26,
                      TC 91, TC 92; ASCII, no line ends (as the C writer
                      makes it, byte for byte)
  baseii-ebcdic.ctf   the same in EBCDIC (code page 037)
  baseii-crlf.ctf     the same in ASCII with CR LF after each record
  baseii-mixed.ctf    two batches, LF line ends, fields the writer leaves
                      blank filled in, TCR 5, a fee collection (TC 10), a
                      chargeback (TC 15), a representment (TC 05 usage
                      code 2) and non-financial TC 46 and TC 33 groups

Python 3 standard library only.
"""

import os

LEN = 168
HERE = os.path.dirname(os.path.abspath(__file__))

# The file's processing date: 2024, day 61 = 1 March 2024 (a leap year, so
# a purchase dated 0229 is 29 February 2024; 1231 is 31 December 2023).
BIN = "412345"
YYDDD = "24061"
CPD = "4061"  # central processing date YDDD in each TCR 0


class TCR:
    """One 168-byte transaction component record, built field by field."""

    def __init__(self):
        self.b = [" "] * LEN
        self.used = set()

    def put(self, pos, length, value, what):
        assert len(value) == length, (what, value, length)
        assert 1 <= pos and pos + length - 1 <= LEN, what
        span = set(range(pos, pos + length))
        assert not (span & self.used), "overlap at " + what
        self.used |= span
        self.b[pos - 1:pos - 1 + length] = list(value)

    def text(self, pos, length, value, what):
        """Alphanumeric: left-justified, space-filled."""
        assert len(value) <= length, (what, value)
        self.put(pos, length, value.ljust(length), what)

    def num(self, pos, length, value, what):
        """Numeric: right-justified, zero-filled."""
        s = str(value)
        assert s.isdigit() and len(s) <= length, (what, value)
        self.put(pos, length, s.rjust(length, "0"), what)

    def blank(self, pos, length, what):
        """A field left as spaces (reserved, or not used by this file)."""
        self.put(pos, length, " " * length, what)

    def done(self):
        assert len(self.used) == LEN, sorted(set(range(1, LEN + 1)) - self.used)
        return "".join(self.b)


def luhn_ok(digits):
    total = 0
    for i, c in enumerate(reversed(digits)):
        d = int(c)
        if i % 2 == 1:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def luhn_complete(prefix):
    """prefix + the check digit that makes it pass the Luhn check."""
    for c in "0123456789":
        if luhn_ok(prefix + c):
            return prefix + c
    raise AssertionError(prefix)


def start(tc, seq):
    """A TCR with positions 1-4 filled: every TCR but the TC 90 header."""
    t = TCR()
    t.num(1, 2, tc, "transaction code")
    t.num(3, 1, 0, "transaction code qualifier")
    t.num(4, 1, seq, "transaction component sequence number")
    return t


def header(file_id):
    t = TCR()
    t.num(1, 2, 90, "transaction code: file header")
    t.num(3, 6, BIN, "processing BIN")
    t.num(9, 5, YYDDD, "processing date (YYDDD)")
    t.blank(14, 16, "reserved")
    t.blank(30, 4, "test option (blank: production)")
    t.blank(34, 29, "reserved")
    t.blank(63, 8, "security code")
    t.blank(71, 6, "reserved")
    t.text(77, 3, file_id, "outgoing file ID")
    t.blank(80, 89, "reserved")
    return t.done()


def account(t, pos, pan):
    """Account number (16, left-justified, space-filled) and its extension
    (3): "000" for a PAN of 16 digits or fewer, else the digits beyond the
    16th, left-justified and space-filled."""
    t.text(pos, 16, pan[:16], "account number")
    t.text(pos + 16, 3, pan[16:] if len(pan) > 16 else "000", "account number extension")


def draft(tc, r, full=False):
    """TCR 0 of the draft data TCs (05-07, 15-17, 25-27, 35-37).

    full=False fills the fields the C writer leaves alone exactly as it does
    (blank, usage code 1 or 2, settlement flag 0, POS entry mode 00,
    reimbursement attribute 0); full=True fills them as a real file would."""
    t = start(tc, 0)
    account(t, 5, r["pan"])
    t.text(24, 1, "Z" if full else "", "floor limit indicator")
    t.text(25, 1, "N" if full else "", "CRB/exception file indicator")
    t.text(26, 1, "", "PCAS indicator")
    t.num(27, 23, r["arn"], "acquirer reference number")
    t.num(50, 8, r["bid"], "acquirer's business ID")
    t.num(58, 4, r["mmdd"], "purchase date (MMDD)")
    t.num(62, 12, r["dst"], "destination amount")
    t.num(74, 3, r["dcur"], "destination currency code")
    t.num(77, 12, r["src"], "source amount")
    t.num(89, 3, r["scur"], "source currency code")
    t.text(92, 25, r["name"], "merchant name")
    t.text(117, 13, r["city"], "merchant city")
    t.text(130, 3, r["country"], "merchant country code")
    t.num(133, 4, r["mcc"], "merchant category code")
    t.text(137, 5, "97201" if full else "", "merchant ZIP code")
    t.text(142, 3, "OR" if full else "", "merchant state/province code")
    t.text(145, 1, "A" if full else "", "requested payment service")
    t.text(146, 1, "1" if full else "", "number of payment forms")
    t.num(147, 1, r.get("usage", 1), "usage code")
    t.text(148, 2, r["reason"], "reason code")
    t.num(150, 1, 0, "settlement flag")
    t.text(151, 1, "E" if full else "", "authorization characteristics indicator")
    t.text(152, 6, r["auth"], "authorization code")
    t.text(158, 1, "5" if full else "", "POS terminal capability")
    t.text(159, 1, "", "international fee indicator")
    t.text(160, 1, "1" if full else "", "cardholder ID method")
    t.text(161, 1, "", "collection-only flag")
    t.num(162, 2, 5 if full else 0, "POS entry mode")
    t.num(164, 4, CPD, "central processing date (YDDD)")
    t.num(168, 1, 0, "reimbursement attribute")
    return t.done()


def draft_tcr1(tc, caid, tid, full=False):
    """TCR 1 of the draft data TCs: card acceptor ID and terminal ID; the
    rest blank (as the C writer makes it) or, with full, partly filled."""
    t = start(tc, 1)
    t.blank(5, 12, "business format code, token assurance, reserved")
    t.text(17, 6, "000000" if full else "", "chargeback reference number")
    t.text(23, 1, "", "documentation indicator")
    t.text(24, 50, "THANK YOU" if full else "", "member message text")
    t.blank(74, 7, "special condition indicators, fee program indicator, issuer charge, reserved")
    t.text(81, 15, caid, "card acceptor ID")
    t.text(96, 8, tid, "terminal ID")
    t.text(104, 12, "000000000000" if full else "", "national reimbursement fee")
    t.text(116, 1, "5" if full else "", "mail/telephone or electronic commerce indicator")
    t.blank(117, 52, "special chargeback indicator .. POS environment")
    return t.done()


def draft_tcr5(tc, txn_id, authorized):
    """TCR 5 of the draft data TCs (payment service data): the reader skips it."""
    t = start(tc, 5)
    t.num(5, 15, txn_id, "transaction identifier")
    t.num(20, 12, authorized, "authorized amount")
    t.num(32, 3, 840, "authorization currency code")
    t.num(35, 2, 0, "authorization response code")
    t.blank(37, 132, "validation code .. CVV2 result code")
    return t.done()


def fee(tc, r):
    """TCR 0 of TC 10 fee collection / TC 20 funds disbursement."""
    t = start(tc, 0)
    t.num(5, 6, BIN, "destination BIN")
    t.num(11, 6, r["sbin"], "source BIN")
    t.num(17, 4, r["reason"], "reason code")
    t.text(21, 3, r["country"], "country code")
    t.num(24, 4, r["mmdd"], "event date (MMDD)")
    account(t, 28, r["pan"])
    t.num(47, 12, r["dst"], "destination amount")
    t.num(59, 3, r["dcur"], "destination currency code")
    t.num(62, 12, r["src"], "source amount")
    t.num(74, 3, r["scur"], "source currency code")
    t.text(77, 70, r["text"], "message text")
    t.num(147, 1, 0, "settlement flag")
    t.text(148, 15, r["txn_id"], "transaction identifier")
    t.blank(163, 1, "reserved")
    t.num(164, 4, CPD, "central processing date (YDDD)")
    t.num(168, 1, 0, "reimbursement attribute")
    return t.done()


def other(tc, seq, text):
    """A TCR of a non-financial TC (46, 33): counted, not read."""
    t = start(tc, seq)
    t.text(5, 164, text, "data")
    return t.done()


def trailer(tc, dst, money, batch, tcrs, txns, src):
    """TC 91 batch trailer / TC 92 file trailer. Counts include the trailer
    itself, and in TC 92 the header; batch is the batch's number in TC 91
    and the number of batches in TC 92 (docs/clearing-baseii.md)."""
    t = start(tc, 0)
    t.num(5, 6, BIN, "BIN")
    t.num(11, 5, YYDDD, "processing date (YYDDD)")
    t.num(16, 15, dst, "destination amount")
    t.num(31, 12, money, "number of monetary transactions")
    t.num(43, 6, batch, "batch number")
    t.num(49, 12, tcrs, "number of TCRs")
    t.blank(61, 6, "reserved")
    t.blank(67, 8, "center batch ID")
    t.num(75, 9, txns, "number of transactions")
    t.blank(84, 18, "reserved")
    t.num(102, 15, src, "source amount")
    t.blank(117, 52, "reserved")
    return t.done()


PAN16 = "4111111111111111"
PAN13 = "4222222222222"
PAN19 = luhn_complete("400012341234123456")  # extension = its last 3 digits
PAN17 = luhn_complete("4000567856785678")
assert luhn_ok(PAN16) and luhn_ok(PAN13) and len(PAN19) == 19 and not PAN19.endswith("000")

SALE = dict(pan=PAN16, arn="74123454060123456789012", bid="10054321", mmdd="0229",
            dst=12550, dcur=840, src=11500, scur=978, name="ACME HARDWARE",
            city="SPRINGFIELD", country="US", mcc="5251", reason="", auth="A1B2C3")
CASH = dict(pan=PAN19, arn="74123453660000000000234", bid="10054321", mmdd="1231",
            dst=20000, dcur=978, src=20000, scur=978, name="FIRST BANK ATM 12",
            city="BERLIN", country="DE", mcc="6011", reason="", auth="654321")
CREDIT = dict(pan=PAN13, arn="74123454061000000000345", bid="10054321", mmdd="0301",
              dst=4999, dcur=840, src=4999, scur=840, name="BOOKS & MORE",
              city="PORTLAND", country="US", mcc="5942", reason="", auth="")
SALE_REV = dict(SALE, reason="00")
CREDIT_REV = dict(CREDIT)


def basic():
    recs = [
        header("007"),
        draft(5, SALE),
        draft_tcr1(5, "MERCHANT0000001", "TERM0001"),
        draft(7, CASH),
        draft(6, CREDIT),
        draft(25, SALE_REV),
        draft(26, CREDIT_REV),
    ]
    money = [SALE, CASH, CREDIT, SALE_REV, CREDIT_REV]
    src = sum(r["src"] for r in money)
    dst = sum(r["dst"] for r in money)
    # batch: 5 transactions + the TC 91 = 6; 6 TCRs + the TCR 1 = 7
    recs.append(trailer(91, dst, len(money), 1, 7, 6, src))
    # file: header + batch + TC 92 = 8 transactions, 9 TCRs; 1 batch
    recs.append(trailer(92, dst, len(money), 1, 9, 8, src))
    assert (src, dst) == (52998, 55098)
    return recs


def mixed():
    sale = dict(pan=PAN17, arn="74123454055000000000456", bid="10099999", mmdd="0224",
                dst=2599, dcur=840, src=2599, scur=840, name="CAFE ROMA",
                city="PORTLAND", country="US", mcc="5814", reason="", auth="0A1B2C")
    fee_rec = dict(sbin="400000", reason="0240", country="US", mmdd="0215", pan=PAN16,
                   dst=500, dcur=840, src=500, scur=840, text="CARD REPLACEMENT FEE",
                   txn_id="")
    cb = dict(pan=PAN16, arn="74123454040000000000567", bid="10054321", mmdd="0209",
              dst=7500, dcur=840, src=7500, scur=840, name="GADGET STORE",
              city="SEATTLE", country="US", mcc="5732", reason="30", auth="112233")
    rep = dict(pan=PAN13, arn="74123454020000000000678", bid="10054321", mmdd="0120",
               dst=15000, dcur=840, src=13800, scur=826, name="LONDON HOTEL",
               city="LONDON", country="GB", mcc="7011", reason="", auth="998877",
               usage=2)
    recs = [
        header("008"),
        # batch 1: a sale with TCR 1 and TCR 5, member settlement data
        draft(5, sale, full=True),
        draft_tcr1(5, "CAFEROMA0000001", "T0000042", full=True),
        draft_tcr5(5, "304123456789012", 2599),
        other(46, 0, "MEMBER SETTLEMENT DATA: NOT READ"),
    ]
    # 2 transactions + TC 91 = 3; 4 TCRs + TC 91 = 5; 1 monetary
    recs.append(trailer(91, sale["dst"], 1, 1, 5, 3, sale["src"]))
    # batch 2: fee collection, chargeback, representment, a TC 33 of two TCRs
    recs += [
        fee(10, fee_rec),
        draft(15, cb, full=True),
        draft(5, rep, full=True),
        other(33, 0, "GENERAL DELIVERY: NOT READ"),
        other(33, 1, "SECOND TCR: NOT READ"),
    ]
    b2 = [fee_rec, cb, rep]
    # 4 transactions + TC 91 = 5; 5 TCRs + TC 91 = 6; 3 monetary
    recs.append(trailer(91, sum(r["dst"] for r in b2), 3, 2, 6, 5, sum(r["src"] for r in b2)))
    every = [sale] + b2
    # 1 + 3 + 5 + 1 = 10 transactions; 1 + 5 + 6 + 1 = 13 TCRs; 2 batches
    recs.append(trailer(92, sum(r["dst"] for r in every), 4, 2, 13, 10,
                        sum(r["src"] for r in every)))
    return recs


def write(name, data):
    with open(os.path.join(HERE, name), "wb") as f:
        f.write(data)


def main():
    b = basic()
    assert all(len(r) == LEN for r in b)
    write("baseii-ascii.ctf", "".join(b).encode("ascii"))
    write("baseii-ebcdic.ctf", "".join(b).encode("cp037"))
    write("baseii-crlf.ctf", "".join(r + "\r\n" for r in b).encode("ascii"))
    m = mixed()
    assert all(len(r) == LEN for r in m)
    write("baseii-mixed.ctf", "".join(r + "\n" for r in m).encode("ascii"))
    print("wrote baseii-ascii.ctf baseii-ebcdic.ctf baseii-crlf.ctf baseii-mixed.ctf")


if __name__ == "__main__":
    main()
