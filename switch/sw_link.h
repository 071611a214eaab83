/*
 * sw_link: upstream ISO 8583 links, one per [route NAME]: the cards whose
 * PAN starts with one of the route's BINs are another institution's, and
 * their requests are forwarded there instead of to our database.
 *
 * Each link is one persistent TCP connection (reconnected with backoff)
 * with its own STAN sequence: a forwarded request gets the link's next
 * STAN and a new DE 7, and the answer is matched back by DE 11. A request
 * that is not answered within the route's timeout_ms is failed to its
 * caller (who answers the terminal 91) and reversed upstream by the link
 * itself: a 0420 with DE 90 naming the forwarded original, repeated as 0421
 * until answered, and sent again with a new STAN while the upstream answers
 * 25 (the original may still be in flight there). The same reversal is
 * made when the caller cannot deliver an approval (sw_link_reverse) and
 * when the connection drops with requests in flight (outcome unknown).
 *
 * Threading: the switch's loop only. Callbacks never run inside the call
 * that started the request.
 */
#ifndef SW_LINK_H
#define SW_LINK_H

#include "sw.h"

struct sw_link;

enum {
	SWL_OK = 0,
	SWL_TIMEOUT = -1, /* no answer within timeout_ms: being reversed upstream */
	SWL_DOWN = -2,    /* the link is not up (nothing sent), or it dropped (being reversed) */
	SWL_ERROR = -3,   /* the request could not be built for this link */
};

/* What identifies a forwarded request upstream, for its reversal. */
struct swl_orig {
	char mti[5], stan[7], de7[11];
	char pan[20], proc[7], amount[13], acq[12], tid[9], currency[4];
};

/* status: SWL_OK with the upstream's answer (valid during the call), or
 * SWL_TIMEOUT / SWL_DOWN / SWL_ERROR with resp NULL. `orig` says what was
 * sent, for sw_link_reverse(). */
typedef void (*swl_cb)(void *arg, int status, const struct iso_msg *resp,
                       const struct swl_orig *orig);

int sw_links_start(struct sw *sw, char *err, size_t errlen);
void sw_links_free(struct sw *sw);

/* The route for this PAN (longest matching BIN), or NULL: the card is ours. */
struct sw_link *sw_link_for_pan(struct sw *sw, const char *pan);
const char *sw_link_name(const struct sw_link *l);
/* The route's ZPK (LMK form), "" when none. */
const char *sw_link_zpk(const struct sw_link *l);
bool sw_link_up(const struct sw_link *l);

/* Forward `req` (the terminal's request; MAC fields are dropped, DE 11 and
 * DE 7 replaced, DE 52 replaced by pin_block_hex when not NULL). Returns 0,
 * and then the callback runs exactly once unless sw_link_abandon() is
 * called first; or SWL_DOWN / SWL_ERROR at once (no callback). *handle
 * identifies the request for sw_link_abandon(). */
int sw_link_send(struct sw_link *l, const struct iso_msg *req, const char *pin_block_hex,
                 swl_cb cb, void *arg, uint64_t *handle);
/* The caller no longer waits (its terminal has been answered): no
 * callback will run; an approval that still arrives is reversed upstream. */
void sw_link_abandon(struct sw_link *l, uint64_t handle);
/* Reverse upstream an approved request whose answer the terminal did not
 * receive. */
void sw_link_reverse(struct sw_link *l, const struct swl_orig *orig);

/* Gauges for /metrics. */
unsigned sw_links_pending_reversals(const struct sw *sw);

#endif
