/*
 * lt_rows_args: the rows of a batch given on lienthong-upload's command line.
 *
 * Each FILE argument is one row (one document of one part); FILE + FILE
 * [+ FILE...] (a lone "+" argument between files) is one row with those
 * parts, in that order; a FOLDER gives one row per file in it and one per
 * sub-folder, whose files are the row's parts, in name order (the row's
 * subject is the sub-folder's name). Names starting with '.' are left out;
 * a folder inside a sub-folder, an empty folder and a misplaced "+" are
 * problems (added to p, the rest is read on). Files are not opened here:
 * lienthong-upload checks every row afterwards.
 *
 * Ownership: rows added to m belong to it (lt_manifest_free).
 */
#ifndef LT_ROWS_ARGS_H
#define LT_ROWS_ARGS_H

#include "../errors/lt_err.h"
#include "lt_manifest.h"

/* Adds the rows of args[n] to m; -1 only when out of memory (err). */
int lt_rows_from_args(struct lt_manifest *m, char **args, int n, struct lt_problems *p,
                      lt_err *err);

#endif
