/* iso8583-bench: pack and unpack the reference ATM withdrawal (DE 2, 3, 4,
 * 7, 11, 12, 13, 14, 18, 22, 25, 35, 37, 41, 42, 49, 52) in both profiles on
 * one core; prints "bench: <profile>.<op> <messages per second> msg/s". */
#include "iso8583.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void reference(struct iso_msg *m)
{
	static const uint8_t pinblock[8] = {0x04, 0x12, 0x8A, 0x3C, 0x5D, 0x6E, 0x7F, 0x80};
	iso_init(m, "0200");
	iso_set_str(m, 2, "4761739001010010");
	iso_set_str(m, 3, "011000");
	iso_set_str(m, 4, "000000010000");
	iso_set_str(m, 7, "1123093015");
	iso_set_str(m, 11, "000123");
	iso_set_str(m, 12, "163015");
	iso_set_str(m, 13, "1123");
	iso_set_str(m, 14, "2812");
	iso_set_str(m, 18, "6011");
	iso_set_str(m, 22, "021");
	iso_set_str(m, 25, "02");
	iso_set_str(m, 35, "4761739001010010=28121011234567890");
	iso_set_str(m, 37, "632809000123");
	iso_set_str(m, 41, "ATM00001");
	iso_set_str(m, 42, "BANKATM00000001");
	iso_set_str(m, 49, "840");
	iso_set(m, 52, pinblock, 8);
}

enum op { PACK, UNPACK, BOTH };

static volatile size_t sink;

static void run(enum iso_profile prof, enum op op, long iters)
{
	static struct iso_msg src, dst;
	uint8_t buf[1024], enc[1024];
	size_t len = 0, enclen = 0;
	reference(&src);
	if (iso_pack(prof, &src, enc, sizeof enc, &enclen, NULL) != 0) {
		fprintf(stderr, "iso8583-bench: reference message does not pack\n");
		exit(1);
	}
	for (long i = 0; i < iters; i++) {
		switch (op) {
		case PACK:
			if (iso_pack(prof, &src, buf, sizeof buf, &len, NULL) != 0)
				exit(1);
			sink += len;
			break;
		case UNPACK:
			if (iso_unpack(prof, enc, enclen, &dst, NULL) != 0)
				exit(1);
			sink += dst.f[4].len;
			break;
		case BOTH:
			if (iso_pack(prof, &src, buf, sizeof buf, &len, NULL) != 0 ||
			    iso_unpack(prof, buf, len, &dst, NULL) != 0)
				exit(1);
			sink += dst.f[4].len;
			break;
		}
	}
}

int main(int argc, char **argv)
{
	double secs = argc > 1 ? atof(argv[1]) : 1.0;
	static const char *pn[] = {"ascii87", "binary87"};
	static const char *on[] = {"pack", "unpack", "pack+unpack"};
	for (int p = 0; p < 2; p++) {
		for (int o = 0; o < 3; o++) {
			/* Calibrate, then run for about `secs` seconds. */
			long n = 10000;
			double t0 = now();
			run((enum iso_profile)p, (enum op)o, n);
			double t = now() - t0;
			long iters = (long)((double)n * secs / (t > 1e-6 ? t : 1e-6));
			if (iters < n)
				iters = n;
			t0 = now();
			run((enum iso_profile)p, (enum op)o, iters);
			t = now() - t0;
			printf("bench: %s.%s %.0f msg/s\n", pn[p], on[o], (double)iters / t);
			fflush(stdout);
		}
	}
	return 0;
}
