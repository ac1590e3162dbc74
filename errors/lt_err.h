/*
 * lt_err: the one error convention of lienthong.
 *
 * Every fallible function returns 0 on success and -1 on failure, and fills
 * the caller's lt_err with a code and a human message that says what failed,
 * where, and what to do. Library errors (LMDB, librdkafka, protobuf-c,
 * OpenSSL, errno) are translated into an lt_err once, at the module that
 * calls the library; OpenSSL's error queue text is appended and the queue
 * cleared.
 *
 * Ownership: an lt_err is a plain value owned by the caller, usually on the
 * stack. Thread safety: functions touch only the lt_err they are given (and,
 * for lt_err_ssl, the calling thread's OpenSSL error queue).
 */
#ifndef LT_ERR_H
#define LT_ERR_H

#include <stddef.h>

enum lt_code {
	LT_OK = 0,
	LT_EINVAL,    /* bad input: configuration, file, message, argument */
	LT_EIO,       /* the environment failed: disk, network, library */
	LT_ENOTFOUND, /* the thing asked for does not exist */
	LT_EFULL,     /* a limit was reached: map full, queue full, disk full */
	LT_EVERIFY,   /* a signature, digest or certificate check failed */
	LT_ECONFLICT, /* the same identity was seen with other content */
	LT_EAGAIN,    /* transient: try again later */
};

#define LT_ERR_MSG_MAX 1024

typedef struct lt_err {
	enum lt_code code;
	char msg[LT_ERR_MSG_MAX];
} lt_err;

#define LT_PRINTF(a, b) __attribute__((format(printf, a, b)))

/* Clears e to LT_OK with an empty message. */
void lt_err_clear(lt_err *e);

/* Sets code and message; always returns -1 so callers can `return lt_err_set(...)`. */
int lt_err_set(lt_err *e, enum lt_code code, const char *fmt, ...) LT_PRINTF(3, 4);

/* Like lt_err_set with LT_EIO, appending ": " and strerror(errnum). */
int lt_err_errno(lt_err *e, int errnum, const char *fmt, ...) LT_PRINTF(3, 4);

/* Sets code and message and appends the OpenSSL error queue text (then clears it). */
int lt_err_ssl(lt_err *e, enum lt_code code, const char *fmt, ...) LT_PRINTF(3, 4);

/* Prepends "context: " to the existing message; keeps the code; returns -1. */
int lt_err_wrap(lt_err *e, const char *fmt, ...) LT_PRINTF(2, 3);

/* Name of a code for logs and JSON ("invalid", "io", ...). */
const char *lt_code_name(enum lt_code code);

#endif
