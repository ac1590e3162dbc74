/*
 * lt_text: strings that came from outside (the network, another agency, a
 * file) made safe to show and to bound.
 *
 * Nothing from the network reaches a terminal raw. lt_text_escape and
 * lt_text_fputs write a string so that it holds no control character: C0
 * controls (0x00-0x1F, tab and newline included) and DEL become \xNN, C1
 * controls (U+0080-U+009F, which some terminals obey like ESC sequences)
 * become \uNNNN, and every byte that is not part of valid UTF-8 becomes
 * \xNN. Everything else (printable ASCII, valid UTF-8 letters) is kept, so
 * Vietnamese text reads as written. A backslash is kept as it is: the result
 * is for reading, not for decoding back.
 *
 * Cutting keeps characters whole: lt_text_utf8_cut gives the longest prefix
 * within a byte limit that does not end inside a UTF-8 character, and
 * lt_text_escape never ends its output inside a character or an escape.
 *
 * Pure functions over the caller's buffers; thread-safe.
 */
#ifndef LT_TEXT_H
#define LT_TEXT_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/*
 * Length (1 to 4) of the valid UTF-8 character that starts s[0..len), its
 * code point in *cp; 0 when s does not start with one (a stray continuation
 * byte, a truncated, overlong or surrogate sequence, beyond U+10FFFF).
 */
size_t lt_text_utf8_char(const char *s, size_t len, uint32_t *cp);

/* 1 when s[0..len) is entirely valid UTF-8, else 0. */
int lt_text_utf8_valid(const char *s, size_t len);

/*
 * The length of the longest prefix of s[0..len) of at most max bytes that
 * does not end inside a multi-byte UTF-8 character (it backs up over at most
 * three continuation bytes; invalid input is cut at max).
 */
size_t lt_text_utf8_cut(const char *s, size_t len, size_t max);

/*
 * Writes s escaped (see above) into out of cap bytes (cap >= 1), always
 * NUL-terminated; what does not fit is left out whole (a character or an
 * escape is never split). Returns out.
 */
char *lt_text_escape(const char *s, char *out, size_t cap);

/* Writes s escaped to f, without a length limit. */
void lt_text_fputs(const char *s, FILE *f);

/*
 * A JSON string for s: s itself when it is valid UTF-8 (the controls are
 * escaped when dumped with lt_text_json_dumps), else s escaped as above.
 * NULL only when out of memory.
 */
json_t *lt_text_json(const char *s);

/*
 * json_dumps(j, flags) with every control escaped: JSON_ENSURE_ASCII is
 * added (so C1 controls become \u0080..\u009F) and DEL, which jansson
 * leaves raw, becomes \u007f. Free the result with free(); NULL when out of
 * memory.
 */
char *lt_text_json_dumps(const json_t *j, size_t flags);

#endif
