/* Internal to the codec: the field table, for inlined look-ups on the
 * per-field path. Entries 0, 1 and 65 have a NULL name. */
#ifndef ISO8583_INT_H
#define ISO8583_INT_H

#include "iso8583.h"

extern const struct iso_field_def iso_defs[ISO_MAX_DE + 1];

static inline const struct iso_field_def *iso_fdef(unsigned de)
{
	if (de > ISO_MAX_DE || iso_defs[de].name == NULL)
		return NULL;
	return &iso_defs[de];
}

#endif
