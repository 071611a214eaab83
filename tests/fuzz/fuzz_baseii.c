/* Fuzz the Visa BASE II reader (clr_baseii_read) and format detection
 * (clr_detect). Oracle: a failed read returns -1 with an offset inside the
 * input and a one-line reason; a file that reads is BASE II to clr_detect,
 * and written back by the writer it reads again to the same records (their
 * seq and offset aside: skipped TCs and blank TCR 1s are not written). */
#include "clr.h"
#include "clr_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAXREC 64

struct recs {
	struct clr_record r[MAXREC];
	size_t n;
	bool over;
};

static int keep(void *arg, const struct clr_record *r)
{
	struct recs *k = arg;
	if (k->n < MAXREC)
		k->r[k->n++] = *r;
	else
		k->over = true;
	return 0;
}

static bool same(const struct clr_record *a, const struct clr_record *b)
{
	return a->kind == b->kind && a->reversal == b->reversal && a->amount == b->amount &&
	       a->currency == b->currency && a->bill_amount == b->bill_amount &&
	       a->bill_currency == b->bill_currency && !strcmp(a->mti, b->mti) &&
	       !strcmp(a->func, b->func) && !strcmp(a->proc, b->proc) && !strcmp(a->pan, b->pan) &&
	       !strcmp(a->txn_date, b->txn_date) && !strcmp(a->approval, b->approval) &&
	       !strcmp(a->arn, b->arn) && !strcmp(a->acquirer_id, b->acquirer_id) &&
	       !strcmp(a->terminal_id, b->terminal_id) && !strcmp(a->merchant_id, b->merchant_id) &&
	       !strcmp(a->merchant_name, b->merchant_name) &&
	       !strcmp(a->merchant_city, b->merchant_city) &&
	       !strcmp(a->merchant_country, b->merchant_country) && !strcmp(a->mcc, b->mcc) &&
	       !strcmp(a->reason, b->reason);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct recs a, b;
	struct clr_file_info info, back;
	struct clr_error err;
	enum clr_scheme scheme = clr_detect(data, size);
	memset(&err, 0, sizeof err);
	a.n = 0;
	a.over = false;
	int rc = clr_baseii_read(data, size, &info, keep, &a, &err);
	if (rc == -1) {
		if (err.offset > size || !memchr(err.reason, '\0', sizeof err.reason) ||
		    !err.reason[0] || strchr(err.reason, '\n'))
			abort();
		return 0;
	}
	if (rc != 0 || scheme != CLR_VISA || info.scheme != CLR_VISA)
		abort();
	if (a.over)
		return 0;
	if (info.records != a.n)
		abort();

	/* Whatever the reader gives, the writer takes and the reader gives back. */
	char *p = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&p, &len);
	if (!f)
		abort();
	struct clr_writer *w = clr_writer_open(f, &info);
	if (!w)
		abort();
	for (size_t i = 0; i < a.n; i++)
		if (clr_writer_add(w, &a.r[i]) != 0)
			abort();
	if (clr_writer_close(w) != 0 || fclose(f) != 0)
		abort();
	b.n = 0;
	b.over = false;
	rc = clr_baseii_read((const uint8_t *)p, len, &back, keep, &b, &err);
	if (rc != 0 || b.n != a.n || back.ebcdic != info.ebcdic || back.records != info.records ||
	    back.amount_total != info.amount_total || strcmp(back.file_id, info.file_id) ||
	    strcmp(back.business_day, info.business_day))
		abort();
	for (size_t i = 0; i < a.n; i++)
		if (!same(&a.r[i], &b.r[i]))
			abort();
	free(p);
	return 0;
}
