/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Kubernetes resource quantities ("100m", "1.5Gi", "129e6"), parsed exactly. */
#ifndef PODMETER_QUANTITY_H
#define PODMETER_QUANTITY_H

#include <stdint.h>

/*
 * value = mantissa x 10^exp10 x 2^exp2, with the mantissa an integer: every
 * form the API server accepts is held without rounding.
 */
struct pm_quantity {
	__int128 mantissa;
	int exp10;
	int exp2;
};

/*
 * Parse a quantity: an optional sign, digits with an optional decimal point,
 * then one of the binary suffixes (Ki Mi Gi Ti Pi Ei), the decimal ones (n u
 * m k M G T P E), or an exponent (e3, E-2). Returns 0, or -EINVAL for
 * anything else (empty, "1.2.3", "5 Mi", "1KiB", "Mi", overlong digits).
 */
int quantity__parse(const char *s, struct pm_quantity *q);

/*
 * The value in thousandths (CPU millicores) and in units (bytes), rounded up
 * as the API server's MilliValue()/Value() do. -ERANGE when it does not fit
 * an int64.
 */
int quantity__milli(const struct pm_quantity *q, int64_t *out);
int quantity__units(const struct pm_quantity *q, int64_t *out);

#endif /* PODMETER_QUANTITY_H */
