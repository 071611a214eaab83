/* clr.h: card-scheme clearing files (Mastercard IPM, Visa BASE II), read
 * into one normalised record and written back (test files, benchmark).
 *
 * Readers take the whole file in memory, check its structure (framing,
 * header, trailer counts and amounts) and hand each financial record to a
 * callback. A structural error stops the read with the byte offset, the
 * record number and the reason; the caller then posts nothing of the file.
 * Nothing here touches a database or logs: the PAN is in the record in
 * clear only for the caller to hash it. docs/clearing.md lists the fields. */
#ifndef CLR_H
#define CLR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

enum clr_scheme { CLR_SCHEME_UNKNOWN = 0, CLR_MASTERCARD, CLR_VISA };

enum clr_kind {
	CLR_PRESENTMENT = 1,      /* IPM 1240/200; BASE II TC 05, TC 07 */
	CLR_REPRESENTMENT,        /* IPM 1240/205, 1240/282 (second presentment) */
	CLR_CREDIT,               /* IPM 1240/200 with DE 3 = 20xxxx; BASE II TC 06 */
	CLR_PRESENTMENT_REVERSAL, /* IPM 1240 presentment with PDS 0025 'R'; BASE II TC 25, 27 */
	CLR_CREDIT_REVERSAL,      /* IPM credit with PDS 0025 'R'; BASE II TC 26 */
	CLR_CHARGEBACK,           /* IPM 1442 (ours, echoed back by the scheme) */
	CLR_FEE,                  /* IPM 1740 fee collection */
};

/* One financial record (an IPM message other than 1644, or a BASE II
 * transaction: TCR 0 plus its optional further TCRs). Strings are
 * NUL-terminated, trailing spaces removed; absent fields are "" or 0. */
struct clr_record {
	uint32_t seq;             /* record number in the file from 1 (header is 1) */
	uint64_t offset;          /* byte offset of its first byte (IPM: its RDW) */
	enum clr_kind kind;
	char mti[5];              /* IPM "1240", "1442", "1740"; BASE II "05", "06", "07", "25".. (the TC) */
	char func[4];             /* IPM DE 24 function code; BASE II "" */
	char proc[7];             /* DE 3 (IPM); BASE II: "000000" sale, "010000" cash, "200000" credit */
	char pan[20];             /* 12 to 19 digits */
	int64_t amount;           /* transaction amount (DE 4 / source amount), minor units */
	uint16_t currency;        /* its ISO 4217 numeric code (DE 49 / source currency) */
	int64_t bill_amount;      /* cardholder billing amount (DE 6 / destination amount), 0 if absent */
	uint16_t bill_currency;   /* DE 51 / destination currency, 0 if absent */
	char txn_date[9];         /* YYYYMMDD local date (DE 12; BASE II purchase date MMDD, year from the file) */
	char approval[7];         /* DE 38 / authorisation code */
	char arn[24];             /* acquirer reference number, 23 digits (DE 31 / TCR 0) */
	char acquirer_id[12];     /* IPM DE 33 (forwarding institution) or DE 32; BASE II acquirer BID */
	char terminal_id[9];      /* DE 41 (IPM); BASE II TCR 1 terminal id if present */
	char merchant_id[16];     /* DE 42 (IPM); BASE II TCR 1 card acceptor id if present */
	char merchant_name[26];   /* DE 43 name / BASE II merchant name */
	char merchant_city[14];
	char merchant_country[4]; /* alpha-3 (IPM DE 43) or alpha-2 (BASE II), as in the file */
	char mcc[5];              /* DE 26 / MCC */
	char reason[5];           /* DE 25 message reason / BASE II reason code */
	bool reversal;            /* IPM PDS 0025 'R' present (also reflected in kind) */
};

struct clr_file_info {
	enum clr_scheme scheme;
	bool ebcdic;              /* text was EBCDIC (IPM always; BASE II either) */
	bool blocked;             /* IPM: 1014-byte blocking detected */
	char file_id[32];         /* IPM PDS 0105 (25 chars); BASE II "BIN-YYDDD-ID" from TC 90 */
	char business_day[9];     /* YYYYMMDD: IPM from PDS 0105's date, BASE II TC 90 processing date */
	uint32_t records;         /* financial records passed to the callback */
	uint32_t messages;        /* all messages / TCR groups including header and trailer */
	int64_t amount_total;     /* sum of the records' amounts, as the trailer counts them */
};

struct clr_error {
	uint64_t offset;          /* byte offset where the fault is */
	uint32_t record;          /* record number (as clr_record.seq) */
	char reason[200];
};

/* Return 0 to go on; non-zero stops the read and is returned by it. */
typedef int (*clr_record_fn)(void *arg, const struct clr_record *r);

/* Which format a file is, from its first bytes (RDW + "1644" in EBCDIC for
 * IPM, blocked or not; a 168-byte TC 90 header in ASCII or EBCDIC for
 * BASE II). CLR_SCHEME_UNKNOWN if neither. */
enum clr_scheme clr_detect(const uint8_t *buf, size_t len);

/* Read a whole file. 0: every record was passed to fn and the trailer agreed;
 * -1: structural error, *err says where and why; otherwise fn's return. */
int clr_ipm_read(const uint8_t *buf, size_t len, struct clr_file_info *info,
                 clr_record_fn fn, void *arg, struct clr_error *err);
int clr_baseii_read(const uint8_t *buf, size_t len, struct clr_file_info *info,
                    clr_record_fn fn, void *arg, struct clr_error *err);
/* clr_detect, then the right reader (-1 with err for an unknown format). */
int clr_read(const uint8_t *buf, size_t len, struct clr_file_info *info,
             clr_record_fn fn, void *arg, struct clr_error *err);

/* Writers (streaming): open writes the header from info (scheme, file_id,
 * business_day, ebcdic/blocked as asked), add writes one record, close writes
 * the trailer with the counts and amounts of what was added and flushes.
 * 0 on success, -1 on an I/O error or a record that cannot be encoded
 * (errno or a message in the writer, clr_writer_error). */
struct clr_writer;
struct clr_writer *clr_writer_open(FILE *out, const struct clr_file_info *info);
int clr_writer_add(struct clr_writer *w, const struct clr_record *r);
int clr_writer_close(struct clr_writer *w);   /* frees w */
const char *clr_writer_error(const struct clr_writer *w);

/* EBCDIC (code page 037) <-> ASCII for the printable range. */
extern const uint8_t clr_e2a[256];
extern const uint8_t clr_a2e[256];

#endif
