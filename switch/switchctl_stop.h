/* switchctl stop-payment: a customer's "stop all future payments to this
 * merchant" on one card (recurring charges from that DE 42 answered 57),
 * through stop_payment_add() / stop_payment_remove(), both audit-logged. */
#ifndef SWITCHCTL_STOP_H
#define SWITCHCTL_STOP_H

/* `switchctl stop-payment add|list|remove ...` (argv after "stop-payment");
 * conninfo as for scdb_connect. Returns the exit status: 0, 1 after a
 * one-line error, 2 after a one-line usage error (the usage on --help). */
int scstop_cmd(int argc, char **argv, const char *conninfo);

#endif
