/* Connection string for the test cluster started by the ctest "pg" fixture
 * (scripts/db writes $SWITCH_PGDIR/env with export PG...=... lines). */
#ifndef TEST_PGENV_H
#define TEST_PGENV_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Fills buf with "host=... port=... user=... dbname=..." (plus extra);
 * returns 0, or -1 when the environment file cannot be read. */
static inline int test_conninfo(char *buf, size_t cap, const char *extra)
{
	const char *dir = getenv("SWITCH_PGDIR");
	char path[4096], line[1024], host[1024] = "", port[32] = "", user[128] = "", db[128] = "";
	if (dir == NULL)
		return -1;
	snprintf(path, sizeof path, "%s/env", dir);
	FILE *f = fopen(path, "r");
	if (f == NULL)
		return -1;
	while (fgets(line, sizeof line, f)) {
		line[strcspn(line, "\n")] = '\0';
		const char *v = strchr(line, '=');
		if (v == NULL)
			continue;
		v++;
		if (strncmp(line, "export PGHOST=", 14) == 0)
			snprintf(host, sizeof host, "%s", v);
		else if (strncmp(line, "export PGPORT=", 14) == 0)
			snprintf(port, sizeof port, "%s", v);
		else if (strncmp(line, "export PGUSER=", 14) == 0)
			snprintf(user, sizeof user, "%s", v);
		else if (strncmp(line, "export PGDATABASE=", 18) == 0)
			snprintf(db, sizeof db, "%s", v);
	}
	fclose(f);
	snprintf(buf, cap, "host=%s port=%s user=%s dbname=%s %s", host, port, user, db,
	         extra ? extra : "");
	return 0;
}

#endif
