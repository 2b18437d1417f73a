/*
 * hub.h — model id → local directory: the Hugging Face cache layout, downloads, local model directories.
 *
 * A model id is "name" or "org/name" (letters, digits, '-', '_', '.'; no "..", no leading '.' or '-';
 * at most 96 characters per part), with an optional revision (branch, tag or 40-hex commit; default
 * "main"). It resolves to <cache_dir>/models--org--name/snapshots/<commit>/ as huggingface_hub lays it
 * out (blobs/<etag>, refs/<revision>, snapshot files as relative symlinks to the blobs), so an existing
 * Hugging Face cache is reused and what pgml downloads is usable by the Python libraries.
 *
 * Missing files are downloaded from <endpoint>/<id>/resolve/<revision>/<file> with libcurl (redirects
 * followed, Authorization: Bearer <token> when a token is set), resumed after an interrupted transfer,
 * verified (size, and sha256 when the hub gives it as the ETag of an LFS file), written to a temporary
 * file and renamed into place, under a lock file so that concurrent processes download each file once.
 * Progress goes to the log hook (NOTICE) and the stop hook is polled.
 *
 * An absolute path is accepted as a model only when it lies under one of local_dirs (after resolving
 * symlinks and "..").
 */
#ifndef PGML_HUB_H
#define PGML_HUB_H

#include "pgml/pgml.h"

typedef struct pgml_hub_config
{
	const char *cache_dir;		/* the hub cache root (…/huggingface/hub) */
	const char *endpoint;		/* "https://huggingface.co" */
	const char *token;			/* NULL or "" for none */
	bool		offline;		/* never download: a missing file is PGML_ERR_NOT_FOUND */
	const char *local_dirs;		/* comma-separated directories where absolute model paths may live; NULL/"" none */
	long		timeout_s;		/* a transfer that makes no progress for this long fails (0 = 60) */
} pgml_hub_config;

/* Validates a model id (and revision, which may be NULL). */
pgml_status pgml_hub_validate_id(const char *model_id, const char *revision, pgml_err *err);

/*
 * Makes the files of a model available locally and returns its directory (pgml_free it).
 *
 * files lists the files wanted (relative paths such as "config.json" or "1_Pooling/config.json"); each
 * may end in '?' to mark it optional (a 404 is then fine and the file is simply absent). When one of the
 * files is "model.safetensors" and the repository has none, "model.safetensors.index.json" and the
 * shards it names are fetched instead.
 *
 * For an absolute path under local_dirs the directory itself is returned (after checking it exists).
 */
pgml_status pgml_hub_resolve(const pgml_hub_config *cfg, const char *model_id, const char *revision,
							 const char *const *files, size_t n_files, char **dir_out, pgml_err *err);

/*
 * Checks that an absolute path names a directory under one of local_dirs (comma-separated; each entry and
 * the path are resolved with realpath(), and the path must be the entry or lie below it at a '/'
 * boundary). On success *dir_out is the resolved directory (pgml_free it). A path outside every entry is
 * PGML_ERR_INVALID_ARGUMENT with SQLSTATE 42501; a missing path under an entry is PGML_ERR_NOT_FOUND.
 */
pgml_status pgml_hub_check_local_path(const char *local_dirs, const char *path, char **dir_out,
									  pgml_err *err);

/*
 * The default cache directory as huggingface_hub computes it: $HF_HUB_CACHE, else $HF_HOME/hub, else
 * $XDG_CACHE_HOME/huggingface/hub, else $HOME/.cache/huggingface/hub. NULL when none of them is set or
 * out of memory; pgml_free the result. pgml_hub_resolve uses it when cfg->cache_dir is NULL or "".
 */
char	   *pgml_hub_default_cache_dir(void);

/* Seconds between two progress NOTICEs of one download (default 5; tests use 0). */
void		pgml_hub_set_progress_interval(double seconds);

#endif							/* PGML_HUB_H */
