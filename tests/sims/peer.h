/*
 * A scripted switch on loopback for the simulator tests: one thread accepts
 * one connection and treats the n-th message it receives as act[n] says;
 * past the last (PEER_MAX) it answers nothing.
 * Answers carry the request's MTI + 10, its DE 7, 41, 70, its STAN and
 * DE 39 00, unMACed unless act says otherwise; cmocka assertions fail the
 * test on any socket or codec error.
 */
#ifndef SIMS_PEER_H
#define SIMS_PEER_H

#include <pthread.h>

#include "termlink.h"

enum peer_act {
	ANSWER,
	SILENT,
	UNRELATED_FIRST, /* an answer with another STAN, then the real one */
	CLOSE,
	ANSWER_AMOUNTS,  /* DE 28 D00000500, DE 54: ledger USD C 4980.00, available USD D 10.00 */
	ANSWER_MACED,    /* MACed under `tak` */
	ANSWER_WRONG_MAC, /* MACed under another key */
};

#define PEER_MAX 16

struct peer {
	int lfd;
	unsigned port;
	enum peer_act act[PEER_MAX]; /* what to do with the n-th message received */
	char seen[PEER_MAX][5];      /* MTIs received */
	char stan[PEER_MAX][7];
	char de90[PEER_MAX][43];     /* "" when absent */
	char fields[PEER_MAX][200];  /* the data elements present: "2,3,4,7,..." */
	pc_key tak;                  /* for ANSWER_MACED (and, changed, ANSWER_WRONG_MAC) */
	unsigned n;
};

/* Starts the peer thread and returns a terminal (ATM00001, ascii87, bin2,
 * 300 ms timeout) connected to it. */
tl_term *peer_start(struct peer *p, pthread_t *th);
/* Frees the terminal, then joins the thread. */
void peer_stop(struct peer *p, pthread_t th, tl_term *t);

#endif
