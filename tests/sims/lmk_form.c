/*
 * lmk-form: a key's LMK form for hsm-sim, for the end-to-end tests only.
 *
 *     lmk-form LMK-FILE TYPE HEX [aes]   ->  "U<hex> KCV"
 *
 * Until switchctl can set a terminal's TMK through the HSM (a key
 * ceremony), the test forms the LMK form of the demo TMK itself from the
 * test LMK. With "aes" the key is an AES key (pos-sim's AES DUKPT test:
 * hsm-sim forms only TDES keys from components). Exit 2 on bad input.
 */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "paycrypto.h"

int main(int argc, char **argv)
{
	bool aes = argc == 5 && strcmp(argv[4], "aes") == 0;
	if ((argc != 4 && !aes) || strlen(argv[2]) != 3) {
		fprintf(stderr, "usage: lmk-form LMK-FILE TYPE HEX [aes]\n");
		return 2;
	}
	FILE *f = fopen(argv[1], "r");
	char line[256] = "";
	while (f && fgets(line, sizeof line, f) && (line[0] == '#' || line[0] == '\n'))
		;
	if (f)
		fclose(f);
	uint8_t master[PC_LMK_LEN], kb[32], kcv[3];
	pc_key k;
	char out[PC_LMK_KEY_MAX + 1], kcvhex[7];
	int n = pc_hex_decode(argv[3], strlen(argv[3]), kb, sizeof kb);
	if (pc_hex_decode(line, 64, master, sizeof master) != PC_LMK_LEN || n < 0 ||
	    pc_key_set(&k, aes ? PC_ALG_AES : PC_ALG_TDES, kb, (size_t)n) != 0) {
		fprintf(stderr, "lmk-form: bad LMK file or key\n");
		return 2;
	}
	pc_lmk *lmk = pc_lmk_new(master);
	if (lmk == NULL || pc_lmk_wrap(lmk, argv[2], &k, out) != 0 || pc_kcv(&k, kcv) != 0) {
		fprintf(stderr, "lmk-form: cannot wrap the key\n");
		return 2;
	}
	pc_hex_encode(kcv, 3, kcvhex);
	printf("%s %s\n", out, kcvhex);
	pc_lmk_free(lmk);
	return 0;
}
