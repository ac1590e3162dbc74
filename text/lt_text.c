#include "lt_text.h"

#include <stdlib.h>
#include <string.h>

size_t lt_text_utf8_char(const char *s, size_t len, uint32_t *cp)
{
	static const uint32_t min[] = {0, 0x80, 0x800, 0x10000};
	const unsigned char *p = (const unsigned char *)s;
	if (len == 0)
		return 0;
	uint32_t c = p[0];
	size_t more = c < 0x80             ? 0
	              : (c & 0xE0) == 0xC0 ? 1
	              : (c & 0xF0) == 0xE0 ? 2
	              : (c & 0xF8) == 0xF0 ? 3
	                                   : 4;
	if (more == 4 || more >= len)
		return 0;
	c &= more == 0 ? 0x7F : (0x3Fu >> more);
	for (size_t i = 1; i <= more; i++) {
		if ((p[i] & 0xC0) != 0x80)
			return 0;
		c = (c << 6) | (p[i] & 0x3F);
	}
	if (c < min[more] || c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF))
		return 0; /* overlong, out of range, or a surrogate */
	*cp = c;
	return more + 1;
}

int lt_text_utf8_valid(const char *s, size_t len)
{
	uint32_t cp;
	while (len > 0) {
		size_t n = lt_text_utf8_char(s, len, &cp);
		if (n == 0)
			return 0;
		s += n;
		len -= n;
	}
	return 1;
}

size_t lt_text_utf8_cut(const char *s, size_t len, size_t max)
{
	if (len <= max)
		return len;
	size_t cut = max;
	/* s[cut] is the first byte left out: while it continues a character, cut before it. */
	for (int back = 0; back < 3 && cut > 0 && ((unsigned char)s[cut] & 0xC0) == 0x80; back++)
		cut--;
	if (((unsigned char)s[cut] & 0xC0) == 0x80)
		return max; /* not UTF-8 here: no character to keep whole */
	return cut;
}

/*
 * The escaped form of the character or stray byte that starts s[0..len)
 * (len >= 1) into piece (NUL-terminated); returns how many bytes of s it covers.
 */
static size_t lt_text_piece(const char *s, size_t len, char piece[8])
{
	static const char hex[] = "0123456789abcdef";
	unsigned char b = (unsigned char)s[0];
	uint32_t cp = 0;
	size_t n = lt_text_utf8_char(s, len, &cp);
	if (n == 0 || cp < 0x20 || cp == 0x7F) {
		piece[0] = '\\';
		piece[1] = 'x';
		piece[2] = hex[b >> 4];
		piece[3] = hex[b & 0xF];
		piece[4] = '\0';
		return 1;
	}
	if (cp >= 0x80 && cp <= 0x9F) {
		memcpy(piece, "\\u00", 4);
		piece[4] = hex[cp >> 4];
		piece[5] = hex[cp & 0xF];
		piece[6] = '\0';
		return n;
	}
	memcpy(piece, s, n);
	piece[n] = '\0';
	return n;
}

char *lt_text_escape(const char *s, char *out, size_t cap)
{
	size_t len = strlen(s), used = 0;
	char piece[8];
	while (len > 0) {
		size_t n = lt_text_piece(s, len, piece);
		size_t plen = strlen(piece);
		if (used + plen >= cap)
			break;
		memcpy(out + used, piece, plen);
		used += plen;
		s += n;
		len -= n;
	}
	out[used] = '\0';
	return out;
}

void lt_text_fputs(const char *s, FILE *f)
{
	size_t len = strlen(s);
	char piece[8];
	while (len > 0) {
		size_t n = lt_text_piece(s, len, piece);
		fputs(piece, f);
		s += n;
		len -= n;
	}
}

json_t *lt_text_json(const char *s)
{
	size_t len = strlen(s);
	if (lt_text_utf8_valid(s, len))
		return json_stringn(s, len);
	size_t cap = 4 * len + 1; /* a stray byte, the most that escaping grows by */
	char *buf = malloc(cap);
	if (buf == NULL)
		return NULL;
	json_t *j = json_string(lt_text_escape(s, buf, cap));
	free(buf);
	return j;
}

char *lt_text_json_dumps(const json_t *j, size_t flags)
{
	char *text = json_dumps(j, flags | JSON_ENSURE_ASCII);
	if (text == NULL)
		return NULL;
	size_t dels = 0, len = 0;
	for (; text[len] != '\0'; len++)
		dels += text[len] == 0x7F;
	if (dels == 0)
		return text;
	/* A raw DEL can only be inside a string, where \u007f means the same. */
	char *out = malloc(len + 5 * dels + 1);
	if (out != NULL) {
		char *w = out;
		for (const char *r = text; *r != '\0'; r++) {
			if (*r == 0x7F) {
				memcpy(w, "\\u007f", 6);
				w += 6;
			} else {
				*w++ = *r;
			}
		}
		*w = '\0';
	}
	free(text);
	return out;
}
