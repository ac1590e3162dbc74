/*
 * lt_edxml_int: what the edXML reader and writer share (not for other modules).
 */
#ifndef LT_EDXML_INT_H
#define LT_EDXML_INT_H

#include <stddef.h>

#include "../errors/lt_err.h"

#define LT_EDXML_NAME_MAX 48 /* bytes of an element name kept in a key */
#define LT_EDXML_NREP 9

enum lt_edxml_mode {
	LT_EDXML_MODE_DOC,
	LT_EDXML_MODE_STATUS,
	LT_EDXML_MODE_SIG, /* a kept signature checked before it is written back */
};

/*
 * An element that repeats: item, numbered from 1 among the children of
 * parent. wrapper: the list element the item sits in, which leaves no
 * segment in the keys (NULL when the items sit in parent directly).
 */
struct lt_edxml_rep {
	const char *parent;
	const char *item;
	const char *wrapper;
};

extern const struct lt_edxml_rep lt_edxml_reps[LT_EDXML_NREP];

/* 0 if text[0..len) is exactly one well-formed ds:Signature element. */
int lt_edxml_sig_check(const char *text, size_t len, lt_err *err);

#endif
