/* clr_baseii.c: to be written. */
#include "clr_int.h"
