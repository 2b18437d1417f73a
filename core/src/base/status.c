/*
 * status.c — pgml_err: recording errors in PostgreSQL's message style, and their SQLSTATEs.
 */
#include "pgml/pgml.h"

#include <stdio.h>
#include <string.h>

static const struct
{
	const char *name;
	const char *sqlstate;
}			status_info[] = {
	[PGML_OK] = {"ok", "00000"},
	[PGML_ERR_INVALID_ARGUMENT] = {"invalid argument", "22023"},
	[PGML_ERR_DATA] = {"data error", "22000"},
	[PGML_ERR_OUT_OF_MEMORY] = {"out of memory", "53200"},
	[PGML_ERR_IO] = {"i/o error", "58030"},
	[PGML_ERR_NOT_FOUND] = {"not found", "42704"},
	[PGML_ERR_NOT_SUPPORTED] = {"not supported", "0A000"},
	[PGML_ERR_CORRUPT] = {"corrupt data", "XX001"},
	[PGML_ERR_CANCELLED] = {"cancelled", "57014"},
	[PGML_ERR_LIMIT] = {"limit exceeded", "54000"},
	[PGML_ERR_NETWORK] = {"network error", "08000"},
	[PGML_ERR_INTERNAL] = {"internal error", "XX000"},
};

#define N_STATUS (sizeof(status_info) / sizeof(status_info[0]))

const char *
pgml_status_name(pgml_status code)
{
	if ((unsigned) code >= N_STATUS || status_info[code].name == NULL)
		return "unknown error";
	return status_info[code].name;
}

const char *
pgml_status_sqlstate(pgml_status code)
{
	if ((unsigned) code >= N_STATUS || status_info[code].sqlstate == NULL)
		return "XX000";
	return status_info[code].sqlstate;
}

void
pgml_err_clear(pgml_err *err)
{
	if (err == NULL)
		return;
	err->code = PGML_OK;
	err->sqlstate[0] = '\0';
	err->msg[0] = '\0';
	err->detail[0] = '\0';
	err->hint[0] = '\0';
}

pgml_status
pgml_verror(pgml_err *err, pgml_status code, const char *fmt, va_list ap)
{
	if (err == NULL)
		return code;
	pgml_err_clear(err);
	err->code = code;
	vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	return code;
}

pgml_status
pgml_error(pgml_err *err, pgml_status code, const char *fmt,...)
{
	va_list		ap;

	va_start(ap, fmt);
	pgml_verror(err, code, fmt, ap);
	va_end(ap);
	return code;
}

void
pgml_err_detail(pgml_err *err, const char *fmt,...)
{
	va_list		ap;

	if (err == NULL)
		return;
	va_start(ap, fmt);
	vsnprintf(err->detail, sizeof(err->detail), fmt, ap);
	va_end(ap);
}

void
pgml_err_hint(pgml_err *err, const char *fmt,...)
{
	va_list		ap;

	if (err == NULL)
		return;
	va_start(ap, fmt);
	vsnprintf(err->hint, sizeof(err->hint), fmt, ap);
	va_end(ap);
}

void
pgml_err_sqlstate(pgml_err *err, const char *sqlstate)
{
	if (err == NULL)
		return;
	if (sqlstate == NULL || strlen(sqlstate) != 5)
	{
		err->sqlstate[0] = '\0';
		return;
	}
	memcpy(err->sqlstate, sqlstate, 6);
}

const char *
pgml_err_get_sqlstate(const pgml_err *err)
{
	if (err == NULL)
		return "XX000";
	if (err->sqlstate[0] != '\0')
		return err->sqlstate;
	return pgml_status_sqlstate(err->code);
}

const char *
pgml_version(void)
{
	return PGML_VERSION;
}
