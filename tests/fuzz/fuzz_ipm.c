/* Fuzz the Mastercard IPM clearing file reader (clr_ipm_read), and
 * clr_detect/clr_read in front of it. Oracles: the read either succeeds or
 * fails with -1 and a reason at an offset inside the input; every record is
 * sane; clr_read agrees with clr_ipm_read on what clr_detect calls IPM; and
 * a file that reads is written again by clr_writer (blocked or not, as it
 * was) and reads back to the same records, unless the writer refuses one. */
#include "clr_int.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_RECS 512

struct recs {
	struct clr_record r[MAX_RECS];
	size_t n;
	size_t size;   /* of the input, for the offset check */
};

static struct recs first, second;

static int keep(void *arg, const struct clr_record *r)
{
	struct recs *k = arg;
	if (r->offset >= k->size || r->seq < 2 || r->kind < CLR_PRESENTMENT || r->kind > CLR_FEE)
		abort();
	if (k->n == MAX_RECS)
		return 1;   /* too many to keep: stop, no round trip */
	k->r[k->n++] = *r;
	return 0;
}

static int read_into(const uint8_t *data, size_t size, struct recs *k, struct clr_file_info *info)
{
	struct clr_error err;
	memset(&err, 0, sizeof err);
	k->n = 0;
	k->size = size;
	int rc = clr_ipm_read(data, size, info, keep, k, &err);
	if (rc == -1 && (err.offset > size || err.reason[0] == '\0' || !memchr(err.reason, '\0', sizeof err.reason)))
		abort();
	if (rc == 0 && (info->records != k->n || info->messages < info->records + 2 || info->scheme != CLR_MASTERCARD))
		abort();
	return rc;
}

/* Equal but for where they stand in their files. */
static bool same(const struct clr_record *a, const struct clr_record *b)
{
#define S(f) (strcmp(a->f, b->f) == 0)
	return a->kind == b->kind && a->amount == b->amount && a->currency == b->currency &&
	       a->bill_amount == b->bill_amount && a->bill_currency == b->bill_currency && a->reversal == b->reversal &&
	       S(mti) && S(func) && S(proc) && S(pan) && S(txn_date) && S(approval) && S(arn) && S(acquirer_id) &&
	       S(terminal_id) && S(merchant_id) && S(merchant_name) && S(merchant_city) && S(merchant_country) &&
	       S(mcc) && S(reason);
#undef S
}

/* Write first's records again and read them back. */
static void round_trip(const struct clr_file_info *info)
{
	char *out = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&out, &len);
	if (!f)
		return;
	struct clr_file_info winfo = *info;
	struct clr_writer *w = clr_writer_open(f, &winfo);
	bool ok = w != NULL;
	for (size_t i = 0; ok && i < first.n; i++)
		ok = clr_writer_add(w, &first.r[i]) == 0;
	if (w && clr_writer_close(w) != 0)
		ok = false;
	fclose(f);
	if (ok) {
		struct clr_file_info again;
		if (read_into((const uint8_t *)out, len, &second, &again) != 0 || second.n != first.n ||
		    strcmp(again.file_id, info->file_id) != 0 || again.blocked != info->blocked ||
		    again.amount_total != info->amount_total)
			abort();
		for (size_t i = 0; i < first.n; i++)
			if (!same(&first.r[i], &second.r[i]))
				abort();
	}
	free(out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct clr_file_info info;
	int rc = read_into(data, size, &first, &info);
	if (rc != 0 && rc != -1 && rc != 1)
		abort();

	struct clr_file_info info2;
	struct clr_error err;
	enum clr_scheme scheme = clr_detect(data, size);
	int rc2 = clr_read(data, size, &info2, NULL, NULL, &err);
	if (scheme == CLR_MASTERCARD && rc != 1 && (rc2 == 0) != (rc == 0))
		abort();
	if (scheme == CLR_SCHEME_UNKNOWN && rc2 != -1)
		abort();

	if (rc == 0)
		round_trip(&info);
	return 0;
}
