/* clr_ipm.c: to be written. */
#include "clr_int.h"
