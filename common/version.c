#include "version.h"

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define MAX_TOKENS	128

/* Token classes, in the order they compare at one position. */
enum tok_class { TOK_PRE, TOK_END, TOK_WORD, TOK_NUM };

struct vtok {
	enum tok_class cls;
	const char *s;		/* digits (without "0x"), or the word */
	size_t len;
	int hex;		/* TOK_NUM: hex digits */
	int rank;		/* TOK_PRE: order among pre-release words */
};

struct vtoks {
	struct vtok v[MAX_TOKENS];
	size_t n;
};

static const struct {
	const char *word;
	int rank;
} pre_words[] = {
	{ "dev", 1 }, { "alpha", 2 }, { "beta", 3 }, { "pre", 4 },
	{ "preview", 4 }, { "rc", 5 },
};

static int is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static int is_alpha(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static int is_xdigit(char c)
{
	return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

static int lower(int c)
{
	return c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c;
}

/* Case-insensitive comparison of two counted strings. */
static int word_cmp(const char *a, size_t alen, const char *b, size_t blen)
{
	size_t i;
	int d;

	for (i = 0; i < alen && i < blen; i++) {
		if ((d = lower((unsigned char)a[i]) -
		    lower((unsigned char)b[i])) != 0)
			return d < 0 ? -1 : 1;
	}
	return alen < blen ? -1 : alen > blen;
}

static int pre_rank(const char *s, size_t len)
{
	size_t i;

	for (i = 0; i < sizeof(pre_words) / sizeof(pre_words[0]); i++) {
		if (word_cmp(s, len, pre_words[i].word,
		    strlen(pre_words[i].word)) == 0)
			return pre_words[i].rank;
	}
	return 0;
}

static void push(struct vtoks *t, enum tok_class cls, const char *s,
    size_t len, int hex, int rank)
{
	if (t->n == MAX_TOKENS)
		return;
	t->v[t->n].cls = cls;
	t->v[t->n].s = s;
	t->v[t->n].len = len;
	t->v[t->n].hex = hex;
	t->v[t->n].rank = rank;
	t->n++;
}

/* Splits s into tokens (see version.h). */
static void tokenize(const char *s, struct vtoks *t)
{
	const char *p = s, *q;
	int after_sep = 1;
	int rank;

	t->n = 0;
	while (*p != '\0') {
		if (*p == '~') {
			push(t, TOK_PRE, p, 1, 0, 0);
			p++;
			after_sep = 1;
		} else if (p[0] == '0' && (p[1] == 'x' || p[1] == 'X') &&
		    is_xdigit(p[2])) {
			for (q = p + 2; is_xdigit(*q); q++)
				;
			push(t, TOK_NUM, p + 2, (size_t)(q - p - 2), 1, 0);
			p = q;
			after_sep = 0;
		} else if (is_digit(*p)) {
			for (q = p; is_digit(*q); q++)
				;
			push(t, TOK_NUM, p, (size_t)(q - p), 0, 0);
			p = q;
			after_sep = 0;
		} else if (is_alpha(*p)) {
			for (q = p; is_alpha(*q); q++)
				;
			if (q - p == 1 && lower((unsigned char)*p) == 'v' &&
			    after_sep && is_digit(*q)) {
				p = q;	/* "v2.80" is 2.80 */
				continue;
			}
			rank = pre_rank(p, (size_t)(q - p));
			push(t, rank ? TOK_PRE : TOK_WORD, p, (size_t)(q - p),
			    0, rank);
			p = q;
			after_sep = 0;
		} else {
			p++;
			after_sep = 1;
		}
	}
}

static int is_zero(const struct vtok *t)
{
	size_t i;

	if (t->cls != TOK_NUM)
		return 0;
	for (i = 0; i < t->len; i++) {
		if (t->s[i] != '0')
			return 0;
	}
	return 1;
}

/* Drops runs of zeros that end the version or precede a pre-release. */
static void drop_zeros(struct vtoks *t)
{
	size_t i = 0, j, out = 0;

	while (i < t->n) {
		if (!is_zero(&t->v[i])) {
			t->v[out++] = t->v[i++];
			continue;
		}
		for (j = i; j < t->n && is_zero(&t->v[j]); j++)
			;
		if (j == t->n || t->v[j].cls == TOK_PRE) {
			i = j;
			continue;
		}
		while (i < j)
			t->v[out++] = t->v[i++];
	}
	t->n = out;
}

static int digit_value(char c)
{
	if (is_digit(c))
		return c - '0';
	return lower((unsigned char)c) - 'a' + 10;
}

/* The value of a number token; 0 if it does not fit 64 bits. */
static int num_value(const struct vtok *t, uint64_t *v)
{
	uint64_t base = t->hex ? 16 : 10, d;
	size_t i;

	*v = 0;
	for (i = 0; i < t->len; i++) {
		d = (uint64_t)digit_value(t->s[i]);
		if (*v > (UINT64_MAX - d) / base)
			return 0;
		*v = *v * base + d;
	}
	return 1;
}

/* Significant digits (leading zeros skipped). */
static size_t num_digits(const struct vtok *t, const char **start)
{
	size_t i = 0;

	while (i < t->len && t->s[i] == '0')
		i++;
	*start = t->s + i;
	return t->len - i;
}

static int num_cmp(const struct vtok *a, const struct vtok *b)
{
	uint64_t va, vb;
	int fa = num_value(a, &va), fb = num_value(b, &vb);
	const char *sa, *sb;
	size_t la, lb, bits_a, bits_b;

	if (fa && fb)
		return va < vb ? -1 : va > vb;
	if (fa != fb)
		return fa ? -1 : 1;
	/* Both beyond 64 bits: by magnitude, then digit by digit. */
	la = num_digits(a, &sa);
	lb = num_digits(b, &sb);
	if (a->hex == b->hex) {
		if (la != lb)
			return la < lb ? -1 : 1;
		return word_cmp(sa, la, sb, lb);
	}
	bits_a = a->hex ? la * 4 : la * 332 / 100;
	bits_b = b->hex ? lb * 4 : lb * 332 / 100;
	return bits_a < bits_b ? -1 : bits_a > bits_b;
}

static int tok_cmp(const struct vtok *a, const struct vtok *b)
{
	if (a->cls != b->cls)
		return a->cls < b->cls ? -1 : 1;
	switch (a->cls) {
	case TOK_NUM:
		return num_cmp(a, b);
	case TOK_WORD:
		return word_cmp(a->s, a->len, b->s, b->len);
	case TOK_PRE:
		/* Same rank: synonyms ("pre", "preview"). */
		return a->rank < b->rank ? -1 : a->rank > b->rank;
	case TOK_END:
		break;
	}
	return 0;
}

/* True if s begins with a number, after separators and an optional v. */
static int starts_numeric(const char *s)
{
	while (*s != '\0' && !is_alpha(*s) && !is_digit(*s) && *s != '~')
		s++;
	if ((*s == 'v' || *s == 'V') && is_digit(s[1]))
		s++;
	return is_digit(*s);
}

/* Where the version core of s begins (see "Alignment" in version.h). */
static const char *version_core(const char *s)
{
	const char *p, *q;

	for (p = s; *p != '\0'; p++) {
		if (!is_digit(*p) || (p > s && is_digit(p[-1])))
			continue;
		for (q = p; is_digit(*q); q++)
			;
		if (*q == '.' && is_digit(q[1]))
			return p;
	}
	for (p = s; *p != '\0'; p++) {
		if ((*p == 'v' || *p == 'V') && is_digit(p[1]))
			return p + 1;
	}
	for (p = s; *p != '\0'; p++) {
		if (is_digit(*p))
			return p;
	}
	return s;
}

int version_compare(const char *a, const char *b)
{
	static const struct vtok end = { TOK_END, "", 0, 0, 0 };
	struct vtoks ta, tb;
	const struct vtok *x, *y;
	size_t i;
	int na, nb, c;

	a = a != NULL ? a : "";
	b = b != NULL ? b : "";
	na = starts_numeric(a);
	nb = starts_numeric(b);
	if (na && !nb)
		b = version_core(b);
	else if (nb && !na)
		a = version_core(a);
	tokenize(a, &ta);
	tokenize(b, &tb);
	drop_zeros(&ta);
	drop_zeros(&tb);
	for (i = 0; i < ta.n || i < tb.n; i++) {
		x = i < ta.n ? &ta.v[i] : &end;
		y = i < tb.n ? &tb.v[i] : &end;
		if ((c = tok_cmp(x, y)) != 0)
			return c;
	}
	return 0;
}
