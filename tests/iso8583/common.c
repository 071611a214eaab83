#include "common.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *const t_prof_name[2] = {"ascii87", "binary87"};

static int hv(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

size_t t_spec(const char *spec, uint8_t *out, size_t cap)
{
	size_t n = 0;
	const char *s = spec;
	while (*s) {
		if (*s == ' ' || *s == '\n' || *s == '|') {
			s++;
		} else if (*s == '\'') {
			s++;
			while (*s && *s != '\'') {
				assert_true(n < cap);
				out[n++] = (uint8_t)*s++;
			}
			assert_int_equal(*s, '\'');
			s++;
		} else {
			int hi = hv(s[0]), lo = s[1] ? hv(s[1]) : -1;
			if (hi < 0 || lo < 0)
				fail_msg("bad spec at '%.10s' in %.40s", s, spec);
			assert_true(n < cap);
			out[n++] = (uint8_t)(hi << 4 | lo);
			s += 2;
		}
	}
	return n;
}

size_t t_header(enum iso_profile prof, const char *mti, const unsigned *des, size_t n,
                uint8_t *out)
{
	uint8_t bm[16] = {0};
	size_t k = 0;
	int second = 0;
	for (size_t i = 0; i < n; i++) {
		unsigned de = des[i];
		bm[(de - 1) / 8] |= (uint8_t)(0x80u >> ((de - 1) % 8));
		if (de > 64)
			second = 1;
	}
	if (second)
		bm[0] |= 0x80;
	size_t nbm = second ? 16 : 8;
	if (prof == ISO_ASCII87) {
		memcpy(out, mti, 4);
		k = 4;
		for (size_t i = 0; i < nbm; i++) {
			out[k++] = (uint8_t)"0123456789ABCDEF"[bm[i] >> 4];
			out[k++] = (uint8_t)"0123456789ABCDEF"[bm[i] & 15];
		}
	} else {
		out[0] = (uint8_t)((mti[0] - '0') << 4 | (mti[1] - '0'));
		out[1] = (uint8_t)((mti[2] - '0') << 4 | (mti[3] - '0'));
		k = 2;
		memcpy(out + k, bm, nbm);
		k += nbm;
	}
	return k;
}

void t_hex(const uint8_t *p, size_t n, char *out)
{
	for (size_t i = 0; i < n; i++) {
		out[2 * i] = "0123456789ABCDEF"[p[i] >> 4];
		out[2 * i + 1] = "0123456789ABCDEF"[p[i] & 15];
	}
	out[2 * n] = '\0';
}

int t_contains(const void *hay, size_t hl, const void *needle, size_t nl)
{
	const uint8_t *h = hay;
	if (nl == 0)
		return 1;
	for (size_t i = 0; i + nl <= hl; i++)
		if (memcmp(h + i, needle, nl) == 0)
			return 1;
	return 0;
}

/* ---- samples ---------------------------------------------------------------- */

static struct t_sample samples[T_MAX_SAMPLES];
static size_t nsamples;

static int is_b(unsigned de)
{
	return de == 52 || de == 55 || de == 64 || de == 96 || de == 128;
}

static void add_value(struct t_sample *s, unsigned de, const char *v)
{
	size_t vl = strlen(v);
	assert_true(vl < sizeof s->store - s->used);
	uint8_t *dst = s->store + s->used;
	size_t n = 0;
	if (is_b(de)) {
		assert_int_equal(vl % 2, 0);
		for (size_t i = 0; i < vl; i += 2) {
			int hi = hv(v[i]), lo = hv(v[i + 1]);
			assert_true(hi >= 0 && lo >= 0);
			dst[n++] = (uint8_t)(hi << 4 | lo);
		}
	} else {
		memcpy(dst, v, vl);
		n = vl;
	}
	s->val[de] = dst;
	s->len[de] = n;
	s->used += n;
}

static int cmp_names(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static void load_file(const char *dir, const char *file)
{
	char path[1024];
	snprintf(path, sizeof path, "%s/%s", dir, file);
	FILE *f = fopen(path, "r");
	assert_non_null(f);
	char line[4096];
	struct t_sample *cur = NULL;
	unsigned part = 0;
	while (fgets(line, sizeof line, f) != NULL) {
		size_t ll = strlen(line);
		while (ll > 0 && (line[ll - 1] == '\n' || line[ll - 1] == '\r'))
			line[--ll] = '\0';
		if (line[0] == '#')
			continue;
		if (ll == 0) {
			cur = NULL;
			continue;
		}
		char *eq = strchr(line, '=');
		assert_non_null(eq);
		*eq = '\0';
		if (strcmp(line, "MTI") == 0 || strcmp(line, "0") == 0) {
			assert_null(cur);
			assert_true(nsamples < T_MAX_SAMPLES);
			cur = &samples[nsamples++];
			memset(cur, 0, sizeof *cur);
			snprintf(cur->name, sizeof cur->name, "%s#%u", file, part++);
			assert_int_equal(strlen(eq + 1), 4);
			memcpy(cur->mti, eq + 1, 4);
			continue;
		}
		assert_non_null(cur);
		unsigned long de = strtoul(line, NULL, 10);
		assert_true(de >= 2 && de <= ISO_MAX_DE && de != 65);
		add_value(cur, (unsigned)de, eq + 1);
	}
	fclose(f);
}

size_t t_samples(const struct t_sample **out)
{
	if (nsamples == 0) {
		DIR *d = opendir(T_SAMPLES_DIR);
		assert_non_null(d);
		char *names[64];
		size_t nn = 0;
		struct dirent *e;
		while ((e = readdir(d)) != NULL) {
			size_t l = strlen(e->d_name);
			if (l > 4 && strcmp(e->d_name + l - 4, ".txt") == 0 && nn < 64)
				names[nn++] = strdup(e->d_name);
		}
		closedir(d);
		qsort(names, nn, sizeof names[0], cmp_names);
		for (size_t i = 0; i < nn; i++) {
			load_file(T_SAMPLES_DIR, names[i]);
			free(names[i]);
		}
	}
	assert_true(nsamples > 0);
	*out = samples;
	return nsamples;
}

void t_sample_msg(const struct t_sample *s, struct iso_msg *m)
{
	iso_init(m, s->mti);
	for (unsigned de = 2; de <= ISO_MAX_DE; de++)
		if (s->val[de] != NULL) {
			int rc = iso_set(m, de, s->val[de], s->len[de]);
			if (rc != 0)
				fail_msg("%s: DE %u: %s", s->name, de, iso_strerror(rc));
		}
}
