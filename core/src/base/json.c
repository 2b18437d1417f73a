/*
 * json.c — jansson glue: parsing with pgml_err, typed option lookup, key validation.
 */
#include "pgml/json.h"

#include "internal.h"

#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

/* Called by pgml_set_allocator: jansson allocates through the same hook as the rest of libpgml. */
void
pgml_json_use_allocator(void)
{
	json_set_alloc_funcs(pgml_malloc, pgml_free);
}

json_t *
pgml_json_new_object(void)
{
	return json_pack("{}");
}

const char *
pgml_json_type_name(const json_t *value)
{
	if (value == NULL)
		return "missing";
	switch (json_typeof(value))
	{
		case JSON_OBJECT:
			return "object";
		case JSON_ARRAY:
			return "array";
		case JSON_STRING:
			return "string";
		case JSON_INTEGER:
		case JSON_REAL:
			return "number";
		case JSON_TRUE:
		case JSON_FALSE:
			return "boolean";
		case JSON_NULL:
			return "null";
	}
	return "unknown";
}

pgml_status
pgml_json_parse(const char *text, size_t len, const char *what, json_t **out, pgml_err *err)
{
	json_error_t jerr;
	json_t	   *value;

	*out = NULL;
	value = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
	if (value == NULL)
	{
		pgml_error(err, PGML_ERR_DATA, "invalid JSON in %s", what ? what : "input");
		pgml_err_detail(err, "%s at line %d, column %d.", jerr.text, jerr.line, jerr.column);
		return PGML_ERR_DATA;
	}
	*out = value;
	return PGML_OK;
}

pgml_status
pgml_json_load_file(const char *path, size_t max_bytes, json_t **out, pgml_err *err)
{
	FILE	   *f;
	struct stat st;
	char	   *buf;
	size_t		got;
	pgml_status rc;

	*out = NULL;
	f = fopen(path, "rb");
	if (f == NULL)
	{
		pgml_status code = errno == ENOENT ? PGML_ERR_NOT_FOUND : PGML_ERR_IO;

		pgml_error(err, code, "could not open file \"%s\": %s", path, strerror(errno));
		return code;
	}
	if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode))
	{
		fclose(f);
		return pgml_error(err, PGML_ERR_IO, "\"%s\" is not a regular file", path);
	}
	if ((uint64_t) st.st_size > max_bytes)
	{
		fclose(f);
		pgml_error(err, PGML_ERR_LIMIT, "file \"%s\" is too large", path);
		pgml_err_detail(err, "It has %lld bytes; the limit is %zu.", (long long) st.st_size, max_bytes);
		return PGML_ERR_LIMIT;
	}
	buf = pgml_malloc((size_t) st.st_size + 1);
	if (buf == NULL)
	{
		fclose(f);
		return pgml_error(err, PGML_ERR_OUT_OF_MEMORY, "out of memory");
	}
	got = fread(buf, 1, (size_t) st.st_size, f);
	if (got != (size_t) st.st_size || ferror(f))
	{
		fclose(f);
		pgml_free(buf);
		return pgml_error(err, PGML_ERR_IO, "could not read file \"%s\"", path);
	}
	fclose(f);
	{
		const char *base = strrchr(path, '/');

		rc = pgml_json_parse(buf, got, base ? base + 1 : path, out, err);
	}
	pgml_free(buf);
	return rc;
}

static const json_t *
lookup(const json_t *obj, const char *key)
{
	const json_t *v;

	if (obj == NULL || !json_is_object(obj))
		return NULL;
	v = json_object_get(obj, key);
	if (v == NULL || json_is_null(v))
		return NULL;
	return v;
}

pgml_status
pgml_json_get_int(const json_t *obj, const char *key, int64_t def, int64_t min, int64_t max, int64_t *out,
				  pgml_err *err)
{
	const json_t *v = lookup(obj, key);
	int64_t		value;

	*out = def;
	if (v == NULL)
		return PGML_OK;
	if (json_is_integer(v))
		value = json_integer_value(v);
	else if (json_is_real(v) && json_real_value(v) == floor(json_real_value(v))
			 && fabs(json_real_value(v)) < 9.0e15)
		value = (int64_t) json_real_value(v);
	else
		return pgml_error(err, PGML_ERR_INVALID_ARGUMENT, "\"%s\" must be an integer, not %s", key,
						  json_is_real(v) ? "a fraction" : pgml_json_type_name(v));
	if (value < min || value > max)
	{
		pgml_error(err, PGML_ERR_INVALID_ARGUMENT, "\"%s\" is out of range", key);
		if (max == INT64_MAX)
			pgml_err_detail(err, "It is %lld; it must be at least %lld.", (long long) value, (long long) min);
		else
			pgml_err_detail(err, "It is %lld; it must be between %lld and %lld.", (long long) value,
							(long long) min, (long long) max);
		return PGML_ERR_INVALID_ARGUMENT;
	}
	*out = value;
	return PGML_OK;
}

pgml_status
pgml_json_get_real(const json_t *obj, const char *key, double def, double min, double max, double *out,
				   pgml_err *err)
{
	const json_t *v = lookup(obj, key);
	double		value;

	*out = def;
	if (v == NULL)
		return PGML_OK;
	if (!json_is_number(v))
		return pgml_error(err, PGML_ERR_INVALID_ARGUMENT, "\"%s\" must be a number, not %s", key,
						  pgml_json_type_name(v));
	value = json_number_value(v);
	if (!(value >= min && value <= max))
	{
		pgml_error(err, PGML_ERR_INVALID_ARGUMENT, "\"%s\" is out of range", key);
		if (max >= DBL_MAX)
			pgml_err_detail(err, "It is %g; it must be at least %g.", value, min);
		else if (min <= -DBL_MAX)
			pgml_err_detail(err, "It is %g; it must be at most %g.", value, max);
		else
			pgml_err_detail(err, "It is %g; it must be between %g and %g.", value, min, max);
		return PGML_ERR_INVALID_ARGUMENT;
	}
	*out = value;
	return PGML_OK;
}

pgml_status
pgml_json_get_bool(const json_t *obj, const char *key, bool def, bool *out, pgml_err *err)
{
	const json_t *v = lookup(obj, key);

	*out = def;
	if (v == NULL)
		return PGML_OK;
	if (!json_is_boolean(v))
		return pgml_error(err, PGML_ERR_INVALID_ARGUMENT, "\"%s\" must be a boolean, not %s", key,
						  pgml_json_type_name(v));
	*out = json_is_true(v);
	return PGML_OK;
}

pgml_status
pgml_json_get_string(const json_t *obj, const char *key, const char *def, const char **out, pgml_err *err)
{
	const json_t *v = lookup(obj, key);

	*out = def;
	if (v == NULL)
		return PGML_OK;
	if (!json_is_string(v))
		return pgml_error(err, PGML_ERR_INVALID_ARGUMENT, "\"%s\" must be a string, not %s", key,
						  pgml_json_type_name(v));
	*out = json_string_value(v);
	return PGML_OK;
}

pgml_status
pgml_json_check_keys(const json_t *obj, const char *const *allowed, const char *what, pgml_err *err)
{
	const char *key;
	json_t	   *value;

	if (obj == NULL)
		return PGML_OK;
	if (!json_is_object(obj))
		return pgml_error(err, PGML_ERR_INVALID_ARGUMENT, "%ss must be a JSON object, not %s", what,
						  pgml_json_type_name(obj));
	json_object_foreach((json_t *) obj, key, value)
	{
		bool		found = false;

		(void) value;
		for (const char *const *a = allowed; *a != NULL; a++)
		{
			if (strcmp(*a, key) == 0)
			{
				found = true;
				break;
			}
		}
		if (!found)
		{
			char		list[PGML_ERR_DETAIL_LEN];
			size_t		used = 0;

			list[0] = '\0';
			for (const char *const *a = allowed; *a != NULL && used < sizeof(list); a++)
			{
				int			n = snprintf(list + used, sizeof(list) - used, "%s%s", a == allowed ? "" : ", ", *a);

				if (n < 0)
					break;
				used += (size_t) n;
			}
			pgml_error(err, PGML_ERR_INVALID_ARGUMENT, "unknown %s \"%s\"", what, key);
			if (allowed[0] == NULL)
				pgml_err_detail(err, "No %ss are accepted here.", what);
			else
				pgml_err_detail(err, "Valid %ss are: %s.", what, list);
			return PGML_ERR_INVALID_ARGUMENT;
		}
	}
	return PGML_OK;
}

char *
pgml_json_dumps(const json_t *value)
{
	return json_dumps(value, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_ENCODE_ANY);
}
