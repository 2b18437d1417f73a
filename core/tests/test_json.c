/* Tests for json.c: parse errors, typed lookups, key validation. */
#include "test.h"

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "pgml/json.h"

static json_t *
parse(const char *text)
{
	json_t	   *v = NULL;
	pgml_err	err;

	if (pgml_json_parse(text, strlen(text), "test", &v, &err) != PGML_OK)
		return NULL;
	return v;
}

TEST(json_parse_errors_name_position)
{
	json_t	   *v = (json_t *) 1;
	pgml_err	err;
	const char *bad = "{\n  \"a\": 1,\n  \"b\": }";

	CHECK_INT(pgml_json_parse(bad, strlen(bad), "config.json", &v, &err), PGML_ERR_DATA);
	CHECK(v == NULL);
	CHECK_STR(err.msg, "invalid JSON in config.json");
	CHECK(strstr(err.detail, "line 3") != NULL);
	/* duplicate keys are rejected */
	CHECK_INT(pgml_json_parse("{\"a\":1,\"a\":2}", 13, "x", &v, &err), PGML_ERR_DATA);
	/* not NUL-terminated input is bounded by len */
	CHECK_INT(pgml_json_parse("[1]garbage", 3, "x", &v, &err), PGML_OK);
	json_decref(v);
	CHECK_INT(pgml_json_parse("", 0, "x", &v, &err), PGML_ERR_DATA);
}

TEST(json_typed_lookups)
{
	json_t	   *o = parse("{\"n\": 5, \"f\": 2.5, \"whole\": 3.0, \"b\": true, \"s\": \"hi\", \"z\": null}");
	pgml_err	err;
	int64_t		i;
	double		d;
	bool		b;
	const char *s;

	REQUIRE(o != NULL);
	CHECK_INT(pgml_json_get_int(o, "n", 0, 0, 10, &i, &err), PGML_OK);
	CHECK_INT(i, 5);
	CHECK_INT(pgml_json_get_int(o, "whole", 0, 0, 10, &i, &err), PGML_OK);
	CHECK_INT(i, 3);
	CHECK_INT(pgml_json_get_int(o, "missing", 7, 0, 10, &i, &err), PGML_OK);
	CHECK_INT(i, 7);
	CHECK_INT(pgml_json_get_int(o, "z", 9, 0, 10, &i, &err), PGML_OK);	/* null = missing */
	CHECK_INT(i, 9);
	CHECK_INT(pgml_json_get_int(o, "f", 0, 0, 10, &i, &err), PGML_ERR_INVALID_ARGUMENT);
	CHECK_STR(err.msg, "\"f\" must be an integer, not a fraction");
	CHECK_INT(pgml_json_get_int(o, "s", 0, 0, 10, &i, &err), PGML_ERR_INVALID_ARGUMENT);
	CHECK_STR(err.msg, "\"s\" must be an integer, not string");
	CHECK_INT(pgml_json_get_int(o, "n", 0, 6, 10, &i, &err), PGML_ERR_INVALID_ARGUMENT);
	CHECK_STR(err.msg, "\"n\" is out of range");
	CHECK_STR(err.detail, "It is 5; it must be between 6 and 10.");

	CHECK_INT(pgml_json_get_real(o, "f", 0, 0, 10, &d, &err), PGML_OK);
	CHECK_NEAR(d, 2.5, 0);
	CHECK_INT(pgml_json_get_real(o, "n", 0, 0, 10, &d, &err), PGML_OK);
	CHECK_NEAR(d, 5, 0);
	CHECK_INT(pgml_json_get_real(o, "f", 0, 3, 10, &d, &err), PGML_ERR_INVALID_ARGUMENT);
	CHECK_INT(pgml_json_get_real(o, "b", 0, 0, 10, &d, &err), PGML_ERR_INVALID_ARGUMENT);

	CHECK_INT(pgml_json_get_bool(o, "b", false, &b, &err), PGML_OK);
	CHECK(b);
	CHECK_INT(pgml_json_get_bool(o, "n", false, &b, &err), PGML_ERR_INVALID_ARGUMENT);

	CHECK_INT(pgml_json_get_string(o, "s", NULL, &s, &err), PGML_OK);
	CHECK_STR(s, "hi");
	CHECK_INT(pgml_json_get_string(o, "nope", "dflt", &s, &err), PGML_OK);
	CHECK_STR(s, "dflt");
	CHECK_INT(pgml_json_get_string(o, "n", NULL, &s, &err), PGML_ERR_INVALID_ARGUMENT);

	/* a NULL object means everything is missing */
	CHECK_INT(pgml_json_get_int(NULL, "n", 4, 0, 10, &i, &err), PGML_OK);
	CHECK_INT(i, 4);
	json_decref(o);
}

TEST(json_check_keys_lists_valid_ones)
{
	static const char *const allowed[] = {"alpha", "fit_intercept", "max_iter", NULL};
	static const char *const none[] = {NULL};
	json_t	   *ok = parse("{\"alpha\": 1, \"max_iter\": 10}");
	json_t	   *bad = parse("{\"alpha\": 1, \"learning_rate\": 0.1}");
	json_t	   *arr = parse("[1, 2]");
	pgml_err	err;

	REQUIRE(ok && bad && arr);
	CHECK_INT(pgml_json_check_keys(ok, allowed, "hyperparameter", &err), PGML_OK);
	CHECK_INT(pgml_json_check_keys(NULL, allowed, "hyperparameter", &err), PGML_OK);
	CHECK_INT(pgml_json_check_keys(bad, allowed, "hyperparameter", &err), PGML_ERR_INVALID_ARGUMENT);
	CHECK_STR(err.msg, "unknown hyperparameter \"learning_rate\"");
	CHECK_STR(err.detail, "Valid hyperparameters are: alpha, fit_intercept, max_iter.");
	CHECK_INT(pgml_json_check_keys(ok, none, "option", &err), PGML_ERR_INVALID_ARGUMENT);
	CHECK_STR(err.detail, "No options are accepted here.");
	CHECK_INT(pgml_json_check_keys(arr, allowed, "hyperparameter", &err), PGML_ERR_INVALID_ARGUMENT);
	CHECK_STR(err.msg, "hyperparameters must be a JSON object, not array");
	json_decref(ok);
	json_decref(bad);
	json_decref(arr);
}

TEST(json_dumps_keeps_order)
{
	json_t	   *o = parse("{\"z\": 1, \"a\": [true, null, \"x\"], \"m\": 1.5}");
	char	   *text;

	REQUIRE(o != NULL);
	text = pgml_json_dumps(o);
	CHECK_STR(text, "{\"z\":1,\"a\":[true,null,\"x\"],\"m\":1.5}");
	pgml_free(text);
	json_decref(o);
}

TEST(json_load_file)
{
	char		path[] = "/tmp/pgml_test_json_XXXXXX";
	int			fd = mkstemp(path);
	json_t	   *v = NULL;
	pgml_err	err;
	FILE	   *f;

	REQUIRE(fd >= 0);
	f = fdopen(fd, "w");
	fputs("{\"hidden_size\": 384}", f);
	fclose(f);
	CHECK_INT(pgml_json_load_file(path, 1 << 20, &v, &err), PGML_OK);
	CHECK(v && json_integer_value(json_object_get(v, "hidden_size")) == 384);
	json_decref(v);
	CHECK_INT(pgml_json_load_file(path, 5, &v, &err), PGML_ERR_LIMIT);
	CHECK_INT(pgml_json_load_file("/nonexistent/config.json", 100, &v, &err), PGML_ERR_NOT_FOUND);
	CHECK_INT(pgml_json_load_file("/tmp", 100, &v, &err), PGML_ERR_IO);
	unlink(path);
}
