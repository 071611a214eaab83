/* Fuzz switchd's configuration file parser (swcfg_load) and the checks
 * after it (swcfg_check): any bytes give 0 or -1 with a one-line reason,
 * never a crash or a read past the file. The file goes through a memfd, as
 * swcfg_load reads a path. */
#include "sw_config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct swcfg c;
	char path[64], err[512];
	int fd = memfd_create("swcfg", 0);
	if (fd < 0)
		abort();
	if (size && write(fd, data, size) != (ssize_t)size)
		abort();
	snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
	swcfg_defaults(&c);
	err[0] = '\0';
	int rc = swcfg_load(&c, path, err, sizeof err);
	if (rc != 0 && rc != -1)
		abort();
	if (rc != 0 && (!err[0] || strchr(err, '\n')))
		abort(); /* one line saying why */
	if (rc == 0 && swcfg_check(&c, err, sizeof err) != 0 && !err[0])
		abort();
	close(fd);
	return 0;
}
