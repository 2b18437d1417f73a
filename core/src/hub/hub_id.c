/*
 * hub_id.c — what a model id, a revision and a file name may look like, URLs, and local model directories.
 *
 * Ids become directory names (models--org--name) and URL paths, revisions become file names under refs/
 * and URL segments, file names become paths under snapshots/: each is checked here before anything is
 * built from it, so that no input can name a path outside the cache. The rules follow huggingface_hub's
 * validate_repo_id: parts of letters, digits, '-', '_', '.', at most 96 characters, no "--" or "..", and
 * '-' or '.' neither first nor last.
 */
#include "hub_int.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define HUB_PART_MAX		96
#define HUB_REVISION_MAX	255
#define HUB_FILE_MAX		255

/* Return whether s[0..n) are all hex digits (lower or upper case). */
bool
hub_is_hex(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
	{
		char		c = s[i];

		if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')))
			return false;
	}
	return true;
}

/* Return whether s is a full commit hash: exactly 40 lower-case hex digits. */
bool
hub_is_commit(const char *s)
{
	if (s == NULL || strlen(s) != HUB_COMMIT_LEN)
		return false;
	for (size_t i = 0; i < HUB_COMMIT_LEN; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	return true;
}

static bool
id_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		c == '-' || c == '_' || c == '.';
}

/* Check one part (org or name) of an id: s[0..n). */
static bool
id_part_ok(const char *s, size_t n)
{
	if (n == 0 || n > HUB_PART_MAX)
		return false;
	if (s[0] == '-' || s[0] == '.' || s[n - 1] == '-' || s[n - 1] == '.')
		return false;
	for (size_t i = 0; i < n; i++)
	{
		if (!id_char(s[i]))
			return false;
		if (i > 0 && (s[i] == '-' || s[i] == '.') && s[i - 1] == s[i])
			return false;		/* "--" or ".." */
	}
	return true;
}

static pgml_status
validate_revision(const char *rev, pgml_err *err)
{
	size_t		n = strlen(rev);

	if (n == 0 || n > HUB_REVISION_MAX)
	{
		pgml_error(err, PGML_ERR_INVALID_ARGUMENT, "invalid model revision \"%.64s\"", rev);
		pgml_err_detail(err, "A revision has 1 to %d characters.", HUB_REVISION_MAX);
		return PGML_ERR_INVALID_ARGUMENT;
	}
	for (size_t i = 0; i < n; i++)
	{
		char		c = rev[i];

		if (!(id_char(c) || c == '/'))
		{
			pgml_error(err, PGML_ERR_INVALID_ARGUMENT, "invalid model revision \"%.64s\"", rev);
			pgml_err_detail(err, "A revision (branch, tag or commit) may contain letters, digits, '-', '_', '.' and '/'.");
			return PGML_ERR_INVALID_ARGUMENT;
		}
	}
	if (rev[0] == '/' || rev[0] == '.' || rev[0] == '-' || rev[n - 1] == '/' || rev[n - 1] == '.' ||
		strstr(rev, "..") != NULL || strstr(rev, "//") != NULL || strstr(rev, "/.") != NULL)
	{
		pgml_error(err, PGML_ERR_INVALID_ARGUMENT, "invalid model revision \"%.64s\"", rev);
		pgml_err_detail(err, "A revision may not start with '/', '.' or '-', end with '/' or '.', or contain \"..\", \"//\" or \"/.\".");
		return PGML_ERR_INVALID_ARGUMENT;
	}
	return PGML_OK;
}

pgml_status
pgml_hub_validate_id(const char *model_id, const char *revision, pgml_err *err)
{
	const char *slash;
	size_t		n;

	if (model_id == NULL || model_id[0] == '\0')
		return pgml_error(err, PGML_ERR_INVALID_ARGUMENT, "model id must not be empty");
	n = strlen(model_id);
	if (model_id[0] == '/')
	{
		pgml_error(err, PGML_ERR_INVALID_ARGUMENT, "\"%.64s\" is a path, not a model id", model_id);
		pgml_err_hint(err, "Absolute paths are accepted as models only under the directories listed in pgml.model_dirs.");
		return PGML_ERR_INVALID_ARGUMENT;
	}
	slash = strchr(model_id, '/');
	if (n > 2 * HUB_PART_MAX + 1 ||
		(slash == NULL && !id_part_ok(model_id, n)) ||
		(slash != NULL && (strchr(slash + 1, '/') != NULL ||
						   !id_part_ok(model_id, (size_t) (slash - model_id)) ||
						   !id_part_ok(slash + 1, strlen(slash + 1)))))
	{
		pgml_error(err, PGML_ERR_INVALID_ARGUMENT, "invalid model id \"%.64s%s\"", model_id, n > 64 ? "..." : "");
		pgml_err_detail(err, "A model id is \"name\" or \"organization/name\"; each part has 1 to %d letters, digits, '-', '_' or '.', does not start or end with '-' or '.', and contains no \"--\" or \"..\".",
						HUB_PART_MAX);
		return PGML_ERR_INVALID_ARGUMENT;
	}
	if (revision != NULL)
		return validate_revision(revision, err);
	return PGML_OK;
}

/*
 * Check a file name of a repository, file[0..len): a relative path of non-empty components, none "." or
 * "..", without backslashes or control characters.
 */
pgml_status
hub_validate_file(const char *file, size_t len, pgml_err *err)
{
	size_t		start = 0;

	if (len == 0 || len > HUB_FILE_MAX || file[0] == '/')
		goto bad;
	for (size_t i = 0; i <= len; i++)
	{
		if (i == len || file[i] == '/')
		{
			size_t		clen = i - start;

			if (clen == 0 || (clen == 1 && file[start] == '.') ||
				(clen == 2 && file[start] == '.' && file[start + 1] == '.'))
				goto bad;
			start = i + 1;
			continue;
		}
		if ((unsigned char) file[i] < 0x20 || file[i] == 0x7f || file[i] == '\\' || file[i] == '?' ||
			file[i] == '#' || file[i] == '%')
			goto bad;
	}
	return PGML_OK;

bad:
	pgml_error(err, PGML_ERR_INVALID_ARGUMENT, "invalid model file name \"%.*s\"", (int) (len > 128 ? 128 : len), file);
	pgml_err_detail(err, "A file name is a relative path of at most %d bytes without empty, \".\" or \"..\" components.", HUB_FILE_MAX);
	return PGML_ERR_INVALID_ARGUMENT;
}

/* Append s to buf, percent-encoding all but unreserved characters (and '/' when keep_slash). */
static char *
url_encode_append(char *p, const char *s, bool keep_slash)
{
	static const char hex[] = "0123456789ABCDEF";

	for (; *s; s++)
	{
		unsigned char c = (unsigned char) *s;

		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
			c == '-' || c == '_' || c == '.' || c == '~' || (keep_slash && c == '/'))
			*p++ = (char) c;
		else
		{
			*p++ = '%';
			*p++ = hex[c >> 4];
			*p++ = hex[c & 15];
		}
	}
	return p;
}

/* Build <endpoint>/<id>/resolve/<revision>/<file> (pgml_free it); NULL when out of memory. */
char *
hub_url(const hub_ctx *ctx, const char *file)
{
	size_t		n = strlen(ctx->endpoint) + strlen(ctx->id) + 3 * strlen(ctx->revision) + 3 * strlen(file) + 16;
	char	   *url = pgml_malloc(n);
	char	   *p;

	if (url == NULL)
		return NULL;
	p = url;
	p += sprintf(p, "%s/%s/resolve/", ctx->endpoint, ctx->id);
	p = url_encode_append(p, ctx->revision, false);
	*p++ = '/';
	p = url_encode_append(p, file, true);
	*p = '\0';
	return url;
}

/* Return whether the resolved path `real` is `dir` or lies below it. */
static bool
path_under(const char *real, const char *dir)
{
	size_t		n = strlen(dir);

	if (n == 1 && dir[0] == '/')
		return true;
	return strncmp(real, dir, n) == 0 && (real[n] == '\0' || real[n] == '/');
}

pgml_status
pgml_hub_check_local_path(const char *local_dirs, const char *path, char **dir_out, pgml_err *err)
{
	return hub_check_local_dir(local_dirs, path, dir_out, err);
}

pgml_status
hub_check_local_dir(const char *local_dirs, const char *path, char **real_out, pgml_err *err)
{
	char		real[PATH_MAX];
	bool		resolved;
	bool		lexically_under = false;
	bool		under = false;
	const char *p;
	struct stat st;

	*real_out = NULL;
	if (path == NULL || path[0] != '/')
		return pgml_error(err, PGML_ERR_INVALID_ARGUMENT, "model path \"%s\" is not absolute", path ? path : "");
	if (local_dirs == NULL || local_dirs[0] == '\0')
	{
		pgml_error(err, PGML_ERR_INVALID_ARGUMENT, "model directories are not allowed");
		pgml_err_sqlstate(err, "42501");
		pgml_err_hint(err, "A superuser can list the directories models may be loaded from in pgml.model_dirs.");
		return PGML_ERR_INVALID_ARGUMENT;
	}
	resolved = realpath(path, real) != NULL;

	/* each comma-separated entry, trimmed, resolved itself */
	p = local_dirs;
	while (*p && !under)
	{
		const char *end = strchr(p, ',');
		size_t		n = end ? (size_t) (end - p) : strlen(p);
		char		entry[PATH_MAX];
		char		entry_real[PATH_MAX];

		while (n > 0 && (*p == ' ' || *p == '\t'))
			p++, n--;
		while (n > 0 && (p[n - 1] == ' ' || p[n - 1] == '\t'))
			n--;
		if (n > 0 && n < sizeof(entry) && p[0] == '/')
		{
			memcpy(entry, p, n);
			entry[n] = '\0';
			while (n > 1 && entry[n - 1] == '/')
				entry[--n] = '\0';
			if (realpath(entry, entry_real) != NULL)
			{
				if (resolved && path_under(real, entry_real))
					under = true;
				/* a path that does not exist is reported as missing only when it would be allowed */
				if (!resolved && strstr(path, "/..") == NULL && strstr(path, "/./") == NULL &&
					(path_under(path, entry) || path_under(path, entry_real)))
					lexically_under = true;
			}
		}
		p = end ? end + 1 : p + strlen(p);
	}
	if (!under)
	{
		if (lexically_under)
			return pgml_error(err, PGML_ERR_NOT_FOUND, "model directory \"%s\" does not exist", path);
		pgml_error(err, PGML_ERR_INVALID_ARGUMENT, "model path \"%s\" is not under pgml.model_dirs", path);
		pgml_err_sqlstate(err, "42501");
		pgml_err_detail(err, "Models are loaded from absolute paths only inside the directories listed in pgml.model_dirs (after resolving symbolic links).");
		return PGML_ERR_INVALID_ARGUMENT;
	}
	if (stat(real, &st) != 0 || !S_ISDIR(st.st_mode))
		return pgml_error(err, PGML_ERR_NOT_FOUND, "model path \"%s\" is not a directory", path);
	*real_out = pgml_strdup(real);
	if (*real_out == NULL)
		return pgml_error(err, PGML_ERR_OUT_OF_MEMORY, "out of memory");
	return PGML_OK;
}
