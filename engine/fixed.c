/* Fixed-point encoding (exact decimal text, double, int64) and share-level truncation. */
#include "engine/fixed.h"

#include "common/err.h"
#include "engine/ring.h"

#include <math.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#define FIXED_TWO63 9223372036854775808.0 /* 2^63 as a double */

int engine_fixed_from_int64(int64_t v, unsigned f, uint64_t *out)
{
	int64_t lim;

	if (f > ENGINE_FIXED_MAX_FRAC_BITS)
		return MPC_EINVAL;
	lim = INT64_MAX >> f; /* v * 2^f fits iff -lim-1 <= v <= lim */
	if (v > lim || v < -lim - 1)
		return MPC_ERANGE;
	*out = (uint64_t)v << f;
	return 0;
}

int engine_fixed_from_double(double v, unsigned f, uint64_t *out)
{
	double s;

	if (f > ENGINE_FIXED_MAX_FRAC_BITS)
		return MPC_EINVAL;
	if (!isfinite(v))
		return MPC_ERANGE;
	s = round(ldexp(v, (int)f)); /* ldexp is exact; round: halves away */
	if (!(s >= -FIXED_TWO63 && s < FIXED_TWO63))
		return MPC_ERANGE;
	*out = (uint64_t)(int64_t)s;
	return 0;
}

double engine_fixed_to_double(uint64_t x, unsigned f)
{
	return ldexp((double)(int64_t)x, -(int)f);
}

int engine_fixed_from_double_vec(uint64_t *out, const double *in, size_t n,
				 unsigned f, size_t *bad)
{
	for (size_t k = 0; k < n; k++) {
		int rv = engine_fixed_from_double(in[k], f, &out[k]);

		if (rv != 0) {
			if (bad != NULL)
				*bad = k;
			return rv;
		}
	}
	return 0;
}

void engine_fixed_to_double_vec(double *out, const uint64_t *in, size_t n,
				unsigned f)
{
	double scale = ldexp(1.0, -(int)f);

	for (size_t k = 0; k < n; k++)
		out[k] = (double)(int64_t)in[k] * scale;
}

static int fixed_isdigit(char c)
{
	return c >= '0' && c <= '9';
}

/*
 * Decimal text -> ring element with exact arithmetic: the integer part is
 * accumulated in 128 bits, the fraction (a decimal digit string) is turned
 * into f binary digits by repeated doubling, and the remainder decides the
 * rounding (>= one half: away from zero).
 */
int engine_fixed_parse(const char *text, size_t len, unsigned f,
		       uint64_t *out)
{
	char digits[ENGINE_FIXED_PARSE_MAX + 24];
	size_t i = 0, nd = 0, lz, nfrac;
	long point = -1, exp10 = 0, ipart_len;
	int neg = 0, any = 0;
	unsigned __int128 ip = 0, mag;
	uint64_t frac_bits = 0;

	if (f > ENGINE_FIXED_MAX_FRAC_BITS || len > ENGINE_FIXED_PARSE_MAX)
		return MPC_EINVAL;
	if (i < len && (text[i] == '+' || text[i] == '-'))
		neg = text[i++] == '-';
	for (; i < len; i++) {
		if (fixed_isdigit(text[i])) {
			any = 1;
			if (nd == 0 && text[i] == '0' && point < 0)
				continue; /* leading zero of the integer part */
			digits[nd++] = (char)(text[i] - '0');
		} else if (text[i] == '.' && point < 0) {
			point = (long)nd;
		} else {
			break;
		}
	}
	if (!any)
		return MPC_EINVAL;
	if (point < 0)
		point = (long)nd;
	if (i < len && (text[i] == 'e' || text[i] == 'E')) {
		int eneg = 0, edig = 0;

		i++;
		if (i < len && (text[i] == '+' || text[i] == '-'))
			eneg = text[i++] == '-';
		for (; i < len && fixed_isdigit(text[i]); i++, edig++) {
			if (exp10 < 100000)
				exp10 = exp10 * 10 + (text[i] - '0');
		}
		if (edig == 0)
			return MPC_EINVAL;
		if (eneg)
			exp10 = -exp10;
	}
	if (i != len)
		return MPC_EINVAL;
	while (nd > 0 && nd > (size_t)point && digits[nd - 1] == 0)
		nd--; /* trailing zeros of the fraction */
	for (lz = 0; lz < nd && digits[lz] == 0; lz++)
		; /* leading zeros of the fraction ("0.05") */
	if (lz > 0) {
		memmove(digits, digits + lz, nd - lz);
		nd -= lz;
		point -= (long)lz;
	}

	/* value = 0.digits * 10^ipart_len */
	ipart_len = point + exp10;
	if (nd == 0) {
		*out = 0;
		return 0;
	}
	if (ipart_len > 20)
		return MPC_ERANGE; /* digits[0] != 0: value >= 10^20 > 2^63 */
	for (long k = 0; k < ipart_len; k++)
		ip = ip * 10 + ((size_t)k < nd ? (unsigned)digits[k] : 0);
	if (ip > ((unsigned __int128)1 << 63) >> f)
		return MPC_ERANGE;

	if (ipart_len < -20) {
		/* value < 10^-20 and 2^f <= 2^62 < 10^19: rounds to 0 */
		*out = 0;
		return 0;
	}
	/* Fraction digits, with -ipart_len leading zeros if negative. */
	if (ipart_len < 0) {
		memmove(digits + (-ipart_len), digits, nd);
		memset(digits, 0, (size_t)(-ipart_len));
		nd += (size_t)(-ipart_len);
		ipart_len = 0;
	}
	nfrac = (size_t)ipart_len < nd ? nd - (size_t)ipart_len : 0;
	{
		char *fd = digits + ipart_len;

		for (unsigned b = 0; b < f; b++) {
			int carry = 0;

			for (size_t k = nfrac; k-- > 0;) {
				int d = fd[k] * 2 + carry;

				carry = d >= 10;
				fd[k] = (char)(d - 10 * carry);
			}
			frac_bits = (frac_bits << 1) | (uint64_t)carry;
		}
		mag = (ip << f) + frac_bits + (nfrac > 0 && fd[0] >= 5);
	}
	if (mag > ((unsigned __int128)1 << 63) - (neg ? 0 : 1))
		return MPC_ERANGE;
	*out = neg ? -(uint64_t)mag : (uint64_t)mag;
	return 0;
}

/* Writes [-]ip[.d0d1...] (trailing zeros dropped); returns the length. */
static size_t fixed_write(char *buf, int neg, uint64_t ip, const char *d,
			  unsigned nd)
{
	char tmp[24];
	size_t n = 0, t = 0;

	while (nd > 0 && d[nd - 1] == 0)
		nd--;
	if (neg)
		buf[n++] = '-';
	do {
		tmp[t++] = (char)('0' + ip % 10);
		ip /= 10;
	} while (ip > 0);
	while (t > 0)
		buf[n++] = tmp[--t];
	if (nd > 0) {
		buf[n++] = '.';
		for (unsigned k = 0; k < nd; k++)
			buf[n++] = (char)('0' + d[k]);
	}
	buf[n] = '\0';
	return n;
}

int engine_fixed_format(uint64_t x, unsigned f, char *buf, size_t cap)
{
	char exact[ENGINE_FIXED_MAX_FRAC_BITS], cand[ENGINE_FIXED_MAX_FRAC_BITS];
	char text[ENGINE_FIXED_TEXT_MAX];
	int neg = (int64_t)x < 0;
	uint64_t mag = neg ? -x : x, mask, ip;
	unsigned __int128 frac;
	size_t len = 0;

	if (f > ENGINE_FIXED_MAX_FRAC_BITS)
		return MPC_EINVAL;
	mask = ((uint64_t)1 << f) - 1;
	ip = mag >> f;
	frac = mag & mask;
	/* frac / 2^f has exactly f decimal digits at most. */
	for (unsigned k = 0; k < f; k++) {
		frac *= 10;
		exact[k] = (char)(frac >> f);
		frac &= mask;
	}
	/* Shortest first: round to d digits and keep it if it parses back. */
	for (unsigned d = 0; d <= f; d++) {
		uint64_t cip = ip;
		uint64_t back;

		memcpy(cand, exact, d);
		if (d < f && exact[d] >= 5) {
			unsigned k = d;

			while (k > 0 && cand[k - 1] == 9)
				cand[--k] = 0;
			if (k > 0)
				cand[k - 1]++;
			else
				cip++;
		}
		len = fixed_write(text, neg, cip, cand, d);
		if (engine_fixed_parse(text, len, f, &back) == 0 && back == x)
			break;
	}
	if (len + 1 > cap)
		return MPC_EINVAL;
	memcpy(buf, text, len + 1);
	return 0;
}

void engine_fixed_trunc_send(uint64_t *msg, const uint64_t *x,
			     const uint64_t *send_mask, size_t n)
{
	engine_ring_add(msg, x, send_mask, n);
}

void engine_fixed_trunc_finish(uint64_t *z, const uint64_t *u,
			       const uint64_t *share_base, unsigned f,
			       size_t n)
{
	if (u != NULL) {
		/* SecureML Thm 1, share A: logical shift of u = x + rho. */
		for (size_t k = 0; k < n; k++)
			z[k] = (u[k] >> f) + share_base[k];
	} else if (z != share_base && n > 0) {
		memcpy(z, share_base, n * sizeof *z);
	}
}

int engine_fixed_trunc(const struct engine_opener *op, int receiver,
		       unsigned f, uint64_t *z, const uint64_t *x,
		       const uint64_t *send_mask, const uint64_t *share_base,
		       size_t n)
{
	uint64_t *msg;
	int rv;

	if (op->n_parties != 3 || op->open_to == NULL || receiver < 0 ||
	    receiver > 2 || f > ENGINE_FIXED_MAX_FRAC_BITS)
		return MPC_EINVAL;
	if (n == 0)
		return 0;
	if (n > SIZE_MAX / sizeof *msg)
		return MPC_ENOMEM;
	msg = malloc(n * sizeof *msg);
	if (msg == NULL)
		return MPC_ENOMEM;
	engine_fixed_trunc_send(msg, x, send_mask, n);
	rv = op->open_to(op->ctx, receiver, op->party == receiver ? msg : NULL,
			 msg, n);
	if (rv == 0)
		engine_fixed_trunc_finish(z, op->party == receiver ? msg : NULL,
					  share_base, f, n);
	/* msg held x masked by rho (receiver: x + rho), still sensitive. */
	sodium_memzero(msg, n * sizeof *msg);
	free(msg);
	return rv;
}

int engine_fixed_mul(const struct engine_opener *op, int receiver,
		     unsigned f, uint64_t *z, const uint64_t *x,
		     const uint64_t *y, const uint64_t *a, const uint64_t *b,
		     const uint64_t *c, const uint64_t *send_mask,
		     const uint64_t *share_base, size_t n)
{
	int rv = engine_beaver_mul(op, z, x, y, a, b, c, n);

	if (rv != 0)
		return rv;
	return engine_fixed_trunc(op, receiver, f, z, z, send_mask,
				  share_base, n);
}
