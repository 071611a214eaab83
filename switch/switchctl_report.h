/* switchctl report auths|fees|fx|holds|statement|retention: the operators'
 * reports (docs/switchctl.md, "Reports"; SQL in schema/021_reports.sql).
 * Each run reads one snapshot and writes its audit_log row in the same
 * transaction; the output never shows more of a PAN than first 6 + last 4. */
#ifndef SWITCHCTL_REPORT_H
#define SWITCHCTL_REPORT_H

/* argv: the words after "report". Returns the exit status: 0, 1 after a
 * one-line error, 2 for a bad command line (one line too). */
int screp_cmd(int argc, char **argv, const char *conninfo);

#endif
