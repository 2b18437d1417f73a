/*
 * hub.c — model id → local directory, in the Hugging Face cache layout.
 *
 * huggingface_hub keeps one directory per repository under the cache root:
 *
 *   models--org--name/
 *     blobs/<etag>                  file contents, named by etag (git blob sha1, or sha256 for LFS files)
 *     blobs/<etag>.incomplete       a download in progress (resumed by the next attempt)
 *     refs/<revision>               the commit a branch or tag pointed to when last seen (no newline)
 *     snapshots/<commit>/<path>     relative symlinks to ../../blobs/<etag> (one more ../ per directory)
 *     .no_exist/<commit>/<path>     empty markers: the hub answered 404 for this file at this commit
 *   .locks/models--org--name/<etag>.lock   flock()ed while one process downloads the blob
 *
 * Resolving reads refs/<revision> (or takes a 40-hex revision as the commit) and uses the snapshot when
 * every wanted file is there: no network. Otherwise each missing file is looked up with a HEAD (commit,
 * etag, size), its blob downloaded under the lock unless already present, and the snapshot symlink made.
 * The blob is renamed into place only when complete and verified, and the symlink is created under a
 * temporary name outside snapshots/ and renamed in, so snapshots/ never shows a partial file. The lock
 * location and the .incomplete name are huggingface_hub's, so pgml and the Python libraries can share a
 * cache, even concurrently.
 */
#include "hub_int.h"

#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "pgml/json.h"

#define HUB_INDEX_MAX_BYTES (64u * 1024 * 1024)
#define HUB_WEIGHTS "model.safetensors"
#define HUB_WEIGHTS_INDEX "model.safetensors.index.json"

static atomic_uint tmp_counter;

/* Return a fresh name for a temporary entry in dir (pgml_free it). */
static char *
tmp_name(const char *dir)
{
	return pgml_asprintf("%s/.pgml-tmp-%ld-%u", dir, (long) getpid(), atomic_fetch_add(&tmp_counter, 1));
}

static bool
path_exists(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0;
}

/* Create path and its missing parents (like mkdir -p). */
static pgml_status
mkdir_p(const char *path, pgml_err *err)
{
	char	   *p = pgml_strdup(path);

	if (p == NULL)
		return pgml_error(err, PGML_ERR_OUT_OF_MEMORY, "out of memory");
	for (char *s = p + 1;; s++)
	{
		if (*s == '/' || *s == '\0')
		{
			char		c = *s;

			*s = '\0';
			if (mkdir(p, 0755) != 0 && errno != EEXIST)
			{
				pgml_error(err, PGML_ERR_IO, "could not create directory \"%s\": %s", p, strerror(errno));
				pgml_free(p);
				return PGML_ERR_IO;
			}
			*s = c;
			if (c == '\0')
				break;
		}
	}
	pgml_free(p);
	return PGML_OK;
}

/* mkdir -p the directory part of path. */
static pgml_status
mkdir_parent(const char *path, pgml_err *err)
{
	char	   *p = pgml_strdup(path);
	char	   *slash;
	pgml_status st = PGML_OK;

	if (p == NULL)
		return pgml_error(err, PGML_ERR_OUT_OF_MEMORY, "out of memory");
	slash = strrchr(p, '/');
	if (slash != NULL && slash != p)
	{
		*slash = '\0';
		st = mkdir_p(p, err);
	}
	pgml_free(p);
	return st;
}

/* fsync a directory so that a rename into it is durable (best effort). */
static void
fsync_dir_of(const char *path)
{
	char	   *p = pgml_strdup(path);
	char	   *slash;
	int			fd;

	if (p == NULL)
		return;
	slash = strrchr(p, '/');
	if (slash != NULL && slash != p)
	{
		*slash = '\0';
		fd = open(p, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (fd >= 0)
		{
			(void) fsync(fd);
			close(fd);
		}
	}
	pgml_free(p);
}

/* Read refs/<revision>: true and the commit when it holds one. */
static bool
read_ref(const hub_ctx *ctx, char commit[HUB_COMMIT_LEN + 1])
{
	char	   *path = pgml_asprintf("%s/refs/%s", ctx->repo_dir, ctx->revision);
	char		buf[128];
	ssize_t		n = -1;
	int			fd;

	if (path == NULL)
		return false;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	pgml_free(path);
	if (fd < 0)
		return false;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return false;
	buf[n] = '\0';
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r' || buf[n - 1] == ' '))
		buf[--n] = '\0';
	if (!hub_is_commit(buf))
		return false;
	memcpy(commit, buf, HUB_COMMIT_LEN + 1);
	return true;
}

/* Write refs/<revision> = commit atomically (no newline, as huggingface_hub writes it). */
static pgml_status
write_ref(const hub_ctx *ctx, pgml_err *err)
{
	char	   *path = pgml_asprintf("%s/refs/%s", ctx->repo_dir, ctx->revision);
	char	   *tmp = tmp_name(ctx->repo_dir);
	pgml_status st = PGML_OK;
	int			fd = -1;

	if (path == NULL || tmp == NULL)
	{
		st = pgml_error(err, PGML_ERR_OUT_OF_MEMORY, "out of memory");
		goto done;
	}
	if ((st = mkdir_parent(path, err)) != PGML_OK)
		goto done;
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (fd < 0 || write(fd, ctx->commit, HUB_COMMIT_LEN) != HUB_COMMIT_LEN || close(fd) != 0)
	{
		st = pgml_error(err, PGML_ERR_IO, "could not write file \"%s\": %s", tmp, strerror(errno));
		if (fd >= 0)
			unlink(tmp);
		goto done;
	}
	if (rename(tmp, path) != 0)
	{
		st = pgml_error(err, PGML_ERR_IO, "could not rename \"%s\" to \"%s\": %s", tmp, path, strerror(errno));
		unlink(tmp);
	}

done:
	pgml_free(path);
	pgml_free(tmp);
	return st;
}

/* Take the download lock of a blob, polling the stop hook while another process holds it. */
static pgml_status
lock_blob(const hub_ctx *ctx, const char *etag, const char *file, int *fd_out, pgml_err *err)
{
	char	   *path = pgml_asprintf("%s/%s.lock", ctx->locks_dir, etag);
	pgml_status st;
	bool		told = false;
	int			fd;

	*fd_out = -1;
	if (path == NULL)
		return pgml_error(err, PGML_ERR_OUT_OF_MEMORY, "out of memory");
	if ((st = mkdir_p(ctx->locks_dir, err)) != PGML_OK)
		goto done;
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	if (fd < 0)
	{
		st = pgml_error(err, PGML_ERR_IO, "could not open lock file \"%s\": %s", path, strerror(errno));
		goto done;
	}
	for (;;)
	{
		struct timespec pause = {0, 20 * 1000 * 1000};

		if (flock(fd, LOCK_EX | LOCK_NB) == 0)
			break;
		if (errno != EWOULDBLOCK && errno != EINTR)
		{
			st = pgml_error(err, PGML_ERR_IO, "could not lock file \"%s\": %s", path, strerror(errno));
			close(fd);
			goto done;
		}
		if ((st = pgml_check_stop(err)) != PGML_OK)
		{
			close(fd);
			goto done;
		}
		if (!told)
		{
			pgml_log(PGML_LOG_DEBUG, "waiting for another download of %s %s", ctx->id, file);
			told = true;
		}
		nanosleep(&pause, NULL);
	}
	*fd_out = fd;
	st = PGML_OK;

done:
	pgml_free(path);
	return st;
}

/* Count the '/' in s. */
static int
count_slashes(const char *s)
{
	int			n = 0;

	for (; *s; s++)
		n += *s == '/';
	return n;
}

/* Make snapshots/<commit>/<file> a relative symlink to blobs/<etag>, atomically. */
static pgml_status
link_snapshot(const hub_ctx *ctx, const char *file, const char *etag, const char *snap_path, pgml_err *err)
{
	int			depth = count_slashes(file);
	size_t		tlen = (size_t) (depth + 2) * 3 + strlen("blobs/") + strlen(etag) + 1;
	char	   *target = pgml_malloc(tlen);
	char	   *tmp = tmp_name(ctx->repo_dir);
	pgml_status st = PGML_OK;
	char	   *p;

	if (target == NULL || tmp == NULL)
	{
		st = pgml_error(err, PGML_ERR_OUT_OF_MEMORY, "out of memory");
		goto done;
	}
	p = target;
	for (int i = 0; i < depth + 2; i++)
		p += sprintf(p, "../");
	sprintf(p, "blobs/%s", etag);
	if ((st = mkdir_parent(snap_path, err)) != PGML_OK)
		goto done;
	if (symlink(target, tmp) != 0)
	{
		st = pgml_error(err, PGML_ERR_IO, "could not create symbolic link \"%s\": %s", tmp, strerror(errno));
		goto done;
	}
	if (rename(tmp, snap_path) != 0)
	{
		st = pgml_error(err, PGML_ERR_IO, "could not rename \"%s\" to \"%s\": %s", tmp, snap_path, strerror(errno));
		unlink(tmp);
		goto done;
	}

done:
	pgml_free(target);
	pgml_free(tmp);
	return st;
}

/* Create the empty marker .no_exist/<commit>/<file> (best effort). */
static void
mark_missing(const hub_ctx *ctx, const char *file)
{
	char	   *path = pgml_asprintf("%s/.no_exist/%s/%s", ctx->repo_dir, ctx->commit, file);
	pgml_err	ignored;
	int			fd;

	if (path == NULL)
		return;
	if (mkdir_parent(path, &ignored) == PGML_OK)
	{
		fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
		if (fd >= 0)
			close(fd);
	}
	pgml_free(path);
}

static pgml_status
offline_error(const hub_ctx *ctx, const char *file, pgml_err *err)
{
	if (file != NULL)
		pgml_error(err, PGML_ERR_NOT_FOUND, "file \"%s\" of model \"%s\" is not in the model cache", file, ctx->id);
	else
		pgml_error(err, PGML_ERR_NOT_FOUND, "model \"%s\" (revision \"%s\") is not in the model cache", ctx->id,
				   ctx->revision);
	pgml_err_detail(err, "The cache is \"%s\".", ctx->cfg->cache_dir);
	pgml_err_hint(err, "pgml.hub_offline is on, so nothing is downloaded: turn it off, or copy the model into the cache.");
	return PGML_ERR_NOT_FOUND;
}

/* Map a failed HEAD (status >= 400) to an error. */
static pgml_status
http_status_error(const hub_ctx *ctx, const char *file, const hub_meta *m, pgml_err *err)
{
	if (m->status == 401 || m->status == 403)
	{
		pgml_error(err, PGML_ERR_NETWORK, "access to model \"%s\" was denied by the hub (HTTP %ld)", ctx->id, m->status);
		pgml_err_detail(err, "Requesting \"%s\" at revision \"%s\" from %s.", file, ctx->revision, ctx->endpoint);
		pgml_err_hint(err, "The model may be private, gated (accept its terms on the hub first) or misspelled. Set pgml.hub_token (or HF_TOKEN) to a token with access.");
		return PGML_ERR_NETWORK;
	}
	if (m->status == 404)
	{
		if (strcmp(m->error_code, "RepoNotFound") == 0)
			pgml_error(err, PGML_ERR_NOT_FOUND, "model \"%s\" does not exist on the hub", ctx->id);
		else if (strcmp(m->error_code, "RevisionNotFound") == 0)
			pgml_error(err, PGML_ERR_NOT_FOUND, "model \"%s\" has no revision \"%s\"", ctx->id, ctx->revision);
		else
			pgml_error(err, PGML_ERR_NOT_FOUND, "model \"%s\" has no file \"%s\"", ctx->id, file);
		pgml_err_detail(err, "The hub at %s answered HTTP 404 for revision \"%s\".", ctx->endpoint, ctx->revision);
		return PGML_ERR_NOT_FOUND;
	}
	pgml_error(err, PGML_ERR_NETWORK, "could not download \"%s\" of model \"%s\"", file, ctx->id);
	pgml_err_detail(err, "The hub at %s answered HTTP %ld.", ctx->endpoint, m->status);
	return PGML_ERR_NETWORK;
}

/* Download blobs/<etag> under its lock unless it is there already. */
static pgml_status
fetch_blob(hub_ctx *ctx, const char *file, const hub_meta *m, const char *blob, pgml_err *err)
{
	char	   *incomplete = NULL;
	int			lock_fd = -1;
	pgml_status st;

	if (path_exists(blob))
		return PGML_OK;
	if ((st = lock_blob(ctx, m->etag, file, &lock_fd, err)) != PGML_OK)
		return st;
	if (path_exists(blob))		/* another process finished it while we waited */
		goto done;
	incomplete = pgml_asprintf("%s.incomplete", blob);
	if (incomplete == NULL)
	{
		st = pgml_error(err, PGML_ERR_OUT_OF_MEMORY, "out of memory");
		goto done;
	}
	if ((st = mkdir_parent(blob, err)) != PGML_OK)
		goto done;
	if ((st = hub_http_download(ctx, file, m, incomplete, err)) != PGML_OK)
		goto done;
	if (rename(incomplete, blob) != 0)
	{
		st = pgml_error(err, PGML_ERR_IO, "could not rename \"%s\" to \"%s\": %s", incomplete, blob, strerror(errno));
		unlink(incomplete);
		goto done;
	}
	fsync_dir_of(blob);

done:
	if (lock_fd >= 0)
		close(lock_fd);			/* releases the flock */
	pgml_free(incomplete);
	return st;
}

/*
 * Make one file available in the snapshot. *present says whether it exists (false only for an optional
 * file the hub does not have). *changed is set when the hub reports a different commit for the revision
 * than refs/ had: the caller starts over with the new commit.
 */
static pgml_status
get_file(hub_ctx *ctx, const char *file, bool optional, bool *present, bool *changed, pgml_err *err)
{
	char	   *snap = NULL;
	char	   *blob = NULL;
	hub_meta	m;
	pgml_status st = PGML_OK;

	*present = false;
	if (ctx->have_commit)
	{
		char	   *marker;

		snap = pgml_asprintf("%s/snapshots/%s/%s", ctx->repo_dir, ctx->commit, file);
		marker = pgml_asprintf("%s/.no_exist/%s/%s", ctx->repo_dir, ctx->commit, file);
		if (snap == NULL || marker == NULL)
		{
			pgml_free(marker);
			st = pgml_error(err, PGML_ERR_OUT_OF_MEMORY, "out of memory");
			goto done;
		}
		if (path_exists(snap))
			*present = true;
		else if (optional && path_exists(marker))
			st = PGML_OK;		/* known to be absent */
		else
			st = PGML_ERR_NOT_FOUND;
		pgml_free(marker);
		if (st == PGML_OK)
			goto done;
		st = PGML_OK;
		pgml_free(snap);
		snap = NULL;
	}
	if (ctx->cfg->offline)
	{
		if (!optional)
			st = offline_error(ctx, file, err);
		goto done;
	}

	if ((st = hub_http_head(ctx, file, &m, err)) != PGML_OK)
		goto done;
	if (m.status == 404 && optional && strcmp(m.error_code, "RepoNotFound") != 0 &&
		strcmp(m.error_code, "RevisionNotFound") != 0)
	{
		if (!ctx->have_commit && m.commit[0] != '\0')
		{
			memcpy(ctx->commit, m.commit, sizeof(ctx->commit));
			ctx->have_commit = true;
		}
		if (ctx->have_commit && strcmp(m.commit, ctx->commit) == 0)
			mark_missing(ctx, file);
		goto done;
	}
	if (m.status >= 400 || m.status < 200)
	{
		st = http_status_error(ctx, file, &m, err);
		goto done;
	}
	if (m.etag_bad || m.etag[0] == '\0')
	{
		st = pgml_error(err, PGML_ERR_NETWORK, "the hub sent no usable etag for \"%s\" of model \"%s\"", file, ctx->id);
		pgml_err_detail(err, "HTTP %ld from %s; the ETag header must be a hex digest.", m.status, ctx->endpoint);
		goto done;
	}
	if (m.commit[0] == '\0')
	{
		if (!ctx->have_commit)
		{
			st = pgml_error(err, PGML_ERR_NETWORK, "the hub sent no commit for model \"%s\"", ctx->id);
			pgml_err_detail(err, "The answer for \"%s\" at revision \"%s\" has no X-Repo-Commit header.", file, ctx->revision);
			goto done;
		}
	}
	else if (!ctx->have_commit || strcmp(m.commit, ctx->commit) != 0)
	{
		if (hub_is_commit(ctx->revision))
		{
			st = pgml_error(err, PGML_ERR_NETWORK, "the hub answered with commit %s for revision %s of model \"%s\"",
							m.commit, ctx->revision, ctx->id);
			goto done;
		}
		*changed = ctx->have_commit;
		memcpy(ctx->commit, m.commit, sizeof(ctx->commit));
		ctx->have_commit = true;
		if ((st = write_ref(ctx, err)) != PGML_OK)
			goto done;
		if (*changed)
			goto done;
	}

	snap = pgml_asprintf("%s/snapshots/%s/%s", ctx->repo_dir, ctx->commit, file);
	blob = pgml_asprintf("%s/blobs/%s", ctx->repo_dir, m.etag);
	if (snap == NULL || blob == NULL)
	{
		st = pgml_error(err, PGML_ERR_OUT_OF_MEMORY, "out of memory");
		goto done;
	}
	if (path_exists(snap))
	{
		*present = true;
		goto done;
	}
	if ((st = fetch_blob(ctx, file, &m, blob, err)) != PGML_OK)
		goto done;
	if ((st = link_snapshot(ctx, file, m.etag, snap, err)) != PGML_OK)
		goto done;
	*present = true;

done:
	pgml_free(snap);
	pgml_free(blob);
	return st;
}

/* Check a shard name from an index: a plain file name in the repository's top directory. */
static bool
shard_name_ok(const char *name)
{
	pgml_err	ignored;

	return name[0] != '.' && strchr(name, '/') == NULL &&
		hub_validate_file(name, strlen(name), &ignored) == PGML_OK;
}

/* Fetch the shards listed in model.safetensors.index.json (already in the snapshot). */
static pgml_status
get_shards(hub_ctx *ctx, bool *changed, pgml_err *err)
{
	char	   *index_path = pgml_asprintf("%s/snapshots/%s/%s", ctx->repo_dir, ctx->commit, HUB_WEIGHTS_INDEX);
	json_t	   *index = NULL;
	json_t	   *map;
	const char **names = NULL;
	size_t		n_names = 0;
	const char *key;
	json_t	   *value;
	pgml_status st;

	if (index_path == NULL)
		return pgml_error(err, PGML_ERR_OUT_OF_MEMORY, "out of memory");
	if ((st = pgml_json_load_file(index_path, HUB_INDEX_MAX_BYTES, &index, err)) != PGML_OK)
		goto done;
	map = json_object_get(index, "weight_map");
	if (!json_is_object(map) || json_object_size(map) == 0)
	{
		st = pgml_error(err, PGML_ERR_CORRUPT, "%s of model \"%s\" has no weight_map", HUB_WEIGHTS_INDEX, ctx->id);
		goto done;
	}
	names = pgml_calloc(json_object_size(map), sizeof(*names));
	if (names == NULL)
	{
		st = pgml_error(err, PGML_ERR_OUT_OF_MEMORY, "out of memory");
		goto done;
	}
	json_object_foreach(map, key, value)
	{
		const char *shard = json_string_value(value);
		bool		seen = false;

		if (shard == NULL || !shard_name_ok(shard))
		{
			st = pgml_error(err, PGML_ERR_CORRUPT, "%s of model \"%s\" names an invalid shard for \"%s\"",
							HUB_WEIGHTS_INDEX, ctx->id, key);
			pgml_err_detail(err, "Shards must be plain file names in the model's directory; got \"%.100s\".",
							shard ? shard : "(not a string)");
			goto done;
		}
		for (size_t i = 0; i < n_names && !seen; i++)
			seen = strcmp(names[i], shard) == 0;
		if (!seen)
			names[n_names++] = shard;
	}
	for (size_t i = 0; i < n_names; i++)
	{
		bool		present;

		if ((st = get_file(ctx, names[i], false, &present, changed, err)) != PGML_OK || *changed)
			goto done;
	}
	st = PGML_OK;

done:
	pgml_free(names);
	json_decref(index);
	pgml_free(index_path);
	return st;
}

/* model.safetensors, or the index and its shards when the repository is sharded. */
static pgml_status
get_weights(hub_ctx *ctx, bool optional, bool *changed, pgml_err *err)
{
	bool		present;
	pgml_status st;

	if ((st = get_file(ctx, HUB_WEIGHTS, true, &present, changed, err)) != PGML_OK || *changed || present)
		return st;
	if ((st = get_file(ctx, HUB_WEIGHTS_INDEX, true, &present, changed, err)) != PGML_OK || *changed)
		return st;
	if (!present)
	{
		if (optional)
			return PGML_OK;
		if (ctx->cfg->offline)
			return offline_error(ctx, HUB_WEIGHTS, err);
		pgml_error(err, PGML_ERR_NOT_FOUND, "model \"%s\" has no file \"%s\"", ctx->id, HUB_WEIGHTS);
		pgml_err_detail(err, "Neither %s nor %s exists at revision \"%s\".", HUB_WEIGHTS, HUB_WEIGHTS_INDEX, ctx->revision);
		return PGML_ERR_NOT_FOUND;
	}
	return get_shards(ctx, changed, err);
}

static void
ctx_free(hub_ctx *ctx)
{
	pgml_free(ctx->endpoint);
	pgml_free(ctx->repo_dir);
	pgml_free(ctx->locks_dir);
}

char *
pgml_hub_default_cache_dir(void)
{
	const char *v;

	if ((v = getenv("HF_HUB_CACHE")) != NULL && v[0] != '\0')
		return pgml_strdup(v);
	if ((v = getenv("HF_HOME")) != NULL && v[0] != '\0')
		return pgml_asprintf("%s/hub", v);
	if ((v = getenv("XDG_CACHE_HOME")) != NULL && v[0] != '\0')
		return pgml_asprintf("%s/huggingface/hub", v);
	if ((v = getenv("HOME")) != NULL && v[0] != '\0')
		return pgml_asprintf("%s/.cache/huggingface/hub", v);
	return NULL;
}

pgml_status
pgml_hub_resolve(const pgml_hub_config *cfg, const char *model_id, const char *revision,
				 const char *const *files, size_t n_files, char **dir_out, pgml_err *err)
{
	hub_ctx		ctx;
	pgml_hub_config local_cfg;
	char	   *cache_owned = NULL;
	char	   *folder = NULL;
	char	   *snap_dir = NULL;
	pgml_status st;
	size_t		n;

	*dir_out = NULL;
	memset(&ctx, 0, sizeof(ctx));
	if (cfg == NULL)
		return pgml_error(err, PGML_ERR_INVALID_ARGUMENT, "hub configuration must not be NULL");
	if (model_id != NULL && model_id[0] == '/')
		return hub_check_local_dir(cfg->local_dirs, model_id, dir_out, err);
	if ((st = pgml_hub_validate_id(model_id, revision, err)) != PGML_OK)
		return st;
	for (size_t i = 0; i < n_files; i++)
	{
		n = files[i] ? strlen(files[i]) : 0;
		if (n > 0 && files[i][n - 1] == '?')
			n--;
		if ((st = hub_validate_file(files[i] ? files[i] : "", n, err)) != PGML_OK)
			return st;
	}

	local_cfg = *cfg;
	if (local_cfg.cache_dir == NULL || local_cfg.cache_dir[0] == '\0')
	{
		cache_owned = pgml_hub_default_cache_dir();
		if (cache_owned == NULL)
			return pgml_error(err, PGML_ERR_INVALID_ARGUMENT, "no model cache directory is set");
		local_cfg.cache_dir = cache_owned;
	}
	ctx.cfg = &local_cfg;
	ctx.id = model_id;
	ctx.revision = revision ? revision : HUB_DEFAULT_REVISION;
	ctx.timeout_s = cfg->timeout_s > 0 ? cfg->timeout_s : 60;
	ctx.endpoint = pgml_strdup(cfg->endpoint && cfg->endpoint[0] ? cfg->endpoint : HUB_DEFAULT_ENDPOINT);
	folder = pgml_strdup(model_id);
	if (ctx.endpoint == NULL || folder == NULL)
	{
		st = pgml_error(err, PGML_ERR_OUT_OF_MEMORY, "out of memory");
		goto done;
	}
	for (n = strlen(ctx.endpoint); n > 0 && ctx.endpoint[n - 1] == '/'; n--)
		ctx.endpoint[n - 1] = '\0';
	{
		/* models--org--name */
		char	   *slash = strchr(folder, '/');

		if (slash != NULL)
			*slash = '\0';
		ctx.repo_dir = slash ? pgml_asprintf("%s/models--%s--%s", local_cfg.cache_dir, folder, slash + 1)
			: pgml_asprintf("%s/models--%s", local_cfg.cache_dir, folder);
		ctx.locks_dir = slash ? pgml_asprintf("%s/.locks/models--%s--%s", local_cfg.cache_dir, folder, slash + 1)
			: pgml_asprintf("%s/.locks/models--%s", local_cfg.cache_dir, folder);
	}
	if (ctx.repo_dir == NULL || ctx.locks_dir == NULL)
	{
		st = pgml_error(err, PGML_ERR_OUT_OF_MEMORY, "out of memory");
		goto done;
	}

	if (hub_is_commit(ctx.revision))
	{
		memcpy(ctx.commit, ctx.revision, sizeof(ctx.commit));
		ctx.have_commit = true;
	}
	else
		ctx.have_commit = read_ref(&ctx, ctx.commit);
	if (!ctx.have_commit && cfg->offline)
	{
		st = offline_error(&ctx, NULL, err);
		goto done;
	}

	/* at most three passes: the revision may move while we look */
	for (int pass = 0; pass < 3; pass++)
	{
		bool		changed = false;

		for (size_t i = 0; i < n_files && !changed; i++)
		{
			size_t		len = strlen(files[i]);
			bool		optional = len > 0 && files[i][len - 1] == '?';
			char	   *file = pgml_strndup(files[i], optional ? len - 1 : len);
			bool		present;

			if (file == NULL)
			{
				st = pgml_error(err, PGML_ERR_OUT_OF_MEMORY, "out of memory");
				goto done;
			}
			if (strcmp(file, HUB_WEIGHTS) == 0)
				st = get_weights(&ctx, optional, &changed, err);
			else
				st = get_file(&ctx, file, optional, &present, &changed, err);
			pgml_free(file);
			if (st != PGML_OK)
				goto done;
		}
		if (!changed)
			break;
		if (pass == 2)
		{
			st = pgml_error(err, PGML_ERR_NETWORK, "revision \"%s\" of model \"%s\" kept changing during the download",
							ctx.revision, ctx.id);
			goto done;
		}
	}
	if (!ctx.have_commit)
	{
		pgml_error(err, PGML_ERR_NOT_FOUND, "model \"%s\" (revision \"%s\") has none of the requested files", ctx.id, ctx.revision);
		st = PGML_ERR_NOT_FOUND;
		goto done;
	}
	snap_dir = pgml_asprintf("%s/snapshots/%s", ctx.repo_dir, ctx.commit);
	if (snap_dir == NULL)
	{
		st = pgml_error(err, PGML_ERR_OUT_OF_MEMORY, "out of memory");
		goto done;
	}
	if (!path_exists(snap_dir))
	{
		if (cfg->offline)
		{
			st = offline_error(&ctx, NULL, err);
			goto done;
		}
		if ((st = mkdir_p(snap_dir, err)) != PGML_OK)
			goto done;
	}
	*dir_out = snap_dir;
	snap_dir = NULL;
	st = PGML_OK;

done:
	pgml_free(snap_dir);
	pgml_free(folder);
	pgml_free(cache_owned);
	ctx_free(&ctx);
	return st;
}
