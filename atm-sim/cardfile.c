/* Test cards from a text file (cardfile.h). */
#include "cardfile.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static bool name_ok(const char *s, size_t n)
{
	if (n == 0)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char)s[i]) && s[i] != '.' && s[i] != '_' && s[i] != '-')
			return false;
	return true;
}

/* Calls fn for each comma-separated name; stops at the first false. */
static bool each_name(const char *names, bool (*fn)(const char *s, size_t n, void *arg), void *arg)
{
	const char *p = names;
	for (;;) {
		size_t n = strcspn(p, ",");
		if (!fn(p, n, arg))
			return false;
		if (p[n] == '\0')
			return true;
		p += n + 1;
	}
}

static bool check_name(const char *s, size_t n, void *arg)
{
	(void)arg;
	return name_ok(s, n);
}

struct lookup {
	const char *name;
	bool found;
};

static bool match_name(const char *s, size_t n, void *arg)
{
	struct lookup *l = arg;
	if (strlen(l->name) == n && memcmp(l->name, s, n) == 0)
		l->found = true;
	return !l->found;
}

const struct cf_card *cf_find(const struct cf_set *set, const char *name)
{
	for (size_t i = 0; i < set->n; i++) {
		struct lookup l = {name, false};
		each_name(set->cards[i].names, match_name, &l);
		if (l.found)
			return &set->cards[i];
	}
	return NULL;
}

struct dupcheck {
	const struct cf_set *set;
	char dup[64];
};

static bool not_taken(const char *s, size_t n, void *arg)
{
	struct dupcheck *d = arg;
	snprintf(d->dup, sizeof d->dup, "%.*s", (int)n, s);
	return cf_find(d->set, d->dup) == NULL;
}

/* Parses one non-empty line into c; returns a reason or NULL. */
static const char *parse_line(char *line, const struct cf_set *set, struct cf_card *c,
                              char *dupname, size_t dupcap)
{
	char *f[6];
	int n = 0;
	for (char *tok = strtok(line, " \t\r\n"); tok; tok = strtok(NULL, " \t\r\n")) {
		if (n == 5)
			return "too many fields (want NAME PAN EXPIRY SERVICE-CODE PIN)";
		f[n++] = tok;
	}
	if (n < 5)
		return "too few fields (want NAME PAN EXPIRY SERVICE-CODE PIN)";
	if (strlen(f[0]) >= sizeof c->names || !each_name(f[0], check_name, NULL))
		return "bad name (letters, digits, '.', '_', '-'; aliases separated by ',')";
	struct dupcheck d = {set, ""};
	if (!each_name(f[0], not_taken, &d)) {
		snprintf(dupname, dupcap, "%s", d.dup);
		return "name already used";
	}
	if (!tlf_digits(f[1], 12, 19))
		return "PAN must be 12 to 19 digits";
	if (!tlf_digits(f[2], 4, 4) || (f[2][2] - '0') * 10 + (f[2][3] - '0') < 1 ||
	    (f[2][2] - '0') * 10 + (f[2][3] - '0') > 12)
		return "expiry must be YYMM";
	if (!tlf_digits(f[3], 3, 3))
		return "service code must be 3 digits";
	if (!tlf_digits(f[4], 4, 12))
		return "PIN must be 4 to 12 digits";
	strcpy(c->names, f[0]);
	strcpy(c->card.pan, f[1]);
	strcpy(c->card.expiry, f[2]);
	strcpy(c->card.service, f[3]);
	strcpy(c->pin, f[4]);
	return NULL;
}

int cf_parse(const char *text, const char *origin, struct cf_set *set, char *why, size_t cap)
{
	set->cards = NULL;
	set->n = 0;
	size_t cap_cards = 0;
	unsigned ln = 0;
	const char *p = text;
	while (*p) {
		size_t len = strcspn(p, "\n");
		ln++;
		char line[512];
		if (len >= sizeof line) {
			snprintf(why, cap, "%s:%u: line too long", origin, ln);
			cf_free(set);
			return CF_ERR_SYNTAX;
		}
		memcpy(line, p, len);
		line[len] = '\0';
		p += len + (p[len] == '\n');
		char *s = line + strspn(line, " \t\r");
		if (*s == '#' || *s == '\0')
			continue;
		if (set->n == cap_cards) {
			size_t nc = cap_cards ? cap_cards * 2 : 16;
			struct cf_card *nb = realloc(set->cards, nc * sizeof *nb);
			if (nb == NULL) {
				snprintf(why, cap, "%s: out of memory", origin);
				cf_free(set);
				return CF_ERR_NOMEM;
			}
			set->cards = nb;
			cap_cards = nc;
		}
		char dup[64] = "";
		const char *err = parse_line(s, set, &set->cards[set->n], dup, sizeof dup);
		if (err) {
			snprintf(why, cap, "%s:%u: %s%s%s", origin, ln, err, dup[0] ? ": " : "", dup);
			cf_free(set);
			return CF_ERR_SYNTAX;
		}
		set->n++;
	}
	return 0;
}

char *cf_read_file(const char *path, char *why, size_t cap)
{
	FILE *f = fopen(path, "r");
	if (f == NULL) {
		snprintf(why, cap, "%s: %s", path, strerror(errno));
		return NULL;
	}
	size_t n = 0, sz = 4096;
	char *buf = malloc(sz);
	while (buf) {
		n += fread(buf + n, 1, sz - 1 - n, f);
		if (n < sz - 1)
			break;
		char *nb = sz < (1u << 24) ? realloc(buf, sz * 2) : NULL;
		if (nb == NULL) {
			free(buf);
			buf = NULL;
			break;
		}
		buf = nb;
		sz *= 2;
	}
	bool bad = ferror(f) != 0;
	fclose(f);
	if (buf == NULL || bad) {
		free(buf);
		snprintf(why, cap, "%s: cannot read", path);
		return NULL;
	}
	buf[n] = '\0';
	return buf;
}

int cf_load(const char *path, struct cf_set *set, char *why, size_t cap)
{
	set->cards = NULL;
	set->n = 0;
	char *text = cf_read_file(path, why, cap);
	if (text == NULL)
		return CF_ERR_FILE;
	int rc = cf_parse(text, path, set, why, cap);
	free(text);
	return rc;
}

void cf_free(struct cf_set *set)
{
	free(set->cards);
	set->cards = NULL;
	set->n = 0;
}

int cf_each_line(const char *text, int (*fn)(char *line, unsigned ln, void *arg), void *arg)
{
	unsigned ln = 0;
	for (const char *p = text; *p;) {
		size_t len = strcspn(p, "\n");
		ln++;
		char *line = malloc(len + 1);
		if (line == NULL)
			return CF_ERR_NOMEM;
		memcpy(line, p, len);
		line[len] = '\0';
		p += len + (p[len] == '\n');
		line[strcspn(line, "#")] = '\0';
		int rc = line[strspn(line, " \t\r")] ? fn(line, ln, arg) : 0;
		pc_wipe(line, len);
		free(line);
		if (rc != 0)
			return rc;
	}
	return 0;
}
