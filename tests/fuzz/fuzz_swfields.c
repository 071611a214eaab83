/* Fuzz switchd's reading of a request that the codec accepted
 * (fields_parse: keys, amounts, PAN/track 2, DE 22/25, the DE 48 tags, DE
 * 90/95, 0500 totals) and the answer built from it. The first byte picks
 * the profile and the kind of message; the rest is one message. Oracles:
 * nothing reads or writes out of bounds (ASan), a parse that fails names a
 * response code, and every answer packs. */
#include "sw_txn_int.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct sw_txn t;
	static const enum txn_kind kinds[] = {TK_NETMGMT, TK_FINANCIAL, TK_ADVICE, TK_REVERSAL,
	                                      TK_COMPLETION, TK_RECONCILE, TK_UNSUPPORTED};
	if (size < 2)
		return 0;
	enum iso_profile prof = (data[0] & 1) ? ISO_BINARY87 : ISO_ASCII87;
	enum txn_kind kind = kinds[(data[0] >> 1) % (sizeof kinds / sizeof kinds[0])];
	memset(&t, 0, sizeof t);
	t.raw = (uint8_t *)(uintptr_t)(data + 1);
	t.rawlen = size - 1;
	if (iso_unpack(prof, t.raw, t.rawlen, &t.req, NULL) != 0)
		return 0;
	/* switchd answers only requests and advices (function 0 or 2); other
	 * MTIs are ignored before fields_parse (sw_txn_start). */
	if (t.req.mti[2] != '0' && t.req.mti[2] != '2')
		return 0;
	t.kind = kind;
	t.profile = prof;
	bool ok = fields_parse(&t);
	if (!ok && strlen(t.rc) != 2)
		abort(); /* a refusal always has its code */
	if (ok && kind == TK_FINANCIAL && !t.cvm)
		abort(); /* every financial request says how the cardholder was verified */
	if (!ok || !t.rc[0])
		strcpy(t.rc, "00");
	if (!fields_answer(&t, (data[0] & 0x80) != 0))
		abort();
	char mac[17];
	size_t covered = 0;
	if (fields_request_mac(&t, mac, &covered) && covered > t.rawlen)
		abort();
	return 0;
}
