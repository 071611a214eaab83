/* clr_int.h: what the clearing readers and writers share inside the library. */
#ifndef CLR_INT_H
#define CLR_INT_H

#include "clr.h"

struct clr_writer {
	FILE *out;
	struct clr_file_info info;   /* records, messages, amount_total kept up to date */
	void *fmt;                   /* the format's own state */
	char err[200];
};

/* Each format: header (may allocate w->fmt), one record, trailer (frees w->fmt). */
int clr_ipm_w_header(struct clr_writer *w);
int clr_ipm_w_record(struct clr_writer *w, const struct clr_record *r);
int clr_ipm_w_trailer(struct clr_writer *w);
int clr_baseii_w_header(struct clr_writer *w);
int clr_baseii_w_record(struct clr_writer *w, const struct clr_record *r);
int clr_baseii_w_trailer(struct clr_writer *w);

/* printf into err->reason with the offset and record number. Returns -1. */
int clr_fail(struct clr_error *err, uint64_t offset, uint32_t record, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

#endif
