/*
 * preprocess.c — category dictionaries, column statistics, imputation, encoding and scaling of
 * snapshot columns (see preprocess.h for the flow).
 *
 * Categories. Each categorical column owns one dictionary (array columns share it across elements):
 * an open-addressing hash table of its own over the category texts, codes 1..N in order of first
 * appearance; code 0 is the NULL category "__NULL__" and is never stored in the table. Ordinal columns
 * hold their user-given list in the same structure (code = position + 1) and never grow. Codes stay
 * below 2^24 so that they are exact in a float. Once fitted, a dictionary is frozen: `add` is ignored
 * and an unknown text gives NaN, since the features were laid out for the categories seen at fit.
 *
 * Values. Every raw float goes through the same steps in fit and transform:
 *
 *   1. decide whether it is missing: NaN for any column; for categorical columns also anything that is
 *      not a known code (an integer 0..N), and for one-hot columns the NULL category (0) when no
 *      training row had it (the NULL category is an indicator only if it appeared in training);
 *   2. a present value is encoded: native and ordinal keep the code, target takes the category's mean
 *      of the first target over its training rows (the mean of all training targets for a category
 *      without rows), one-hot keeps the code for step 4;
 *   3. a missing value takes the slot's impute value (impute = error makes it an error naming the row);
 *   4. one-hot columns give, per element, one indicator for every category but the first seen
 *      (code 1, the dropped one): the NULL category first when it appeared in training, then the
 *      categories 2..N; so N - 1 indicators, plus one for NULL. A code without an indicator (1, or an
 *      imputed code without one) gives all zeros. Other columns are scaled: (x - offset) / divisor.
 *
 * Statistics are computed per raw slot (each array element is its own slot) over the training rows,
 * on the encoded value of step 2 (for one-hot columns, the code), NaN/missing excluded:
 * population variance, median = sorted[n / 2], ventile k (1..19) = sorted[n * k / 20],
 * mode = the most frequent value with ties going to the smallest value (PostgresML takes the middle
 * one of the tied values), distinct = the number of
 * different values, a 20-bin histogram of equal-width bins from min to max (a value on an inner edge
 * falls in the upper bin, max in the last bin; when max == min every value is in bin 0). Sorting is a
 * radix sort over the floats' order-preserving bit patterns.
 *
 * Impute values per slot: mean, median, min and max come from the slot's statistics; mode is the
 * slot's most frequent value (for categorical columns its most frequent code, ties to the smallest
 * code, then encoded); zero is 0 in the encoded space (for one-hot columns: the NULL category). A slot
 * with no training values cannot impute from a statistic: fit fails naming the column.
 *
 * Scaling per slot: standard (x - mean) / std_dev, min_max (x - min) / (max - min), max_abs x / max_abs,
 * robust (x - median) / (ventile[14] - ventile[4]), i.e. the 75% - 25% interquartile range
 * (PostgresML's ventile[15] - ventile[5] is the 80% - 30% range). A zero or non-finite divisor leaves
 * the value unscaled (divide by 1); a non-finite centre (a slot without values) is taken as 0.
 *
 * columns_json reports one statistics object per column: for array columns the statistics of all its
 * elements pooled together (fit sorts a copy of the whole column: 8 bytes per training element,
 * transiently). The category map always has "__NULL__" (value 0) first, then the categories in code
 * order; a literal text "__NULL__" category is left out of that map, whose key it would collide with.
 * Texts go into JSON unchecked (they are in the database's encoding).
 *
 * Saved form (little-endian, buf.h), read from the current position of a reader (it may be followed
 * by other data):
 *
 *   "PGMLPREP"  8 bytes, then u32 format version, u8 fitted, u64 number of columns
 *   per column: str name, str pg_type (may be NULL), u8 flags (1 categorical, 2 nullable), u32 width,
 *               u8 encode, u8 impute, u8 scale;
 *               categorical: u32 N then N strings (codes 1..N);
 *               fitted: categorical: N + 1 u64 members; target: N + 1 f32 means;
 *                       the column statistics (8 f64, u64 missing, u64 distinct, 20 u64, 19 f64);
 *                       per slot: f64 impute value, f64 offset, f64 divisor.
 */
#include "pgml/preprocess.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#define PP_MAGIC "PGMLPREP"
#define PP_FORMAT 1

#define PP_BINS 20
#define PP_VENTILES 19

#define PP_MAX_COLUMNS (1u << 20)
#define PP_MAX_WIDTH (1u << 24)
#define PP_MAX_RAW ((size_t) 1 << 28)	/* floats per raw row */
#define PP_MAX_FEATURES ((size_t) 1 << 28)
#define PP_MAX_CATEGORIES ((1u << 24) - 1)	/* codes exact in a float */
#define PP_MAX_TEXT ((size_t) 1 << 30)
#define PP_MAX_NAME 65536

#define NULL_CATEGORY "__NULL__"

/* Statistics of a slot or a column, as PostgresML records them. */
typedef struct pp_stats
{
	double		min;
	double		max;
	double		max_abs;
	double		mean;
	double		median;
	double		mode;
	double		variance;
	double		std_dev;
	uint64_t	missing;
	uint64_t	distinct;
	uint64_t	histogram[PP_BINS];
	double		ventiles[PP_VENTILES];
} pp_stats;

/* One category: where its text is and its hash. Index = code. */
typedef struct pp_entry
{
	size_t		off;
	uint32_t	len;
	uint32_t	hash;
} pp_entry;

/* Category texts → codes 1..n. */
typedef struct pp_dict
{
	uint32_t	n;
	uint32_t	entries_cap;
	pp_entry   *entries;		/* entries_cap; [0] unused */
	char	   *text;			/* NUL-terminated texts, back to back */
	size_t		text_len;
	size_t		text_cap;
	uint32_t   *table;			/* table_size slots: 0 empty, else a code */
	uint32_t	table_size;		/* 0 or a power of two */
} pp_dict;

/* What transform needs per slot. */
typedef struct pp_slot
{
	double		fill;			/* impute value (one-hot: a code), before scaling */
	double		offset;
	double		divisor;
} pp_slot;

typedef struct pp_column
{
	char	   *name;
	char	   *pg_type;
	bool		categorical;
	bool		nullable;
	uint32_t	width;
	pgml_encode encode;
	pgml_impute impute;
	pgml_scale	scale;
	size_t		raw_offset;
	pp_dict		dict;
	/* set by fit (or load) */
	uint64_t   *members;		/* categorical: n + 1 counts of training values, [0] NULL */
	float	   *target;			/* target encoding: n + 1 means */
	pp_stats	stats;			/* of the whole column */
	pp_slot    *slots;			/* width */
	size_t		feature_offset;
	size_t		feature_width;	/* features per element */
	pgml_column public;			/* what pgml_preprocessor_column returns */
} pp_column;

struct pgml_preprocessor
{
	size_t		n_columns;
	pp_column  *columns;
	size_t		n_raw;
	size_t		n_features;
	bool		fitted;
};

/* ---------------------------------------------------------------------------------------------------
 * Names
 * ------------------------------------------------------------------------------------------------- */

static const char *const encode_names[] = {"native", "target", "one_hot", "ordinal"};
static const char *const impute_names[] = {"error", "mean", "median", "mode", "min", "max", "zero"};
static const char *const scale_names[] = {"preserve", "standard", "min_max", "max_abs", "robust"};

#define N_ENCODE (sizeof(encode_names) / sizeof(encode_names[0]))
#define N_IMPUTE (sizeof(impute_names) / sizeof(impute_names[0]))
#define N_SCALE (sizeof(scale_names) / sizeof(scale_names[0]))

/* Index of s in names, or -1. */
static int
find_name(const char *const *names, size_t n, const char *s)
{
	if (s == NULL)
		return -1;
	for (size_t i = 0; i < n; i++)
		if (strcmp(names[i], s) == 0)
			return (int) i;
	return -1;
}

bool
pgml_encode_parse(const char *s, pgml_encode *out)
{
	int			i = find_name(encode_names, N_ENCODE, s);

	if (i < 0)
		return false;
	*out = (pgml_encode) i;
	return true;
}

bool
pgml_impute_parse(const char *s, pgml_impute *out)
{
	int			i = find_name(impute_names, N_IMPUTE, s);

	if (i < 0)
		return false;
	*out = (pgml_impute) i;
	return true;
}

bool
pgml_scale_parse(const char *s, pgml_scale *out)
{
	int			i = find_name(scale_names, N_SCALE, s);

	if (i < 0)
		return false;
	*out = (pgml_scale) i;
	return true;
}

const char *
pgml_encode_name(pgml_encode e)
{
	return (unsigned) e < N_ENCODE ? encode_names[e] : "unknown";
}

const char *
pgml_impute_name(pgml_impute i)
{
	return (unsigned) i < N_IMPUTE ? impute_names[i] : "unknown";
}

const char *
pgml_scale_name(pgml_scale s)
{
	return (unsigned) s < N_SCALE ? scale_names[s] : "unknown";
}

/* ---------------------------------------------------------------------------------------------------
 * Category dictionary
 * ------------------------------------------------------------------------------------------------- */

/* A 64-bit finalizer: every input bit affects every output bit. */
static inline uint64_t
mix64(uint64_t x)
{
	x ^= x >> 33;
	x *= UINT64_C(0xff51afd7ed558ccd);
	x ^= x >> 33;
	x *= UINT64_C(0xc4ceb9fe1a85ec53);
	x ^= x >> 33;
	return x;
}

/* Hash of a text, 8 bytes at a time. */
static uint32_t
hash_text(const char *s, size_t len)
{
	uint64_t	h = UINT64_C(0x9e3779b97f4a7c15) ^ ((uint64_t) len * UINT64_C(0x94d049bb133111eb));
	uint64_t	k;

	while (len >= 8)
	{
		memcpy(&k, s, 8);
		h = (h ^ mix64(k)) * UINT64_C(0xbf58476d1ce4e5b9);
		s += 8;
		len -= 8;
	}
	if (len > 0)
	{
		k = 0;
		memcpy(&k, s, len);
		h = (h ^ mix64(k)) * UINT64_C(0xbf58476d1ce4e5b9);
	}
	h = mix64(h);
	return (uint32_t) (h ^ (h >> 32));
}

static void
dict_free(pp_dict *d)
{
	pgml_free(d->entries);
	pgml_free(d->text);
	pgml_free(d->table);
	memset(d, 0, sizeof(*d));
}

static inline const char *
dict_text(const pp_dict *d, uint32_t code)
{
	return d->text + d->entries[code].off;
}

/* The code of a text, or 0 when it is not in the dictionary. */
static uint32_t
dict_find(const pp_dict *d, const char *s, size_t len, uint32_t hash)
{
	uint32_t	mask;
	uint32_t	i;

	if (d->table_size == 0)
		return 0;
	mask = d->table_size - 1;
	for (i = hash & mask;; i = (i + 1) & mask)
	{
		uint32_t	code = d->table[i];
		const pp_entry *e;

		if (code == 0)
			return 0;
		e = &d->entries[code];
		if (e->hash == hash && e->len == len && memcmp(d->text + e->off, s, len) == 0)
			return code;
	}
}

/* Places a code in the table (which has room). */
static void
dict_place(pp_dict *d, uint32_t code)
{
	uint32_t	mask = d->table_size - 1;
	uint32_t	i = d->entries[code].hash & mask;

	while (d->table[i] != 0)
		i = (i + 1) & mask;
	d->table[i] = code;
}

/* Adds a new text as code n + 1; false when out of memory. The caller checks PP_MAX_CATEGORIES. */
static bool
dict_add(pp_dict *d, const char *s, size_t len, uint32_t hash)
{
	uint32_t	code = d->n + 1;
	size_t		need;

	if (code >= d->entries_cap)
	{
		uint32_t	cap = d->entries_cap < 8 ? 16 : d->entries_cap * 2;
		pp_entry   *e;

		if (cap > PP_MAX_CATEGORIES + 1)
			cap = PP_MAX_CATEGORIES + 1;
		e = pgml_realloc(d->entries, (size_t) cap * sizeof(pp_entry));
		if (e == NULL)
			return false;
		d->entries = e;
		d->entries_cap = cap;
	}
	if (!pgml_add_size(d->text_len, len + 1, &need))
		return false;
	if (need > d->text_cap)
	{
		size_t		cap = d->text_cap < 256 ? 1024 : d->text_cap;
		char	   *t;

		while (cap < need)
			cap = cap > SIZE_MAX / 2 ? need : cap * 2;
		t = pgml_realloc(d->text, cap);
		if (t == NULL)
			return false;
		d->text = t;
		d->text_cap = cap;
	}
	/* keep the table at most half full */
	if ((uint64_t) code * 2 > d->table_size)
	{
		uint32_t	size = d->table_size ? d->table_size * 2 : 16;
		uint32_t   *t = pgml_calloc(size, sizeof(uint32_t));

		if (t == NULL)
			return false;
		pgml_free(d->table);
		d->table = t;
		d->table_size = size;
		for (uint32_t c = 1; c < code; c++)
			dict_place(d, c);
	}
	memcpy(d->text + d->text_len, s, len);
	d->text[d->text_len + len] = '\0';
	d->entries[code].off = d->text_len;
	d->entries[code].len = (uint32_t) len;
	d->entries[code].hash = hash;
	d->text_len = need;
	d->n = code;
	dict_place(d, code);
	return true;
}

/* ---------------------------------------------------------------------------------------------------
 * Sorting and statistics
 * ------------------------------------------------------------------------------------------------- */

/* An unsigned key that sorts like the float (non-NaN). */
static inline uint32_t
float_key(float f)
{
	uint32_t	u;

	memcpy(&u, &f, sizeof(u));
	return (u & UINT32_C(0x80000000)) ? ~u : (u | UINT32_C(0x80000000));
}

static inline float
key_float(uint32_t k)
{
	uint32_t	u = (k & UINT32_C(0x80000000)) ? (k & UINT32_C(0x7fffffff)) : ~k;
	float		f;

	memcpy(&f, &u, sizeof(f));
	return f;
}

#define RADIX_BITS 11
#define RADIX_SIZE (1u << RADIX_BITS)
#define RADIX_PASSES 3

/*
 * Sorts n keys, using tmp (n keys) and counts (RADIX_PASSES * RADIX_SIZE); returns the buffer that holds
 * the result (a or tmp). Least significant digit first; passes where every key has the same digit are
 * skipped.
 */
static uint32_t *
sort_keys(uint32_t *a, uint32_t *tmp, size_t n, size_t *counts)
{
	if (n < 64)
	{
		for (size_t i = 1; i < n; i++)
		{
			uint32_t	k = a[i];
			size_t		j = i;

			while (j > 0 && a[j - 1] > k)
			{
				a[j] = a[j - 1];
				j--;
			}
			a[j] = k;
		}
		return a;
	}
	memset(counts, 0, RADIX_PASSES * RADIX_SIZE * sizeof(size_t));
	for (size_t i = 0; i < n; i++)
		for (int p = 0; p < RADIX_PASSES; p++)
			counts[p * RADIX_SIZE + ((a[i] >> (p * RADIX_BITS)) & (RADIX_SIZE - 1))]++;
	for (int p = 0; p < RADIX_PASSES; p++)
	{
		size_t	   *c = counts + p * RADIX_SIZE;
		unsigned	shift = (unsigned) p * RADIX_BITS;
		size_t		sum = 0;
		uint32_t   *swap;

		if (c[(a[0] >> shift) & (RADIX_SIZE - 1)] == n)
			continue;
		for (uint32_t d = 0; d < RADIX_SIZE; d++)
		{
			size_t		k = c[d];

			c[d] = sum;
			sum += k;
		}
		for (size_t i = 0; i < n; i++)
			tmp[c[(a[i] >> shift) & (RADIX_SIZE - 1)]++] = a[i];
		swap = a;
		a = tmp;
		tmp = swap;
	}
	return a;
}

/* Statistics with nothing known. */
static void
stats_init(pp_stats *st)
{
	memset(st, 0, sizeof(*st));
	st->min = st->max = st->max_abs = st->mean = st->median = st->mode = NAN;
	st->variance = st->std_dev = NAN;
	for (int i = 0; i < PP_VENTILES; i++)
		st->ventiles[i] = NAN;
}

/* Statistics of n sorted keys (the present values) plus `missing` missing ones. */
static void
stats_from_sorted(const uint32_t *k, size_t n, uint64_t missing, pp_stats *st)
{
	double		sum = 0.0;
	double		ss = 0.0;
	double		range;
	size_t		run = 0;
	size_t		best_run = 0;
	float		prev = 0.0f;

	stats_init(st);
	st->missing = missing;
	if (n == 0)
		return;
	st->min = key_float(k[0]);
	st->max = key_float(k[n - 1]);
	st->max_abs = fmax(fabs(st->min), fabs(st->max));
	for (size_t i = 0; i < n; i++)
		sum += key_float(k[i]);
	st->mean = sum / (double) n;
	for (size_t i = 0; i < n; i++)
	{
		double		d = key_float(k[i]) - st->mean;

		ss += d * d;
	}
	st->variance = ss / (double) n;
	st->std_dev = sqrt(st->variance);
	st->median = key_float(k[n / 2]);
	for (int v = 1; v <= PP_VENTILES; v++)
		st->ventiles[v - 1] = key_float(k[(n / 20) * (size_t) v + ((n % 20) * (size_t) v) / 20]);

	/* runs of equal values: distinct and mode (the first longest run is the smallest value) */
	range = st->max - st->min;
	for (size_t i = 0; i < n; i++)
	{
		float		f = key_float(k[i]);
		double		t;
		int			bin;

		if (i == 0 || f != prev)
		{
			if (run > best_run)
			{
				best_run = run;
				st->mode = prev;
			}
			st->distinct++;
			run = 0;
		}
		run++;
		prev = f;

		t = range > 0.0 ? ((double) f - st->min) / range : 0.0;
		if (!(t > 0.0))
			bin = 0;
		else if (t >= 1.0)
			bin = PP_BINS - 1;
		else
		{
			bin = (int) (t * PP_BINS);
			if (bin > PP_BINS - 1)
				bin = PP_BINS - 1;
		}
		st->histogram[bin]++;
	}
	if (run > best_run)
		st->mode = prev;
}

/* ---------------------------------------------------------------------------------------------------
 * Values
 * ------------------------------------------------------------------------------------------------- */

/* Whether a raw value of a categorical column is a known code (an integer 0..n). */
static inline bool
valid_code(const pp_column *c, double v, uint32_t *code)
{
	if (!(v >= 0.0 && v <= (double) c->dict.n))
		return false;
	*code = (uint32_t) v;
	return (double) *code == v;
}

static inline bool
null_seen(const pp_column *c)
{
	return c->members != NULL && c->members[0] > 0;
}

/*
 * Step 1 and 2 of the file header: the encoded value of a raw value before scaling (one-hot: the code),
 * or NaN when it is missing. *code receives the code of a present categorical value.
 */
static inline double
encoded(const pp_column *c, float v, uint32_t *code)
{
	if (!c->categorical)
		return v;
	if (!valid_code(c, v, code))
		return NAN;
	if (*code == 0 && c->encode == PGML_ENCODE_ONE_HOT && !null_seen(c))
		return NAN;
	if (c->encode == PGML_ENCODE_TARGET)
		return c->target[*code];
	return (double) *code;
}

/* Indicators per element of a fitted one-hot column. */
static size_t
one_hot_width(const pp_column *c)
{
	return (c->dict.n >= 1 ? c->dict.n - 1 : 0) + (null_seen(c) ? 1 : 0);
}

/* Lays the features out after fit or load; false when there are too many. */
static bool
layout_features(pgml_preprocessor *pp)
{
	size_t		off = 0;

	for (size_t i = 0; i < pp->n_columns; i++)
	{
		pp_column  *c = &pp->columns[i];
		size_t		total;

		c->feature_width = (c->categorical && c->encode == PGML_ENCODE_ONE_HOT) ? one_hot_width(c) : 1;
		c->feature_offset = off;
		if (!pgml_mul_size(c->feature_width, c->width, &total) || !pgml_add_size(off, total, &off) ||
			off > PP_MAX_FEATURES)
			return false;
	}
	pp->n_features = off;
	return true;
}

/* ---------------------------------------------------------------------------------------------------
 * Life cycle
 * ------------------------------------------------------------------------------------------------- */

/* Drops what fit learned, leaving an unfitted column. */
static void
column_unfit(pp_column *c)
{
	pgml_free(c->members);
	pgml_free(c->target);
	pgml_free(c->slots);
	c->members = NULL;
	c->target = NULL;
	c->slots = NULL;
	stats_init(&c->stats);
	c->feature_offset = 0;
	c->feature_width = 0;
}

void
pgml_preprocessor_free(pgml_preprocessor *pp)
{
	if (pp == NULL)
		return;
	for (size_t i = 0; i < pp->n_columns; i++)
	{
		pp_column  *c = &pp->columns[i];

		column_unfit(c);
		dict_free(&c->dict);
		pgml_free(c->name);
		pgml_free(c->pg_type);
	}
	pgml_free(pp->columns);
	pgml_free(pp);
}

/* An empty preprocessor for n columns (zeroed, statistics unknown), or NULL when out of memory. */
static pgml_preprocessor *
preprocessor_alloc(size_t n_columns)
{
	pgml_preprocessor *pp = pgml_calloc(1, sizeof(pgml_preprocessor));

	if (pp == NULL)
		return NULL;
	if (n_columns > 0)
	{
		pp->columns = pgml_calloc(n_columns, sizeof(pp_column));
		if (pp->columns == NULL)
		{
			pgml_free(pp);
			return NULL;
		}
	}
	pp->n_columns = n_columns;
	for (size_t i = 0; i < n_columns; i++)
		stats_init(&pp->columns[i].stats);
	return pp;
}

/* Checks one column description; the messages name the column. */
static pgml_status
check_column(const pgml_column *col, size_t index, pgml_err *err)
{
	if (col->name == NULL)
		return pgml_error(err, PGML_ERR_INVALID_ARGUMENT, "column %zu has no name", index + 1);
	if (col->width == 0)
	{
		pgml_error(err, PGML_ERR_INVALID_ARGUMENT, "column \"%s\" has width 0", col->name);
		pgml_err_detail(err, "Every column has at least one value per row.");
		return PGML_ERR_INVALID_ARGUMENT;
	}
	if (col->width > PP_MAX_WIDTH)
	{
		pgml_error(err, PGML_ERR_LIMIT, "column \"%s\" is too wide", col->name);
		pgml_err_detail(err, "An array column can have at most %u elements.", PP_MAX_WIDTH);
		return PGML_ERR_LIMIT;
	}
	if ((unsigned) col->encode >= N_ENCODE)
		return pgml_error(err, PGML_ERR_INVALID_ARGUMENT, "invalid encode for column \"%s\"", col->name);
	if ((unsigned) col->impute >= N_IMPUTE)
		return pgml_error(err, PGML_ERR_INVALID_ARGUMENT, "invalid impute for column \"%s\"", col->name);
	if ((unsigned) col->scale >= N_SCALE)
		return pgml_error(err, PGML_ERR_INVALID_ARGUMENT, "invalid scale for column \"%s\"", col->name);
	if (col->encode != PGML_ENCODE_NATIVE && !col->categorical)
	{
		pgml_error(err, PGML_ERR_INVALID_ARGUMENT, "cannot encode continuous column \"%s\" as \"%s\"",
				   col->name, pgml_encode_name(col->encode));
		pgml_err_detail(err, "Only categorical columns can be encoded.");
		pgml_err_hint(err, "Use the default \"native\" encoding for this column.");
		return PGML_ERR_INVALID_ARGUMENT;
	}
	if (col->encode == PGML_ENCODE_ORDINAL)
	{
		if (col->n_ordinal == 0 || col->ordinal == NULL)
		{
			pgml_error(err, PGML_ERR_INVALID_ARGUMENT, "ordinal encoding of column \"%s\" has no values",
					   col->name);
			pgml_err_hint(err, "List the values in order, e.g. "
						  "{\"encode\": {\"ordinal\": [\"low\", \"medium\", \"high\"]}}.");
			return PGML_ERR_INVALID_ARGUMENT;
		}
		if (col->n_ordinal > PP_MAX_CATEGORIES)
		{
			pgml_error(err, PGML_ERR_LIMIT, "too many ordinal values for column \"%s\"", col->name);
			pgml_err_detail(err, "A column can have at most %u categories.", PP_MAX_CATEGORIES);
			return PGML_ERR_LIMIT;
		}
	}
	if (col->categorical && col->encode != PGML_ENCODE_TARGET &&
		(col->impute == PGML_IMPUTE_MEAN || col->impute == PGML_IMPUTE_MEDIAN))
	{
		pgml_error(err, PGML_ERR_INVALID_ARGUMENT, "cannot impute categorical column \"%s\" with \"%s\"",
				   col->name, pgml_impute_name(col->impute));
		pgml_err_detail(err, "There is no %s category; only target encoded categorical columns have one.",
						col->impute == PGML_IMPUTE_MEAN ? "average" : "median");
		pgml_err_hint(err, "Use \"impute\": \"mode\", or \"encode\": \"target\".");
		return PGML_ERR_INVALID_ARGUMENT;
	}
	return PGML_OK;
}

/* Fills a column's ordinal dictionary from the user's list. */
static pgml_status
load_ordinal(pp_column *c, const pgml_column *col, pgml_err *err)
{
	for (size_t k = 0; k < col->n_ordinal; k++)
	{
		const char *s = col->ordinal[k];
		size_t		len;
		uint32_t	h;

		if (s == NULL)
			return pgml_error(err, PGML_ERR_INVALID_ARGUMENT, "ordinal value %zu of column \"%s\" is NULL",
							  k + 1, col->name);
		len = strlen(s);
		if (len > PP_MAX_TEXT)
			return pgml_error(err, PGML_ERR_LIMIT, "ordinal value %zu of column \"%s\" is too long",
							  k + 1, col->name);
		h = hash_text(s, len);
		if (dict_find(&c->dict, s, len, h) != 0)
			return pgml_error(err, PGML_ERR_INVALID_ARGUMENT,
							  "duplicate ordinal value \"%.64s\" in column \"%s\"", s, col->name);
		if (!dict_add(&c->dict, s, len, h))
			return pgml_error(err, PGML_ERR_OUT_OF_MEMORY, "out of memory");
	}
	return PGML_OK;
}

pgml_status
pgml_preprocessor_new(const pgml_column *columns, size_t n_columns, pgml_preprocessor **out,
					  pgml_err *err)
{
	pgml_preprocessor *pp;
	pgml_status rc;
	size_t		n_raw = 0;

	if (out == NULL)
		return pgml_error(err, PGML_ERR_INVALID_ARGUMENT, "no place for the preprocessor");
	*out = NULL;
	if (columns == NULL && n_columns > 0)
		return pgml_error(err, PGML_ERR_INVALID_ARGUMENT, "no column descriptions");
	if (n_columns > PP_MAX_COLUMNS)
	{
		pgml_error(err, PGML_ERR_LIMIT, "too many columns");
		pgml_err_detail(err, "A preprocessor can have at most %u columns.", PP_MAX_COLUMNS);
		return PGML_ERR_LIMIT;
	}
	for (size_t i = 0; i < n_columns; i++)
	{
		if ((rc = check_column(&columns[i], i, err)) != PGML_OK)
			return rc;
		n_raw += columns[i].width;
		if (n_raw > PP_MAX_RAW)
		{
			pgml_error(err, PGML_ERR_LIMIT, "too many values per row");
			pgml_err_detail(err, "A row can have at most %zu values.", PP_MAX_RAW);
			return PGML_ERR_LIMIT;
		}
	}

	pp = preprocessor_alloc(n_columns);
	if (pp == NULL)
		return pgml_error(err, PGML_ERR_OUT_OF_MEMORY, "out of memory");
	pp->n_raw = n_raw;
	n_raw = 0;
	for (size_t i = 0; i < n_columns; i++)
	{
		const pgml_column *col = &columns[i];
		pp_column  *c = &pp->columns[i];

		c->name = pgml_strdup(col->name);
		c->pg_type = col->pg_type ? pgml_strdup(col->pg_type) : NULL;
		if (c->name == NULL || (col->pg_type != NULL && c->pg_type == NULL))
		{
			pgml_preprocessor_free(pp);
			return pgml_error(err, PGML_ERR_OUT_OF_MEMORY, "out of memory");
		}
		c->categorical = col->categorical;
		c->nullable = col->nullable;
		c->width = col->width;
		c->encode = col->encode;
		c->impute = col->impute;
		c->scale = col->scale;
		c->raw_offset = n_raw;
		n_raw += col->width;
		if (col->encode == PGML_ENCODE_ORDINAL && (rc = load_ordinal(c, col, err)) != PGML_OK)
		{
			pgml_preprocessor_free(pp);
			return rc;
		}
	}
	*out = pp;
	return PGML_OK;
}

size_t
pgml_preprocessor_n_columns(const pgml_preprocessor *pp)
{
	return pp ? pp->n_columns : 0;
}

size_t
pgml_preprocessor_n_raw(const pgml_preprocessor *pp)
{
	return pp ? pp->n_raw : 0;
}

/* The description of a column; NULL past the last. Ordinal values are not included. */
const pgml_column *
pgml_preprocessor_column(const pgml_preprocessor *pp, size_t column)
{
	pp_column  *c;

	if (pp == NULL || column >= pp->n_columns)
		return NULL;
	c = &pp->columns[column];
	c->public.name = c->name;
	c->public.pg_type = c->pg_type;
	c->public.categorical = c->categorical;
	c->public.nullable = c->nullable;
	c->public.width = c->width;
	c->public.encode = c->encode;
	c->public.impute = c->impute;
	c->public.scale = c->scale;
	c->public.ordinal = NULL;
	c->public.n_ordinal = 0;
	return &c->public;
}

/* The first raw value of a column; n_raw for a column past the last. */
size_t
pgml_preprocessor_raw_offset(const pgml_preprocessor *pp, size_t column)
{
	if (pp == NULL)
		return 0;
	return column < pp->n_columns ? pp->columns[column].raw_offset : pp->n_raw;
}

/* 0 before fit. */
size_t
pgml_preprocessor_n_features(const pgml_preprocessor *pp)
{
	return (pp && pp->fitted) ? pp->n_features : 0;
}

/* ---------------------------------------------------------------------------------------------------
 * Codes
 * ------------------------------------------------------------------------------------------------- */

pgml_status
pgml_preprocessor_code(pgml_preprocessor *pp, size_t column, const char *text, bool add,
					   float *code, pgml_err *err)
{
	pp_column  *c;
	size_t		len;
	uint32_t	h;
	uint32_t	found;

	if (code != NULL)
		*code = NAN;
	if (pp == NULL || code == NULL || column >= pp->n_columns)
		return pgml_error(err, PGML_ERR_INVALID_ARGUMENT, "invalid preprocessor column %zu", column);
	c = &pp->columns[column];
	if (!c->categorical)
		return pgml_error(err, PGML_ERR_INVALID_ARGUMENT, "column \"%s\" is not categorical", c->name);
	if (text == NULL)
	{
		*code = 0.0f;
		return PGML_OK;
	}
	len = strlen(text);
	h = hash_text(text, len);
	found = dict_find(&c->dict, text, len, h);
	if (found != 0)
	{
		*code = (float) found;
		return PGML_OK;
	}
	if (c->encode == PGML_ENCODE_ORDINAL)
	{
		if (!add)
			return PGML_OK;
		pgml_error(err, PGML_ERR_DATA, "value \"%.64s\" is not in the ordinal list of column \"%s\"",
				   text, c->name);
		pgml_err_hint(err, "Add the value to the column's \"ordinal\" list, "
					  "or remove the rows that have it.");
		return PGML_ERR_DATA;
	}
	if (!add || pp->fitted)
		return PGML_OK;
	if (len > PP_MAX_TEXT)
		return pgml_error(err, PGML_ERR_LIMIT, "category value of column \"%s\" is too long", c->name);
	if (c->dict.n >= PP_MAX_CATEGORIES)
	{
		pgml_error(err, PGML_ERR_LIMIT, "too many categories in column \"%s\"", c->name);
		pgml_err_detail(err, "A column can have at most %u categories.", PP_MAX_CATEGORIES);
		return PGML_ERR_LIMIT;
	}
	if (!dict_add(&c->dict, text, len, h))
		return pgml_error(err, PGML_ERR_OUT_OF_MEMORY, "out of memory");
	*code = (float) c->dict.n;
	return PGML_OK;
}

/* ---------------------------------------------------------------------------------------------------
 * Fit
 * ------------------------------------------------------------------------------------------------- */

/* Buffers shared by the columns of one fit. */
typedef struct fit_work
{
	const float *raw;
	size_t		n_rows;
	size_t		n_raw;
	const float *y;
	size_t		n_targets;
	uint32_t   *keys;
	uint32_t   *tmp;
	size_t	   *radix;
} fit_work;

/* Category counts and, for target encoding, the category means of the first target. */
static pgml_status
fit_categories(pp_column *c, const fit_work *w, pgml_err *err)
{
	size_t		n = (size_t) c->dict.n + 1;
	double	   *sums = NULL;
	uint64_t   *counts = NULL;
	double		total = 0.0;
	uint64_t	total_n = 0;

	c->members = pgml_calloc(n, sizeof(uint64_t));
	if (c->members == NULL)
		return pgml_error(err, PGML_ERR_OUT_OF_MEMORY, "out of memory");
	for (size_t i = 0; i < w->n_rows; i++)
	{
		const float *r = w->raw + i * w->n_raw + c->raw_offset;

		for (uint32_t j = 0; j < c->width; j++)
		{
			uint32_t	code;

			if (valid_code(c, r[j], &code))
				c->members[code]++;
		}
	}
	if (c->encode != PGML_ENCODE_TARGET)
		return PGML_OK;

	if (w->y == NULL)
	{
		pgml_error(err, PGML_ERR_INVALID_ARGUMENT, "target encoding of column \"%s\" needs a label",
				   c->name);
		pgml_err_hint(err, "Train with a y_column_name, or use another encoding.");
		return PGML_ERR_INVALID_ARGUMENT;
	}
	sums = pgml_calloc(n, sizeof(double));
	counts = pgml_calloc(n, sizeof(uint64_t));
	c->target = pgml_malloc(n * sizeof(float));
	if (sums == NULL || counts == NULL || c->target == NULL)
	{
		pgml_free(sums);
		pgml_free(counts);
		return pgml_error(err, PGML_ERR_OUT_OF_MEMORY, "out of memory");
	}
	for (size_t i = 0; i < w->n_rows; i++)
	{
		const float *r = w->raw + i * w->n_raw + c->raw_offset;
		float		yv = w->y[i * w->n_targets];

		if (isnan(yv))
			continue;
		total += yv;
		total_n++;
		for (uint32_t j = 0; j < c->width; j++)
		{
			uint32_t	code;

			if (valid_code(c, r[j], &code))
			{
				sums[code] += yv;
				counts[code]++;
			}
		}
	}
	if (total_n == 0)
	{
		pgml_free(sums);
		pgml_free(counts);
		pgml_error(err, PGML_ERR_DATA, "cannot target encode column \"%s\"", c->name);
		pgml_err_detail(err, "Every training row has a NULL or NaN label.");
		return PGML_ERR_DATA;
	}
	for (size_t k = 0; k < n; k++)
		c->target[k] = (float) (counts[k] > 0 ? sums[k] / (double) counts[k] : total / (double) total_n);
	pgml_free(sums);
	pgml_free(counts);
	return PGML_OK;
}

/* The impute value and scaling of one slot from its statistics. */
static pgml_status
fit_slot(pp_column *c, uint32_t j, const pp_stats *st, const uint64_t *code_counts, size_t n_values,
		 pp_slot *slot, pgml_err *err)
{
	double		offset = 0.0;
	double		divisor = 1.0;

	slot->fill = NAN;
	if (c->impute == PGML_IMPUTE_ZERO)
		slot->fill = 0.0;
	else if (c->impute != PGML_IMPUTE_ERROR)
	{
		if (n_values == 0)
		{
			pgml_error(err, PGML_ERR_DATA, "cannot impute column \"%s\" with \"%s\"", c->name,
					   pgml_impute_name(c->impute));
			if (c->width > 1)
				pgml_err_detail(err, "Element %u of the column has no value in any training row.", j + 1);
			else
				pgml_err_detail(err, "The column has no value in any training row.");
			pgml_err_hint(err, "Use \"impute\": \"zero\", or leave the column out.");
			return PGML_ERR_DATA;
		}
		switch (c->impute)
		{
			case PGML_IMPUTE_MEAN:
				slot->fill = st->mean;
				break;
			case PGML_IMPUTE_MEDIAN:
				slot->fill = st->median;
				break;
			case PGML_IMPUTE_MIN:
				slot->fill = st->min;
				break;
			case PGML_IMPUTE_MAX:
				slot->fill = st->max;
				break;
			case PGML_IMPUTE_MODE:
				if (c->categorical)
				{
					uint32_t	best = 0;

					for (uint32_t k = 1; k <= c->dict.n; k++)
						if (code_counts[k] > code_counts[best])
							best = k;
					slot->fill = c->encode == PGML_ENCODE_TARGET ? (double) c->target[best] : (double) best;
				}
				else
					slot->fill = st->mode;
				break;
			default:
				break;
		}
	}

	if (!(c->categorical && c->encode == PGML_ENCODE_ONE_HOT))
	{
		switch (c->scale)
		{
			case PGML_SCALE_STANDARD:
				offset = st->mean;
				divisor = st->std_dev;
				break;
			case PGML_SCALE_MIN_MAX:
				offset = st->min;
				divisor = st->max - st->min;
				break;
			case PGML_SCALE_MAX_ABS:
				divisor = st->max_abs;
				break;
			case PGML_SCALE_ROBUST:
				offset = st->median;
				divisor = st->ventiles[14] - st->ventiles[4];
				break;
			case PGML_SCALE_PRESERVE:
				break;
		}
	}
	slot->offset = isfinite(offset) ? offset : 0.0;
	slot->divisor = (isfinite(divisor) && divisor != 0.0) ? divisor : 1.0;
	return PGML_OK;
}

/* Statistics, impute values and scaling of every slot of a column, and the column's statistics. */
static pgml_status
fit_column(pp_column *c, const fit_work *w, pgml_err *err)
{
	uint64_t   *code_counts = NULL;
	pgml_status rc;

	if (c->categorical)
	{
		if ((rc = fit_categories(c, w, err)) != PGML_OK)
			return rc;
		code_counts = pgml_malloc(((size_t) c->dict.n + 1) * sizeof(uint64_t));
		if (code_counts == NULL)
			return pgml_error(err, PGML_ERR_OUT_OF_MEMORY, "out of memory");
	}
	c->slots = pgml_malloc((size_t) c->width * sizeof(pp_slot));
	if (c->slots == NULL)
	{
		pgml_free(code_counts);
		return pgml_error(err, PGML_ERR_OUT_OF_MEMORY, "out of memory");
	}

	for (uint32_t j = 0; j < c->width; j++)
	{
		size_t		m = 0;
		uint64_t	missing = 0;
		pp_stats	st;
		uint32_t   *sorted;

		if ((rc = pgml_check_stop(err)) != PGML_OK)
		{
			pgml_free(code_counts);
			return rc;
		}
		if (code_counts)
			memset(code_counts, 0, ((size_t) c->dict.n + 1) * sizeof(uint64_t));
		for (size_t i = 0; i < w->n_rows; i++)
		{
			uint32_t	code = 0;
			double		e = encoded(c, w->raw[i * w->n_raw + c->raw_offset + j], &code);

			if (isnan(e))
				missing++;
			else
			{
				w->keys[m++] = float_key((float) e);
				if (code_counts)
					code_counts[code]++;
			}
		}
		sorted = sort_keys(w->keys, w->tmp, m, w->radix);
		stats_from_sorted(sorted, m, missing, &st);
		rc = fit_slot(c, j, &st, code_counts, m, &c->slots[j], err);
		if (rc != PGML_OK)
		{
			pgml_free(code_counts);
			return rc;
		}
		if (c->width == 1)
			c->stats = st;
	}
	pgml_free(code_counts);

	/* an array column's statistics pool all its elements */
	if (c->width > 1)
	{
		size_t		m = 0;
		uint64_t	missing = 0;
		uint32_t   *sorted;

		if ((rc = pgml_check_stop(err)) != PGML_OK)
			return rc;
		for (size_t i = 0; i < w->n_rows; i++)
		{
			const float *r = w->raw + i * w->n_raw + c->raw_offset;

			for (uint32_t j = 0; j < c->width; j++)
			{
				uint32_t	code;
				double		e = encoded(c, r[j], &code);

				if (isnan(e))
					missing++;
				else
					w->keys[m++] = float_key((float) e);
			}
		}
		sorted = sort_keys(w->keys, w->tmp, m, w->radix);
		stats_from_sorted(sorted, m, missing, &c->stats);
	}
	return PGML_OK;
}

pgml_status
pgml_preprocessor_fit(pgml_preprocessor *pp, const float *raw, size_t n_rows, const float *y,
					  size_t n_targets, pgml_err *err)
{
	fit_work	w;
	size_t		cells;
	size_t		max_values;
	size_t		key_bytes;
	pgml_status rc = PGML_OK;

	if (pp == NULL)
		return pgml_error(err, PGML_ERR_INVALID_ARGUMENT, "no preprocessor");
	if (pp->fitted)
		return pgml_error(err, PGML_ERR_INVALID_ARGUMENT, "preprocessor is already fitted");
	if (n_rows == 0)
		return pgml_error(err, PGML_ERR_INVALID_ARGUMENT, "cannot fit a preprocessor without training rows");
	if (raw == NULL && pp->n_raw > 0)
		return pgml_error(err, PGML_ERR_INVALID_ARGUMENT, "no training data");
	if (!pgml_mul_size(n_rows, pp->n_raw, &cells))
		return pgml_error(err, PGML_ERR_LIMIT, "too many training values");

	/* the key buffers hold one slot, or a whole array column */
	max_values = n_rows;
	for (size_t i = 0; i < pp->n_columns; i++)
	{
		size_t		v;

		if (!pgml_mul_size(n_rows, pp->columns[i].width, &v))
			return pgml_error(err, PGML_ERR_LIMIT, "too many training values");
		if (v > max_values)
			max_values = v;
	}
	if (!pgml_mul_size(max_values, sizeof(uint32_t), &key_bytes))
		return pgml_error(err, PGML_ERR_OUT_OF_MEMORY, "out of memory");

	w.raw = raw;
	w.n_rows = n_rows;
	w.n_raw = pp->n_raw;
	w.y = n_targets > 0 ? y : NULL;
	w.n_targets = n_targets;
	w.keys = pgml_malloc(key_bytes);
	w.tmp = pgml_malloc(key_bytes);
	w.radix = pgml_malloc(RADIX_PASSES * RADIX_SIZE * sizeof(size_t));
	if (w.keys == NULL || w.tmp == NULL || w.radix == NULL)
		rc = pgml_error(err, PGML_ERR_OUT_OF_MEMORY, "out of memory");
	for (size_t i = 0; i < pp->n_columns && rc == PGML_OK; i++)
		rc = fit_column(&pp->columns[i], &w, err);
	pgml_free(w.keys);
	pgml_free(w.tmp);
	pgml_free(w.radix);

	if (rc == PGML_OK && !layout_features(pp))
	{
		pgml_error(err, PGML_ERR_LIMIT, "too many features");
		pgml_err_detail(err, "The encoded columns would give more than %zu features.", PP_MAX_FEATURES);
		rc = PGML_ERR_LIMIT;
	}
	if (rc != PGML_OK)
	{
		for (size_t i = 0; i < pp->n_columns; i++)
			column_unfit(&pp->columns[i]);
		return rc;
	}
	pp->fitted = true;
	return PGML_OK;
}

/* ---------------------------------------------------------------------------------------------------
 * Transform
 * ------------------------------------------------------------------------------------------------- */

/* The impute = error message for one missing value v of element j. */
static pgml_status
missing_error(const pp_column *c, uint32_t j, float v, size_t row, pgml_err *err)
{
	char		where[64] = "the column";

	if (c->width > 1)
		snprintf(where, sizeof(where), "element %u of the column", j + 1);
	pgml_error(err, PGML_ERR_DATA, "missing value in column \"%s\"", c->name);
	if (!c->categorical)
		pgml_err_detail(err, "Row %zu has no value for %s.", row, where);
	else if (isnan(v))
		pgml_err_detail(err, "Row %zu has a category in %s that was not seen in training.", row, where);
	else if (v == 0.0f)
		pgml_err_detail(err, "Row %zu has a NULL in %s, which had no NULL in training.", row, where);
	else
		pgml_err_detail(err, "Row %zu has an invalid category code in %s.", row, where);
	pgml_err_hint(err, "You may provide a preprocessor to impute a value, "
				  "e.g. preprocess => '{\"%s\": {\"impute\": \"%s\"}}'.",
				  c->name, (c->categorical && c->encode != PGML_ENCODE_TARGET) ? "mode" : "mean");
	return PGML_ERR_DATA;
}

pgml_status
pgml_preprocessor_transform(const pgml_preprocessor *pp, const float *raw, size_t n_rows,
							float *out, size_t row_offset, pgml_err *err)
{
	if (pp == NULL || !pp->fitted)
		return pgml_error(err, PGML_ERR_INVALID_ARGUMENT, "preprocessor is not fitted");
	if (n_rows == 0)
		return PGML_OK;
	if ((raw == NULL && pp->n_raw > 0) || (out == NULL && pp->n_features > 0))
		return pgml_error(err, PGML_ERR_INVALID_ARGUMENT, "no data to transform");

	for (size_t i = 0; i < n_rows; i++)
	{
		const float *r = raw + i * pp->n_raw;
		float	   *o = out + i * pp->n_features;

		if ((i & 0xffff) == 0xffff)
		{
			pgml_status rc = pgml_check_stop(err);

			if (rc != PGML_OK)
				return rc;
		}
		for (size_t ci = 0; ci < pp->n_columns; ci++)
		{
			const pp_column *c = &pp->columns[ci];
			const float *cr = r + c->raw_offset;
			float	   *co = o + c->feature_offset;
			bool		one_hot = c->categorical && c->encode == PGML_ENCODE_ONE_HOT;

			for (uint32_t j = 0; j < c->width; j++)
			{
				const pp_slot *s = &c->slots[j];
				uint32_t	code = 0;
				double		x = encoded(c, cr[j], &code);

				if (isnan(x))
				{
					if (c->impute == PGML_IMPUTE_ERROR)
						return missing_error(c, j, cr[j], row_offset + i + 1, err);
					x = s->fill;
				}
				if (one_hot)
				{
					size_t		k = c->feature_width;
					float	   *f = co + (size_t) j * k;
					bool		has_null = null_seen(c);

					for (size_t t = 0; t < k; t++)
						f[t] = 0.0f;
					if (!valid_code(c, x, &code))
						continue;
					if (code == 0 && has_null)
						f[0] = 1.0f;
					else if (code >= 2)
						f[(has_null ? 1 : 0) + code - 2] = 1.0f;
				}
				else
					co[j] = (float) ((x - s->offset) / s->divisor);
			}
		}
	}
	return PGML_OK;
}

/* ---------------------------------------------------------------------------------------------------
 * Statistics as JSON
 * ------------------------------------------------------------------------------------------------- */

/* Sets obj[key] = v; v is always taken (released on failure, even when obj is NULL). False when v is
 * NULL or out of memory. */
static bool
put(json_t *obj, const char *key, json_t *v)
{
	return v != NULL && json_object_set_new(obj, key, v) == 0;
}

/* A number, or null for NaN and infinities (JSON has neither). */
static json_t *
number(double v)
{
	return isfinite(v) ? json_real(v) : json_null();
}

static json_t *
json_text(const char *s)
{
	return s ? json_string_nocheck(s) : json_null();
}

/* The category map of a categorical column: "__NULL__" first, then code order. */
static json_t *
categories_json(const pp_column *c)
{
	json_t	   *cats = json_object();
	json_t	   *entry;
	bool		ok;

	if (cats == NULL)
		return NULL;
	for (uint32_t code = 0; code <= c->dict.n; code++)
	{
		const char *key = code == 0 ? NULL_CATEGORY : dict_text(&c->dict, code);

		if (code > 0 && strcmp(key, NULL_CATEGORY) == 0)
			continue;
		entry = json_object();
		ok = entry != NULL &&
			put(entry, "value", json_integer((json_int_t) code)) &&
			put(entry, "members", json_integer(c->members ? (json_int_t) c->members[code] : 0));
		if (!ok || json_object_set_new_nocheck(cats, key, entry) != 0)
		{
			if (!ok)
				json_decref(entry);
			json_decref(cats);
			return NULL;
		}
	}
	return cats;
}

static json_t *
statistics_json(const pp_column *c)
{
	const pp_stats *st = &c->stats;
	json_t	   *o = json_object();
	json_t	   *hist = json_array();
	json_t	   *vent = json_array();
	bool		ok = o != NULL;

	/* every put runs, so that every value is either placed or released */
	for (int i = 0; i < PP_BINS; i++)
		ok &= json_array_append_new(hist, json_integer((json_int_t) st->histogram[i])) == 0;
	for (int i = 0; i < PP_VENTILES; i++)
		ok &= json_array_append_new(vent, number(st->ventiles[i])) == 0;
	ok &= put(o, "min", number(st->min));
	ok &= put(o, "max", number(st->max));
	ok &= put(o, "max_abs", number(st->max_abs));
	ok &= put(o, "mean", number(st->mean));
	ok &= put(o, "median", number(st->median));
	ok &= put(o, "mode", number(st->mode));
	ok &= put(o, "variance", number(st->variance));
	ok &= put(o, "std_dev", number(st->std_dev));
	ok &= put(o, "missing", json_integer((json_int_t) st->missing));
	ok &= put(o, "distinct", json_integer((json_int_t) st->distinct));
	ok &= put(o, "histogram", hist);
	ok &= put(o, "ventiles", vent);
	ok &= put(o, "categories", c->categorical ? categories_json(c) : json_null());
	if (!ok)
	{
		json_decref(o);
		return NULL;
	}
	return o;
}

/* {encode, impute, scale}; ordinal encoding as {"ordinal": [values]} like PostgresML. */
static json_t *
preprocessor_json(const pp_column *c)
{
	json_t	   *o = json_object();
	json_t	   *enc;
	bool		ok = o != NULL;

	if (c->encode == PGML_ENCODE_ORDINAL)
	{
		json_t	   *list = json_array();

		for (uint32_t k = 1; k <= c->dict.n; k++)
			ok &= json_array_append_new(list, json_string_nocheck(dict_text(&c->dict, k))) == 0;
		enc = json_object();
		ok &= enc != NULL;
		ok &= put(enc, "ordinal", list);
	}
	else
		enc = json_string(pgml_encode_name(c->encode));
	ok &= put(o, "encode", enc);
	ok &= put(o, "impute", json_string(pgml_impute_name(c->impute)));
	ok &= put(o, "scale", json_string(pgml_scale_name(c->scale)));
	if (!ok)
	{
		json_decref(o);
		return NULL;
	}
	return o;
}

json_t *
pgml_preprocessor_columns_json(const pgml_preprocessor *pp)
{
	json_t	   *arr = json_array();

	if (arr == NULL || pp == NULL)
		return arr;
	for (size_t i = 0; i < pp->n_columns; i++)
	{
		const pp_column *c = &pp->columns[i];
		size_t		tl = c->pg_type ? strlen(c->pg_type) : 0;
		bool		is_array = c->width > 1 || (tl >= 2 && strcmp(c->pg_type + tl - 2, "[]") == 0);
		json_t	   *o = json_object();
		bool		ok = o != NULL;

		ok &= put(o, "name", json_text(c->name));
		ok &= put(o, "pg_type", json_text(c->pg_type));
		ok &= put(o, "nullable", json_boolean(c->nullable));
		ok &= put(o, "label", json_false());
		ok &= put(o, "position", json_integer((json_int_t) i + 1));
		ok &= put(o, "size", json_integer((json_int_t) c->width));
		ok &= put(o, "array", json_boolean(is_array));
		ok &= put(o, "preprocessor", preprocessor_json(c));
		ok &= put(o, "statistics", statistics_json(c));
		if (!ok || json_array_append_new(arr, o) != 0)
		{
			if (!ok)
				json_decref(o);
			json_decref(arr);
			return NULL;
		}
	}
	return arr;
}

/* ---------------------------------------------------------------------------------------------------
 * Save and load
 * ------------------------------------------------------------------------------------------------- */

static void
save_stats(pgml_buf *out, const pp_stats *st)
{
	pgml_buf_put_f64(out, st->min);
	pgml_buf_put_f64(out, st->max);
	pgml_buf_put_f64(out, st->max_abs);
	pgml_buf_put_f64(out, st->mean);
	pgml_buf_put_f64(out, st->median);
	pgml_buf_put_f64(out, st->mode);
	pgml_buf_put_f64(out, st->variance);
	pgml_buf_put_f64(out, st->std_dev);
	pgml_buf_put_u64(out, st->missing);
	pgml_buf_put_u64(out, st->distinct);
	for (int i = 0; i < PP_BINS; i++)
		pgml_buf_put_u64(out, st->histogram[i]);
	for (int i = 0; i < PP_VENTILES; i++)
		pgml_buf_put_f64(out, st->ventiles[i]);
}

static void
load_stats(pgml_reader *r, pp_stats *st)
{
	st->min = pgml_reader_f64(r);
	st->max = pgml_reader_f64(r);
	st->max_abs = pgml_reader_f64(r);
	st->mean = pgml_reader_f64(r);
	st->median = pgml_reader_f64(r);
	st->mode = pgml_reader_f64(r);
	st->variance = pgml_reader_f64(r);
	st->std_dev = pgml_reader_f64(r);
	st->missing = pgml_reader_u64(r);
	st->distinct = pgml_reader_u64(r);
	for (int i = 0; i < PP_BINS; i++)
		st->histogram[i] = pgml_reader_u64(r);
	for (int i = 0; i < PP_VENTILES; i++)
		st->ventiles[i] = pgml_reader_f64(r);
}

/* Writes the preprocessor (see the file header); pp must not be NULL. */
void
pgml_preprocessor_save(const pgml_preprocessor *pp, pgml_buf *out)
{
	if (pp == NULL || out == NULL)
		return;
	pgml_buf_put(out, PP_MAGIC, 8);
	pgml_buf_put_u32(out, PP_FORMAT);
	pgml_buf_put_u8(out, pp->fitted ? 1 : 0);
	pgml_buf_put_u64(out, pp->n_columns);
	for (size_t i = 0; i < pp->n_columns; i++)
	{
		const pp_column *c = &pp->columns[i];

		pgml_buf_put_str(out, c->name);
		pgml_buf_put_str(out, c->pg_type);
		pgml_buf_put_u8(out, (uint8_t) ((c->categorical ? 1 : 0) | (c->nullable ? 2 : 0)));
		pgml_buf_put_u32(out, c->width);
		pgml_buf_put_u8(out, (uint8_t) c->encode);
		pgml_buf_put_u8(out, (uint8_t) c->impute);
		pgml_buf_put_u8(out, (uint8_t) c->scale);
		if (c->categorical)
		{
			pgml_buf_put_u32(out, c->dict.n);
			for (uint32_t k = 1; k <= c->dict.n; k++)
				pgml_buf_put_str(out, dict_text(&c->dict, k));
		}
		if (!pp->fitted)
			continue;
		if (c->categorical)
			for (uint32_t k = 0; k <= c->dict.n; k++)
				pgml_buf_put_u64(out, c->members[k]);
		if (c->categorical && c->encode == PGML_ENCODE_TARGET)
			for (uint32_t k = 0; k <= c->dict.n; k++)
				pgml_buf_put_f32(out, c->target[k]);
		save_stats(out, &c->stats);
		for (uint32_t j = 0; j < c->width; j++)
		{
			pgml_buf_put_f64(out, c->slots[j].fill);
			pgml_buf_put_f64(out, c->slots[j].offset);
			pgml_buf_put_f64(out, c->slots[j].divisor);
		}
	}
}

/* Whether the reader has count items of size bytes left; marks it corrupt when not. */
static bool
have(pgml_reader *r, size_t count, size_t size)
{
	size_t		bytes;

	if (r->failed)
		return false;
	if (!pgml_mul_size(count, size, &bytes) || bytes > pgml_reader_remaining(r))
	{
		pgml_reader_fail(r, "A count is larger than the data");
		return false;
	}
	return true;
}

/* Reads a column's category texts straight into its dictionary. */
static bool
load_categories(pgml_reader *r, pp_column *c)
{
	uint32_t	n = pgml_reader_u32(r);

	if (r->failed)
		return false;
	if (n > PP_MAX_CATEGORIES || !have(r, n, 4))
	{
		pgml_reader_fail(r, "A column has too many categories");
		return false;
	}
	if (c->encode == PGML_ENCODE_ORDINAL && n == 0)
	{
		pgml_reader_fail(r, "An ordinal column has no values");
		return false;
	}
	for (uint32_t k = 0; k < n; k++)
	{
		uint32_t	len = pgml_reader_u32(r);
		const char *s;
		uint32_t	h;

		if (r->failed)
			return false;
		if (len == UINT32_MAX || len > PP_MAX_TEXT || len > pgml_reader_remaining(r))
		{
			pgml_reader_fail(r, "A category is longer than the data");
			return false;
		}
		s = (const char *) r->data + r->pos;
		if (memchr(s, '\0', len) != NULL)
		{
			pgml_reader_fail(r, "A category contains a NUL byte");
			return false;
		}
		h = hash_text(s, len);
		if (dict_find(&c->dict, s, len, h) != 0)
		{
			pgml_reader_fail(r, "A category appears twice");
			return false;
		}
		if (!dict_add(&c->dict, s, len, h))
		{
			pgml_reader_fail(r, "Out of memory");
			return false;
		}
		r->pos += len;
	}
	return true;
}

/* Reads one column; false when the reader failed. */
static bool
load_column(pgml_reader *r, pp_column *c, bool fitted)
{
	uint8_t		flags;
	uint8_t		enc;
	uint8_t		imp;
	uint8_t		scl;

	c->name = pgml_reader_str(r, PP_MAX_NAME);
	if (c->name == NULL && !r->failed)
		pgml_reader_fail(r, "A column has no name");
	c->pg_type = pgml_reader_str(r, PP_MAX_NAME);
	flags = pgml_reader_u8(r);
	c->width = pgml_reader_u32(r);
	enc = pgml_reader_u8(r);
	imp = pgml_reader_u8(r);
	scl = pgml_reader_u8(r);
	if (r->failed)
		return false;
	c->categorical = (flags & 1) != 0;
	c->nullable = (flags & 2) != 0;
	c->encode = (pgml_encode) enc;
	c->impute = (pgml_impute) imp;
	c->scale = (pgml_scale) scl;
	if (flags > 3 || enc >= N_ENCODE || imp >= N_IMPUTE || scl >= N_SCALE ||
		c->width == 0 || c->width > PP_MAX_WIDTH ||
		(c->encode != PGML_ENCODE_NATIVE && !c->categorical) ||
		(c->categorical && c->encode != PGML_ENCODE_TARGET &&
		 (c->impute == PGML_IMPUTE_MEAN || c->impute == PGML_IMPUTE_MEDIAN)))
	{
		pgml_reader_fail(r, "A column description is invalid");
		return false;
	}
	if (c->categorical && !load_categories(r, c))
		return false;
	if (!fitted)
		return true;

	if (c->categorical)
	{
		size_t		n = (size_t) c->dict.n + 1;

		if (!have(r, n, 8))
			return false;
		c->members = pgml_malloc(n * sizeof(uint64_t));
		if (c->members == NULL)
		{
			pgml_reader_fail(r, "Out of memory");
			return false;
		}
		for (size_t k = 0; k < n; k++)
			c->members[k] = pgml_reader_u64(r);
		if (c->encode == PGML_ENCODE_TARGET)
		{
			if (!have(r, n, 4))
				return false;
			c->target = pgml_malloc(n * sizeof(float));
			if (c->target == NULL)
			{
				pgml_reader_fail(r, "Out of memory");
				return false;
			}
			for (size_t k = 0; k < n; k++)
				c->target[k] = pgml_reader_f32(r);
		}
	}
	load_stats(r, &c->stats);
	if (!have(r, c->width, 24))
		return false;
	c->slots = pgml_malloc((size_t) c->width * sizeof(pp_slot));
	if (c->slots == NULL)
	{
		pgml_reader_fail(r, "Out of memory");
		return false;
	}
	for (uint32_t j = 0; j < c->width; j++)
	{
		c->slots[j].fill = pgml_reader_f64(r);
		c->slots[j].offset = pgml_reader_f64(r);
		c->slots[j].divisor = pgml_reader_f64(r);
	}
	return !r->failed;
}

/* PGML_ERR_CORRUPT, with the reader's error copied to err when err is another pgml_err. */
static pgml_status
load_failed(pgml_reader *r, pgml_err *err)
{
	if (err != NULL && err != r->err)
	{
		if (r->err != NULL)
			*err = *r->err;
		else
			pgml_error(err, PGML_ERR_CORRUPT, "%s is corrupt", r->what);
	}
	return PGML_ERR_CORRUPT;
}

pgml_status
pgml_preprocessor_load(pgml_reader *in, pgml_preprocessor **out, pgml_err *err)
{
	char		magic[8];
	uint32_t	format;
	uint8_t		fitted;
	uint64_t	n_columns;
	pgml_preprocessor *pp;
	size_t		n_raw = 0;

	if (out == NULL || in == NULL)
		return pgml_error(err, PGML_ERR_INVALID_ARGUMENT, "no preprocessor to load");
	*out = NULL;
	pgml_reader_get(in, magic, 8);
	if (!in->failed && memcmp(magic, PP_MAGIC, 8) != 0)
		pgml_reader_fail(in, "It does not start with the preprocessor signature");
	format = pgml_reader_u32(in);
	if (!in->failed && format != PP_FORMAT)
		pgml_reader_fail(in, "Its preprocessor format version is not supported");
	fitted = pgml_reader_u8(in);
	n_columns = pgml_reader_u64(in);
	if (in->failed)
		return load_failed(in, err);
	/* a column takes at least 16 bytes */
	if (fitted > 1 || n_columns > PP_MAX_COLUMNS)
		pgml_reader_fail(in, "The preprocessor header is invalid");
	if (in->failed || !have(in, (size_t) n_columns, 16))
		return load_failed(in, err);

	pp = preprocessor_alloc((size_t) n_columns);
	if (pp == NULL)
	{
		pgml_reader_fail(in, "Out of memory");
		return load_failed(in, err);
	}
	for (size_t i = 0; i < pp->n_columns; i++)
	{
		pp_column  *c = &pp->columns[i];

		if (!load_column(in, c, fitted != 0))
			break;
		c->raw_offset = n_raw;
		n_raw += c->width;
		if (n_raw > PP_MAX_RAW)
		{
			pgml_reader_fail(in, "The columns have too many values per row");
			break;
		}
	}
	pp->n_raw = n_raw;
	pp->fitted = fitted != 0;
	if (!in->failed && pp->fitted && !layout_features(pp))
		pgml_reader_fail(in, "The columns have too many features");
	if (in->failed)
	{
		pgml_preprocessor_free(pp);
		return load_failed(in, err);
	}
	*out = pp;
	return PGML_OK;
}
