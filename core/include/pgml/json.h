/*
 * json.h — JSON on top of jansson, with errors as pgml_err and typed, validated option lookup.
 *
 * Used for config.json, tokenizer.json, hyperparameters and kwargs. jansson allocates through
 * pgml_malloc once pgml_set_allocator has run.
 */
#ifndef PGML_JSON_H
#define PGML_JSON_H

#include <jansson.h>

#include "pgml/pgml.h"

/*
 * Never call jansson's json_object() directly. Inside a PostgreSQL backend the server executable exports
 * an SQL function of the same name, and the dynamic linker binds a shared library's call to the
 * executable's symbol first: the call would land in PostgreSQL. pgml_json_new_object() reaches jansson
 * through json_pack, whose internal calls stay inside libjansson. Every file that uses jansson includes
 * this header (not <jansson.h>), so the macro below covers them all; a test checks it.
 */
json_t	   *pgml_json_new_object(void);

#define json_object() pgml_json_new_object()

/* Parses len bytes of text. On error the message names the line and column. `what` names the document
 * in messages ("config.json"). *out is a new reference; release it with json_decref. */
pgml_status pgml_json_parse(const char *text, size_t len, const char *what, json_t **out, pgml_err *err);

/* Reads and parses a file of at most max_bytes bytes. */
pgml_status pgml_json_load_file(const char *path, size_t max_bytes, json_t **out, pgml_err *err);

/*
 * Typed lookups in an object. A missing key or JSON null gives `def`; a value of another type, or out
 * of [min, max], is an error naming `key`. obj may be NULL (everything is missing).
 */
pgml_status pgml_json_get_int(const json_t *obj, const char *key, int64_t def, int64_t min, int64_t max,
							  int64_t *out, pgml_err *err);
pgml_status pgml_json_get_real(const json_t *obj, const char *key, double def, double min, double max,
							   double *out, pgml_err *err);
pgml_status pgml_json_get_bool(const json_t *obj, const char *key, bool def, bool *out, pgml_err *err);

/* *out points into obj (valid while obj lives) or is def. */
pgml_status pgml_json_get_string(const json_t *obj, const char *key, const char *def, const char **out,
								 pgml_err *err);

/* obj must be an object (or NULL) whose keys are all in `allowed` (NULL-terminated). An unknown key is an
 * error naming it and listing the valid ones; `what` names the options in the message ("hyperparameter"). */
pgml_status pgml_json_check_keys(const json_t *obj, const char *const *allowed, const char *what,
								 pgml_err *err);

/* Compact text with keys in insertion order, allocated with pgml_malloc. NULL when out of memory. */
char	   *pgml_json_dumps(const json_t *value);

/* The name of a JSON type for messages: "object", "array", "string", "number", "boolean", "null". */
const char *pgml_json_type_name(const json_t *value);

#endif							/* PGML_JSON_H */
