/* switchctl clearing import|exceptions|report|make-test-file: scheme
 * clearing files (docs/clearing.md). */
#ifndef SWITCHCTL_CLEARING_H
#define SWITCHCTL_CLEARING_H

/* argv: the words after "clearing". Returns the exit status. */
int scclr_cmd(int argc, char **argv, const char *conninfo);

#endif
