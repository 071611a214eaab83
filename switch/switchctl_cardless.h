/* switchctl cardless: cardless-cash vouchers. The 8-digit code is made
 * here, turned into an IBM 3624 offset by hsm-sim under the bank's voucher
 * PVK, printed once for the sender, and then exists nowhere in clear: the
 * ATM's PIN pad encrypts what the recipient types, and hsm-sim checks it
 * against the offset (see docs/switchctl.md, "Cardless cash"). */
#ifndef SWITCHCTL_CARDLESS_H
#define SWITCHCTL_CARDLESS_H

/* Label of the voucher PVK in crypto_keys (created on first use). */
#define SCCL_PVK_LABEL "voucher-pvk"

/* `switchctl cardless send|list|expire ...` (argv after "cardless");
 * conninfo as for scdb_connect. Returns the exit status: 0, 1 after a
 * one-line error, 2 after a one-line usage error (the usage on --help). */
int sccl_cmd(int argc, char **argv, const char *conninfo);

#endif
