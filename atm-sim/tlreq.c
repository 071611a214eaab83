/* A terminal's requests as data and their messages (tlreq.h). */
#include "tlreq.h"

#include <stdio.h>
#include <string.h>

static int fail(const char **why, int err, const char *reason)
{
	if (why)
		*why = reason;
	return err;
}

void tlq_next_stan(unsigned *counter, char out[7])
{
	if (*counter < 1 || *counter > 999999)
		*counter = 1;
	snprintf(out, 7, "%06u", *counter);
	*counter = *counter >= 999999 ? 1 : *counter + 1;
}

unsigned tlq_first_stan(const struct timespec *now)
{
	return (unsigned)((now->tv_sec % 86400) * 10000 + now->tv_nsec / 100000) % 999999u + 1u;
}

unsigned tlq_first_stan_now(void)
{
	struct timespec now;
	clock_gettime(CLOCK_REALTIME, &now);
	return tlq_first_stan(&now);
}

void tlq_stamp(struct tlq_req *r, time_t now)
{
	struct tm u, l;
	gmtime_r(&now, &u);
	localtime_r(&now, &l);
	snprintf(r->de7, sizeof r->de7, "%02u%02u%02u%02u%02u", (unsigned)(u.tm_mon + 1) % 100u,
	         (unsigned)u.tm_mday % 100u, (unsigned)u.tm_hour % 100u, (unsigned)u.tm_min % 100u,
	         (unsigned)u.tm_sec % 100u);
	snprintf(r->time12, sizeof r->time12, "%02u%02u%02u", (unsigned)l.tm_hour % 100u,
	         (unsigned)l.tm_min % 100u, (unsigned)l.tm_sec % 100u);
	snprintf(r->date13, sizeof r->date13, "%02u%02u", (unsigned)(l.tm_mon + 1) % 100u,
	         (unsigned)l.tm_mday % 100u);
	tlf_rrn(l.tm_year + 1900, l.tm_yday + 1, l.tm_hour, r->stan, r->rrn);
}

static void set_stan(struct tlq_req *r, const char *stan)
{
	snprintf(r->stan, sizeof r->stan, "%s", stan);
}

int tlq_financial(struct tlq_req *r, const struct tl_fin *f, const pc_key *tpk,
                  const char *stan, time_t now, const char **why)
{
	memset(r, 0, sizeof *r);
	const struct tl_card *c = f->card;
	if (c == NULL || !tlf_digits(f->proc, 6, 6) || !tlf_digits(f->currency, 3, 3) ||
	    (f->entry[0] && !tlf_digits(f->entry, 3, 3)) || f->amount > 999999999999ull ||
	    !tlf_digits(stan, 6, 6))
		return fail(why, TL_ERR_ARG, "bad financial request");
	if (tlf_track2(c->pan, c->expiry, c->service, "0000000000000", r->track2, sizeof r->track2) < 0)
		return fail(why, TL_ERR_ARG, "bad card data (PAN, expiry or service code)");
	if (f->pin && tpk == NULL)
		return fail(why, TL_ERR_NO_KEY, "no TPK for the PIN block (key change first)");
	if (f->pin) {
		int rc = tl_pin_block(tpk, f->pin, c->pan, r->pin_block);
		if (rc != 0) {
			pc_wipe(r, sizeof *r);
			return fail(why, rc, "cannot build the PIN block");
		}
		r->has_pin = true;
	}
	r->kind = TLQ_FIN;
	strcpy(r->mti, "0200");
	strcpy(r->pan, c->pan);
	strcpy(r->expiry, c->expiry);
	strcpy(r->proc, f->proc);
	strcpy(r->currency, f->currency);
	strcpy(r->entry, f->entry[0] ? f->entry : "021");
	r->amount = f->amount;
	set_stan(r, stan);
	tlq_stamp(r, now);
	return 0;
}

int tlq_reversal(struct tlq_req *r, const struct tlq_req *o, uint64_t dispensed,
                 const char *stan, time_t now, const char **why)
{
	if (o->kind != TLQ_FIN)
		return fail(why, TL_ERR_NO_ORIGINAL, "no withdrawal to reverse");
	if (dispensed >= o->amount && dispensed != 0)
		return fail(why, TL_ERR_ARG, "dispensed amount not below the original amount");
	if (!tlf_digits(stan, 6, 6))
		return fail(why, TL_ERR_ARG, "bad STAN");
	if (r != o)
		*r = *o;
	r->kind = TLQ_REV;
	strcpy(r->orig_mti, r->mti);
	strcpy(r->orig_stan, r->stan);
	strcpy(r->orig_de7, r->de7);
	strcpy(r->mti, "0420");
	r->has_pin = false;
	pc_wipe(r->pin_block, sizeof r->pin_block);
	r->partial = dispensed > 0;
	r->dispensed = dispensed;
	set_stan(r, stan);
	char rrn[13];
	strcpy(rrn, r->rrn);
	tlq_stamp(r, now);
	strcpy(r->rrn, rrn); /* a reversal carries its original's RRN */
	return 0;
}

static int set_s(struct iso_msg *m, unsigned de, const char *s)
{
	return iso_set_copy(m, de, s, strlen(s));
}

int tlq_build(const struct tlq_ident *id, const struct tlq_req *r, const char *mti,
              struct iso_msg *m)
{
	int rc = 0;
	iso_init(m, mti);
	if (r->pan[0])
		rc |= set_s(m, 2, r->pan);
	rc |= set_s(m, 3, r->proc);
	rc |= iso_set_num(m, 4, r->amount);
	rc |= set_s(m, 7, r->de7);
	rc |= set_s(m, 11, r->stan);
	rc |= set_s(m, 12, r->time12);
	rc |= set_s(m, 13, r->date13);
	if (r->expiry[0])
		rc |= set_s(m, 14, r->expiry);
	rc |= set_s(m, 18, id->mcc);
	rc |= set_s(m, 22, r->entry);
	rc |= set_s(m, 25, "00");
	rc |= set_s(m, 32, id->acq);
	if (r->kind == TLQ_FIN && r->track2[0])
		rc |= set_s(m, 35, r->track2);
	rc |= set_s(m, 37, r->rrn);
	if (r->kind == TLQ_REV && r->approval[0])
		rc |= set_s(m, 38, r->approval);
	rc |= set_s(m, 41, id->tid);
	if (id->mid[0])
		rc |= set_s(m, 42, id->mid);
	if (id->loc[0])
		rc |= set_s(m, 43, id->loc);
	if (r->de48[0])
		rc |= set_s(m, 48, r->de48);
	rc |= set_s(m, 49, r->currency);
	if (r->kind == TLQ_FIN && r->has_pin)
		rc |= iso_set_copy(m, 52, r->pin_block, 8);
	if (r->reference[0])
		rc |= set_s(m, 102, r->reference);
	if (r->kind == TLQ_REV) {
		char de90[43], de95[43];
		if (tlf_de90(r->orig_mti, r->orig_stan, r->orig_de7, id->acq, NULL, de90) != 0)
			return TL_ERR_ENCODE;
		rc |= set_s(m, 90, de90);
		if (r->partial) {
			if (tlf_de95(r->dispensed, de95) != 0)
				return TL_ERR_ENCODE;
			rc |= set_s(m, 95, de95);
		}
	}
	return rc ? TL_ERR_ENCODE : 0;
}

int tlq_network(const struct tlq_ident *id, const struct tlq_req *r, unsigned code,
                struct iso_msg *m)
{
	iso_init(m, "0800");
	int rc = set_s(m, 7, r->de7) | set_s(m, 11, r->stan) | set_s(m, 41, id->tid) |
	         iso_set_num(m, 70, (uint64_t)code);
	return rc ? TL_ERR_ENCODE : 0;
}
