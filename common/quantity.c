// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Kubernetes resource quantities, parsed into an exact rational. */
#include <ctype.h>
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <podmeter/quantity.h>

#define MAX_DIGITS 36 /* fits an __int128 with room to scale */

static const struct {
	const char *suffix;
	int exp10, exp2;
} suffixes[] = {
	{ "Ki", 0, 10 }, { "Mi", 0, 20 }, { "Gi", 0, 30 }, { "Ti", 0, 40 }, { "Pi", 0, 50 },
	{ "Ei", 0, 60 }, { "n", -9, 0 },  { "u", -6, 0 },  { "m", -3, 0 },  { "k", 3, 0 },
	{ "M", 6, 0 },	 { "G", 9, 0 },	  { "T", 12, 0 },  { "P", 15, 0 },  { "E", 18, 0 },
};

/* "e3", "E-2", "e+4" after the number; returns 0 or -EINVAL. */
static int parse_exponent(const char *s, int *exp10)
{
	char *end;
	long e;

	if ((*s != 'e' && *s != 'E') || !s[1])
		return -EINVAL;
	if (!isdigit((unsigned char)s[1]) &&
	    !((s[1] == '+' || s[1] == '-') && isdigit((unsigned char)s[2])))
		return -EINVAL;
	errno = 0;
	e = strtol(s + 1, &end, 10);
	if (*end || errno || e < -100 || e > 100)
		return -EINVAL;
	*exp10 += (int)e;
	return 0;
}

static int parse_suffix(const char *s, struct pm_quantity *q)
{
	size_t i;

	if (!*s)
		return 0;
	for (i = 0; i < sizeof(suffixes) / sizeof(suffixes[0]); i++) {
		if (!strcmp(s, suffixes[i].suffix)) {
			q->exp10 += suffixes[i].exp10;
			q->exp2 += suffixes[i].exp2;
			return 0;
		}
	}
	return parse_exponent(s, &q->exp10);
}

int quantity__parse(const char *s, struct pm_quantity *q)
{
	bool neg = false, dot = false, any = false;
	int digits = 0;

	memset(q, 0, sizeof(*q));
	if (!s)
		return -EINVAL;
	if (*s == '+' || *s == '-')
		neg = *s++ == '-';
	for (; isdigit((unsigned char)*s) || (*s == '.' && !dot); s++) {
		if (*s == '.') {
			dot = true;
			continue;
		}
		any = true;
		if (digits || *s != '0')
			digits++;
		if (digits > MAX_DIGITS)
			return -EINVAL;
		q->mantissa = q->mantissa * 10 + (*s - '0');
		if (dot)
			q->exp10--;
	}
	if (!any)
		return -EINVAL; /* "", ".", "Mi" */
	if (neg)
		q->mantissa = -q->mantissa;
	return parse_suffix(s, q);
}

/* value x 10^scale, rounded up, into @out. */
static int scaled(const struct pm_quantity *q, int scale, int64_t *out)
{
	__int128 v = q->mantissa, limit = (__int128)INT64_MAX;
	int e10 = q->exp10 + scale, e2 = q->exp2;
	bool inexact = false;

	for (; e2 > 0; e2--) {
		v *= 2;
		if (v > limit || v < -limit)
			return -ERANGE;
	}
	for (; e10 > 0; e10--) {
		v *= 10;
		if (v > limit || v < -limit)
			return -ERANGE;
	}
	for (; e10 < 0; e10++) {
		inexact |= v % 10 != 0;
		v /= 10;
	}
	if (inexact && v >= 0 && q->mantissa > 0)
		v++; /* round up, as MilliValue()/Value() */
	if (v > limit || v < -limit)
		return -ERANGE;
	*out = (int64_t)v;
	return 0;
}

int quantity__milli(const struct pm_quantity *q, int64_t *out)
{
	return scaled(q, 3, out);
}

int quantity__units(const struct pm_quantity *q, int64_t *out)
{
	return scaled(q, 0, out);
}
