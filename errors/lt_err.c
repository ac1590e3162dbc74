#include "lt_err.h"

#include <errno.h>
#include <openssl/err.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

void lt_err_clear(lt_err *e)
{
	e->code = LT_OK;
	e->msg[0] = '\0';
}

static void lt_err_vset(lt_err *e, enum lt_code code, const char *fmt, va_list ap)
{
	e->code = code;
	vsnprintf(e->msg, sizeof e->msg, fmt, ap);
}

int lt_err_set(lt_err *e, enum lt_code code, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	lt_err_vset(e, code, fmt, ap);
	va_end(ap);
	return -1;
}

static void lt_err_append(lt_err *e, const char *text)
{
	size_t used = strlen(e->msg);
	if (used < sizeof e->msg)
		snprintf(e->msg + used, sizeof e->msg - used, "%s", text);
}

int lt_err_errno(lt_err *e, int errnum, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	lt_err_vset(e, errnum == ENOSPC || errnum == EDQUOT ? LT_EFULL : LT_EIO, fmt, ap);
	va_end(ap);
	lt_err_append(e, ": ");
	lt_err_append(e, strerror(errnum));
	return -1;
}

int lt_err_ssl(lt_err *e, enum lt_code code, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	lt_err_vset(e, code, fmt, ap);
	va_end(ap);
	const char *sep = " (OpenSSL: ";
	unsigned long ec;
	const char *data = NULL;
	int flags = 0;
	int any = 0;
	while ((ec = ERR_get_error_all(NULL, NULL, NULL, &data, &flags)) != 0) {
		char buf[256];
		ERR_error_string_n(ec, buf, sizeof buf);
		lt_err_append(e, sep);
		lt_err_append(e, buf);
		if (data != NULL && (flags & ERR_TXT_STRING) && data[0] != '\0') {
			lt_err_append(e, " [");
			lt_err_append(e, data);
			lt_err_append(e, "]");
		}
		sep = "; ";
		any = 1;
	}
	if (any)
		lt_err_append(e, ")");
	return -1;
}

int lt_err_wrap(lt_err *e, const char *fmt, ...)
{
	char prefix[LT_ERR_MSG_MAX];
	char old[LT_ERR_MSG_MAX];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(prefix, sizeof prefix, fmt, ap);
	va_end(ap);
	memcpy(old, e->msg, sizeof old);
	snprintf(e->msg, sizeof e->msg, "%s: %s", prefix, old);
	return -1;
}

const char *lt_code_name(enum lt_code code)
{
	switch (code) {
	case LT_OK:
		return "ok";
	case LT_EINVAL:
		return "invalid";
	case LT_EIO:
		return "io";
	case LT_ENOTFOUND:
		return "not-found";
	case LT_EFULL:
		return "full";
	case LT_EVERIFY:
		return "verify";
	case LT_ECONFLICT:
		return "conflict";
	case LT_EAGAIN:
		return "again";
	}
	return "unknown";
}
