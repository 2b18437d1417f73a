/*
 * hub_int.h — declarations shared by the hub module's files (hub.c, hub_id.c, hub_http.c); not installed.
 */
#ifndef PGML_HUB_INT_H
#define PGML_HUB_INT_H

#include "pgml/hub.h"

#define HUB_COMMIT_LEN	40		/* a git commit: 40 lower-case hex digits */
#define HUB_ETAG_MAX	128		/* longest etag accepted as a blob name */
#define HUB_DEFAULT_ENDPOINT "https://huggingface.co"
#define HUB_DEFAULT_REVISION "main"

/* One model being resolved. */
typedef struct hub_ctx
{
	const pgml_hub_config *cfg;
	const char *id;				/* validated "org/name" or "name" */
	const char *revision;		/* validated; "main" when the caller gave none */
	char	   *endpoint;		/* without trailing '/' */
	char	   *repo_dir;		/* <cache>/models--org--name */
	char	   *locks_dir;		/* <cache>/.locks/models--org--name */
	long		timeout_s;
	bool		have_commit;
	char		commit[HUB_COMMIT_LEN + 1];
} hub_ctx;

/* What the hub said about one file (the answer to a HEAD of its resolve URL). */
typedef struct hub_meta
{
	long		status;			/* HTTP status of the last response */
	char		commit[HUB_COMMIT_LEN + 1];	/* X-Repo-Commit, "" if absent or malformed */
	char		etag[HUB_ETAG_MAX + 1];	/* X-Linked-Etag or ETag, without W/ and quotes; "" if none */
	bool		etag_bad;		/* an etag was sent but is not usable as a file name */
	long long	size;			/* X-Linked-Size, or Content-Length of a 200; -1 if unknown */
	char		error_code[64];	/* X-Error-Code ("EntryNotFound", "RepoNotFound", ...) */
	/* raw per-response headers, reset at each status line */
	char		r_etag[HUB_ETAG_MAX + 8];
	char		r_linked_etag[HUB_ETAG_MAX + 8];
	long long	r_linked_size;
	long long	r_content_length;
	long long	r_range_start;	/* first byte of Content-Range, -1 if none */
	bool		r_etag_long;
	bool		r_linked_etag_long;
} hub_meta;

/* hub_id.c */
bool		hub_is_hex(const char *s, size_t n);
bool		hub_is_commit(const char *s);
pgml_status hub_validate_file(const char *file, size_t len, pgml_err *err);
char	   *hub_url(const hub_ctx *ctx, const char *file);
pgml_status hub_check_local_dir(const char *local_dirs, const char *path, char **real_out, pgml_err *err);

/* hub_http.c */
pgml_status hub_http_head(const hub_ctx *ctx, const char *file, hub_meta *meta, pgml_err *err);
pgml_status hub_http_download(const hub_ctx *ctx, const char *file, const hub_meta *meta,
							  const char *incomplete_path, pgml_err *err);
double		hub_progress_interval(void);

#endif							/* PGML_HUB_INT_H */
