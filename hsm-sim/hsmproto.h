/*
 * hsmproto: the constants of the hsm-sim host command protocol, shared by
 * the server (hsmcmd) and the client (hsmclient). docs/hsm.md is the full
 * command reference.
 *
 * Frame: 2-byte big-endian length, then header (default 4 characters,
 * echoed), 2-character command code, fields. Answer: header, response code
 * (command code with its second character advanced by one), 2-digit error
 * code, fields.
 */
#ifndef HSMPROTO_H
#define HSMPROTO_H

#define HSM_HEADER_LEN_DEFAULT 4
#define HSM_HEADER_LEN_MAX 32
#define HSM_MSG_MAX 65535 /* the 2-byte length prefix */

/* Key type codes (3 characters) that bind a key under the LMK to its use.
 * ZMK, ZPK, TAK, ZAK, BDK, CVK follow the payShield variant-LMK codes; TPK,
 * TMK and PVK (one code, 002, on a payShield) get codes of their own here so
 * that one can never be presented as another. */
#define HSM_KT_ZMK "000"
#define HSM_KT_ZPK "001"
#define HSM_KT_TPK "002"
#define HSM_KT_TAK "003"
#define HSM_KT_TMK "004"
#define HSM_KT_PVK "005"
#define HSM_KT_ZAK "008"
#define HSM_KT_BDK "009"
#define HSM_KT_IMK "109"
#define HSM_KT_CVK "402"

/* PIN block format codes (payShield numbering). */
#define HSM_PBF_ISO0 "01"
#define HSM_PBF_ISO1 "05"
#define HSM_PBF_ISO3 "47"
#define HSM_PBF_ISO4 "48"

/* Error codes of the answer. */
enum hsm_error {
    HSM_E_OK = 0,
    HSM_E_VERIFY = 1,      /* PIN, CVV or MAC verification failed */
    HSM_E_KEY1 = 10,       /* first key: parity, integrity or type error */
    HSM_E_KEY2 = 11,       /* second key: same */
    HSM_E_KEY3 = 12,       /* third key: same */
    HSM_E_INPUT = 15,      /* command cannot be parsed / invalid field */
    HSM_E_NOT_AUTHORISED = 17, /* HSM not in the authorised state (key ceremony commands) */
    HSM_E_PIN_BLOCK = 20,  /* PIN block does not contain valid values */
    HSM_E_PBF = 23,        /* invalid PIN block format code */
    HSM_E_PIN_LEN = 24,    /* PIN shorter than 4 or longer than 12/max */
    HSM_E_KEY_TYPE = 27,   /* key algorithm/length unusable for the operation */
    HSM_E_DUKPT = 29,      /* DUKPT KSN invalid or exhausted counter */
    HSM_E_DISABLED = 68,   /* command disabled / not implemented */
    HSM_E_INTERNAL = 99,   /* internal failure (cryptographic library) */
};

#endif
