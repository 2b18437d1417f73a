/*
 * Tests for the hub module: id validation, local directories, and downloads into the Hugging Face cache
 * layout from an in-process HTTP/1.1 server on 127.0.0.1 that answers the way the hub does (resolve URLs,
 * X-Repo-Commit, ETag / X-Linked-Etag, a 302 to a "CDN" path for LFS files, Range requests) and can be
 * told to misbehave (404, 401, 500, truncated or slow bodies, wrong content, ignored Range).
 */
#include "test.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "pgml/hub.h"
#include "pgml/sha256.h"

#define COMMIT "0123456789abcdef0123456789abcdef01234567"
#define MAX_FILES 8

/* ------------------------------------------------------------------------------------------------
 * The fake hub
 * ---------------------------------------------------------------------------------------------- */

typedef struct fh_file
{
	char		path[128];
	char	   *data;
	size_t		len;
	bool		lfs;
	char		sha[65];		/* sha256 hex of data */
	char		etag[80];		/* the header value as sent */
	char		blob[65];		/* the blob name the client must use */
} fh_file;

typedef struct fake_hub
{
	int			fd;
	int			port;
	pthread_t	thread;
	atomic_bool stop;
	atomic_int	active;
	char		repo[64];
	fh_file		files[MAX_FILES];
	int			n_files;
	/* misbehaviours */
	char		fail_path[128];
	int			fail_status;
	char		truncate_path[128];
	size_t		truncate_at;
	atomic_int	truncate_left;
	char		slow_path[128];
	int			slow_ms;
	char		corrupt_path[128];
	bool		ignore_range;
	int			lfs_delay_ms;
	char		redirect_host[32];
	bool		evil_etag;		/* send an etag that is a path */
	/* what it saw */
	atomic_int	gets[MAX_FILES];
	atomic_int	heads;
	atomic_int	range_requests;
	atomic_llong last_range_start;
	atomic_int	auth_resolve;	/* requests to /resolve/ with the expected Authorization */
	atomic_int	auth_cdn;		/* requests to /cdn/ with any Authorization */
	atomic_int	bad_agent;
} fake_hub;

static void
sleep_ms(int ms)
{
	struct timespec ts = {ms / 1000, (long) (ms % 1000) * 1000000L};

	nanosleep(&ts, NULL);
}

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
}

static void
fh_add(fake_hub *h, const char *path, const char *data, size_t len, bool lfs)
{
	fh_file    *f = &h->files[h->n_files++];
	uint8_t		d[32];
	char		sha[65];

	snprintf(f->path, sizeof(f->path), "%s", path);
	f->data = malloc(len ? len : 1);
	memcpy(f->data, data, len);
	f->len = len;
	f->lfs = lfs;
	pgml_sha256(data, len, d);
	pgml_sha256_hex(d, sha);
	memcpy(f->sha, sha, sizeof(sha));
	if (lfs)
	{
		snprintf(f->etag, sizeof(f->etag), "\"%s\"", sha);
		snprintf(f->blob, sizeof(f->blob), "%s", sha);
	}
	else
	{
		/* a git blob sha1 looks like 40 hex digits; the real hub may mark it weak */
		snprintf(f->etag, sizeof(f->etag), "W/\"%.40s\"", sha);
		snprintf(f->blob, sizeof(f->blob), "%.40s", sha);
	}
}

static void
fh_add_str(fake_hub *h, const char *path, const char *text)
{
	fh_add(h, path, text, strlen(text), false);
}

/* An LFS file of n pseudo-random bytes. */
static void
fh_add_lfs(fake_hub *h, const char *path, size_t n, unsigned seed)
{
	char	   *buf = malloc(n);

	for (size_t i = 0; i < n; i++)
	{
		seed = seed * 1103515245u + 12345u;
		buf[i] = (char) (seed >> 16);
	}
	fh_add(h, path, buf, n, true);
	free(buf);
}

static fh_file *
fh_find(fake_hub *h, const char *path)
{
	for (int i = 0; i < h->n_files; i++)
		if (strcmp(h->files[i].path, path) == 0)
			return &h->files[i];
	return NULL;
}

static bool
send_all(int fd, const void *buf, size_t n)
{
	const char *p = buf;

	while (n > 0)
	{
		ssize_t		w = send(fd, p, n, MSG_NOSIGNAL);

		if (w <= 0)
			return false;
		p += w;
		n -= (size_t) w;
	}
	return true;
}

static void
send_head(int fd, int status, const char *reason, const char *extra, long long content_length)
{
	char		buf[2048];
	int			n = snprintf(buf, sizeof(buf), "HTTP/1.1 %d %s\r\n%sContent-Length: %lld\r\nConnection: close\r\n\r\n",
							 status, reason, extra, content_length);

	send_all(fd, buf, (size_t) n);
}

/* Sleep ms in small steps; false when the server is stopping. */
static bool
fh_nap(fake_hub *h, int ms)
{
	for (int t = 0; t < ms; t += 10)
	{
		if (atomic_load(&h->stop))
			return false;
		sleep_ms(10);
	}
	return true;
}

/* Serve the content of f (GET or HEAD), with Range support and the misbehaviours that apply. */
static void
serve_body(fake_hub *h, int fd, fh_file *f, bool head, long long range_start, const char *extra_in)
{
	char		extra[1024];
	long long	start = 0;
	const char *data = f->data;
	char	   *corrupt = NULL;
	int			idx = (int) (f - h->files);

	snprintf(extra, sizeof(extra), "%sETag: %s\r\nAccept-Ranges: bytes\r\n", extra_in,
			 h->evil_etag ? "\"../../../evil\"" : f->etag);
	if (head)
	{
		send_head(fd, 200, "OK", extra, (long long) f->len);
		return;
	}
	atomic_fetch_add(&h->gets[idx], 1);
	if (range_start >= 0)
	{
		atomic_fetch_add(&h->range_requests, 1);
		atomic_store(&h->last_range_start, range_start);
	}
	if (strcmp(h->corrupt_path, f->path) == 0)
	{
		corrupt = malloc(f->len);
		memcpy(corrupt, f->data, f->len);
		corrupt[f->len / 2] ^= 0x55;
		data = corrupt;
	}
	if (f->lfs && h->lfs_delay_ms > 0)
		fh_nap(h, h->lfs_delay_ms);
	if (range_start >= 0 && !h->ignore_range)
	{
		char		cr[128];

		if ((size_t) range_start >= f->len)
		{
			snprintf(cr, sizeof(cr), "Content-Range: bytes */%zu\r\n", f->len);
			send_head(fd, 416, "Range Not Satisfiable", cr, 0);
			free(corrupt);
			return;
		}
		start = range_start;
		snprintf(cr, sizeof(cr), "Content-Range: bytes %lld-%zu/%zu\r\n", start, f->len - 1, f->len);
		strncat(extra, cr, sizeof(extra) - strlen(extra) - 1);
		send_head(fd, 206, "Partial Content", extra, (long long) f->len - start);
	}
	else
		send_head(fd, 200, "OK", extra, (long long) f->len);

	if (strcmp(h->truncate_path, f->path) == 0 && atomic_load(&h->truncate_left) > 0)
	{
		atomic_fetch_sub(&h->truncate_left, 1);
		send_all(fd, data + start, h->truncate_at);
		free(corrupt);
		return;					/* and close: fewer bytes than Content-Length */
	}
	if (strcmp(h->slow_path, f->path) == 0)
	{
		send_all(fd, data + start, 1);
		if (!fh_nap(h, h->slow_ms))
		{
			free(corrupt);
			return;
		}
		start++;
	}
	send_all(fd, data + start, f->len - (size_t) start);
	free(corrupt);
}

/* Value of header `name` in the request head, or NULL. Copies into out. */
static const char *
req_header(const char *req, const char *name, char *out, size_t size)
{
	size_t		n = strlen(name);

	for (const char *p = strstr(req, "\r\n"); p != NULL; p = strstr(p + 2, "\r\n"))
	{
		const char *line = p + 2;

		if (strncasecmp(line, name, n) == 0 && line[n] == ':')
		{
			const char *v = line + n + 1;
			const char *end = strstr(v, "\r\n");
			size_t		len;

			while (*v == ' ')
				v++;
			len = end ? (size_t) (end - v) : strlen(v);
			if (len >= size)
				len = size - 1;
			memcpy(out, v, len);
			out[len] = '\0';
			return out;
		}
	}
	return NULL;
}

typedef struct conn_arg
{
	fake_hub   *h;
	int			fd;
} conn_arg;

static void
handle(fake_hub *h, int fd)
{
	char		req[8192];
	size_t		got = 0;
	char		method[16],
				path[1024],
				hv[256];
	long long	range_start = -1;
	bool		head;
	char		prefix[128];
	char		extra[512];

	while (got < sizeof(req) - 1)
	{
		ssize_t		r = recv(fd, req + got, sizeof(req) - 1 - got, 0);

		if (r <= 0)
			return;
		got += (size_t) r;
		req[got] = '\0';
		if (strstr(req, "\r\n\r\n") != NULL)
			break;
	}
	if (sscanf(req, "%15s %1023s", method, path) != 2)
		return;
	head = strcmp(method, "HEAD") == 0;
	if (head)
		atomic_fetch_add(&h->heads, 1);
	if (req_header(req, "Range", hv, sizeof(hv)) != NULL && strncmp(hv, "bytes=", 6) == 0)
		range_start = atoll(hv + 6);
	if (req_header(req, "User-Agent", hv, sizeof(hv)) == NULL || strncmp(hv, "pgml/", 5) != 0)
		atomic_fetch_add(&h->bad_agent, 1);

	if (strncmp(path, "/cdn/", 5) == 0)
	{
		if (req_header(req, "Authorization", hv, sizeof(hv)) != NULL)
			atomic_fetch_add(&h->auth_cdn, 1);
		for (int i = 0; i < h->n_files; i++)
			if (h->files[i].lfs && strcmp(h->files[i].sha, path + 5) == 0)
			{
				serve_body(h, fd, &h->files[i], head, range_start, "");
				return;
			}
		send_head(fd, 404, "Not Found", "", 0);
		return;
	}
	snprintf(prefix, sizeof(prefix), "/%s/resolve/", h->repo);
	if (strncmp(path, prefix, strlen(prefix)) == 0)
	{
		const char *rev = path + strlen(prefix);
		const char *slash = strchr(rev, '/');
		const char *file = slash ? slash + 1 : "";
		fh_file    *f;

		if (req_header(req, "Authorization", hv, sizeof(hv)) != NULL && strcmp(hv, "Bearer sekrit") == 0)
			atomic_fetch_add(&h->auth_resolve, 1);
		/* "main", the commit, or the pull-request ref "refs/pr/1" (URL-encoded as one segment) */
		if (slash == NULL || !((slash - rev == 4 && strncmp(rev, "main", 4) == 0) ||
							   (slash - rev == 40 && strncmp(rev, COMMIT, 40) == 0) ||
							   (slash - rev == 13 && strncmp(rev, "refs%2Fpr%2F1", 13) == 0)))
		{
			send_head(fd, 404, "Not Found", "X-Error-Code: RevisionNotFound\r\n", 0);
			return;
		}
		if (h->fail_status != 0 && strcmp(file, h->fail_path) == 0)
		{
			snprintf(extra, sizeof(extra), "X-Repo-Commit: %s\r\n%s", COMMIT,
					 h->fail_status == 404 ? "X-Error-Code: EntryNotFound\r\n" : "");
			send_head(fd, h->fail_status, "Failing", extra, 0);
			return;
		}
		f = fh_find(h, file);
		if (f == NULL)
		{
			snprintf(extra, sizeof(extra), "X-Repo-Commit: %s\r\nX-Error-Code: EntryNotFound\r\n", COMMIT);
			send_head(fd, 404, "Not Found", extra, 0);
			return;
		}
		if (f->lfs)
		{
			snprintf(extra, sizeof(extra),
					 "X-Repo-Commit: %s\r\nX-Linked-Etag: %s\r\nX-Linked-Size: %zu\r\nLocation: http://%s:%d/cdn/%s\r\n",
					 COMMIT, f->etag, f->len, h->redirect_host, h->port, f->sha);
			send_head(fd, 302, "Found", extra, 0);
			return;
		}
		snprintf(extra, sizeof(extra), "X-Repo-Commit: %s\r\n", COMMIT);
		serve_body(h, fd, f, head, range_start, extra);
		return;
	}
	send_head(fd, 404, "Not Found", "X-Error-Code: RepoNotFound\r\n", 0);
}

static void *
conn_main(void *p)
{
	conn_arg   *a = p;
	fake_hub   *h = a->h;

	handle(h, a->fd);
	shutdown(a->fd, SHUT_RDWR);
	close(a->fd);
	free(a);
	atomic_fetch_sub(&h->active, 1);
	return NULL;
}

static void *
accept_main(void *p)
{
	fake_hub   *h = p;

	while (!atomic_load(&h->stop))
	{
		struct pollfd pfd = {h->fd, POLLIN, 0};
		int			c;
		conn_arg   *a;
		pthread_t	t;
		struct timeval tv = {3, 0};

		if (poll(&pfd, 1, 20) <= 0)
			continue;
		c = accept(h->fd, NULL, NULL);
		if (c < 0)
			continue;
		setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
		a = malloc(sizeof(*a));
		a->h = h;
		a->fd = c;
		atomic_fetch_add(&h->active, 1);
		if (pthread_create(&t, NULL, conn_main, a) != 0)
		{
			close(c);
			free(a);
			atomic_fetch_sub(&h->active, 1);
			continue;
		}
		pthread_detach(t);
	}
	return NULL;
}

static fake_hub *
fh_new(const char *repo)
{
	fake_hub   *h = calloc(1, sizeof(*h));
	struct sockaddr_in addr;
	socklen_t	len = sizeof(addr);
	int			one = 1;

	snprintf(h->repo, sizeof(h->repo), "%s", repo);
	snprintf(h->redirect_host, sizeof(h->redirect_host), "127.0.0.1");
	h->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	setsockopt(h->fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	memset(&addr, 0, sizeof(addr));
	addr.sin_family = AF_INET;
	addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	addr.sin_port = 0;
	if (bind(h->fd, (struct sockaddr *) &addr, sizeof(addr)) != 0 || listen(h->fd, 64) != 0)
	{
		close(h->fd);
		free(h);
		return NULL;
	}
	getsockname(h->fd, (struct sockaddr *) &addr, &len);
	h->port = ntohs(addr.sin_port);
	return h;
}

static void
fh_start(fake_hub *h)
{
	pthread_create(&h->thread, NULL, accept_main, h);
}

/* Stop serving: afterwards nothing listens on the port. */
static void
fh_stop(fake_hub *h)
{
	if (h->fd < 0)
		return;
	atomic_store(&h->stop, true);
	pthread_join(h->thread, NULL);
	while (atomic_load(&h->active) > 0)
		sleep_ms(2);
	close(h->fd);
	h->fd = -1;
}

static void
fh_free(fake_hub *h)
{
	if (h == NULL)
		return;
	fh_stop(h);
	for (int i = 0; i < h->n_files; i++)
		free(h->files[i].data);
	free(h);
}

/* ------------------------------------------------------------------------------------------------
 * Helpers
 * ---------------------------------------------------------------------------------------------- */

static int
rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void) st;
	(void) flag;
	(void) ftw;
	remove(path);
	return 0;
}

static void
rm_rf(const char *path)
{
	nftw(path, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static char *
make_tmpdir(void)
{
	char		tmpl[] = "/tmp/pgml_hub_XXXXXX";
	char	   *d = mkdtemp(tmpl);

	return d ? strdup(d) : NULL;
}

typedef struct env
{
	char	   *tmp;
	char		cache[PATH_MAX];
	char		endpoint[64];
	pgml_hub_config cfg;
	fake_hub   *hub;
} env;

/* A temp dir with a cache below it and a started fake hub serving org/tiny. */
static bool
env_init(env *e, const char *repo)
{
	memset(e, 0, sizeof(*e));
	e->tmp = make_tmpdir();
	e->hub = fh_new(repo);
	if (e->tmp == NULL || e->hub == NULL)
		return false;
	snprintf(e->cache, sizeof(e->cache), "%s/hub", e->tmp);
	snprintf(e->endpoint, sizeof(e->endpoint), "http://127.0.0.1:%d/", e->hub->port);
	e->cfg.cache_dir = e->cache;
	e->cfg.endpoint = e->endpoint;
	e->cfg.timeout_s = 10;
	return true;
}

static void
env_free(env *e)
{
	fh_free(e->hub);
	if (e->tmp)
	{
		rm_rf(e->tmp);
		free(e->tmp);
	}
}

static void
tiny_repo(fake_hub *h)
{
	fh_add_str(h, "config.json", "{\"model_type\": \"bert\", \"hidden_size\": 32}");
	fh_add_str(h, "tokenizer.json", "{\"version\": \"1.0\", \"model\": {}}");
	fh_add_str(h, "1_Pooling/config.json", "{\"pooling_mode_mean_tokens\": true}");
	fh_add_lfs(h, "model.safetensors", 300000, 7);
}

static char *
cache_path(const env *e, const char *fmt, const char *a)
{
	static char buf[PATH_MAX * 2];

	snprintf(buf, sizeof(buf), "%s/models--org--tiny/", e->cache);
	snprintf(buf + strlen(buf), sizeof(buf) - strlen(buf), fmt, a);
	return buf;
}

static long long
file_size(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 ? (long long) st.st_size : -1;
}

static bool
is_symlink(const char *path)
{
	struct stat st;

	return lstat(path, &st) == 0 && S_ISLNK(st.st_mode);
}

/* Whether the file at path has exactly f's content. */
static bool
same_content(const char *path, const fh_file *f)
{
	FILE	   *fp = fopen(path, "rb");
	char	   *buf;
	size_t		n;
	bool		ok;

	if (fp == NULL)
		return false;
	buf = malloc(f->len + 1);
	n = fread(buf, 1, f->len + 1, fp);
	fclose(fp);
	ok = n == f->len && memcmp(buf, f->data, f->len) == 0;
	free(buf);
	return ok;
}

static int
count_entries(const char *dir)
{
	char		cmd[PATH_MAX + 64];
	FILE	   *p;
	int			n = -1;

	snprintf(cmd, sizeof(cmd), "ls -A '%s' 2>/dev/null | wc -l", dir);
	p = popen(cmd, "r");
	if (p == NULL)
		return -1;
	if (fscanf(p, "%d", &n) != 1)
		n = -1;
	pclose(p);
	return n;
}

/* ------------------------------------------------------------------------------------------------
 * Log capture
 * ---------------------------------------------------------------------------------------------- */

static pthread_mutex_t log_mu = PTHREAD_MUTEX_INITIALIZER;
static char log_text[8192];

static void
capture_log(pgml_log_level level, const char *msg, void *state)
{
	(void) state;
	if (level < PGML_LOG_NOTICE)
		return;
	pthread_mutex_lock(&log_mu);
	strncat(log_text, msg, sizeof(log_text) - strlen(log_text) - 2);
	strcat(log_text, "\n");
	pthread_mutex_unlock(&log_mu);
}

/* ------------------------------------------------------------------------------------------------
 * Tests
 * ---------------------------------------------------------------------------------------------- */

TEST(hub_validate_ids)
{
	static const char *good[] = {
		"bert-base-uncased", "intfloat/e5-small-v2", "sentence-transformers/all-MiniLM-L6-v2",
		"org/name.v1", "a_b/c-d", "Org_1/Model.2_x", "a", NULL
	};
	static const char *bad[] = {
		"", "../x", "a/../../b", "/etc", "/etc/passwd", "a//b", "a/b/c", "a/", "/a", ".hidden/x",
		"-x/y", "x/y-", "a/..", "..", ".", "a b", "a\\b", "a--b/c", "a/b..c", "org/na\nme", "org/na%2fme",
		"~/x", NULL
	};
	static const char *good_rev[] = {"main", "v1.0", "refs/pr/1", COMMIT, "release_2024-01", NULL};
	static const char *bad_rev[] = {"", "../main", "a b", "/x", "x/", "x//y", "a/../b", ".x", "-x", "x\ny",
	"a?b", NULL};
	char		longpart[200];
	char		longid[420];
	char		longrev[300];
	pgml_err	err;

	for (int i = 0; good[i]; i++)
		if (pgml_hub_validate_id(good[i], NULL, &err) != PGML_OK)
			test_fail(__FILE__, __LINE__, "good id \"%s\" rejected: %s", good[i], err.msg);
	for (int i = 0; bad[i]; i++)
		if (pgml_hub_validate_id(bad[i], NULL, &err) != PGML_ERR_INVALID_ARGUMENT)
			test_fail(__FILE__, __LINE__, "bad id \"%s\" accepted", bad[i]);
	for (int i = 0; good_rev[i]; i++)
		if (pgml_hub_validate_id("org/name", good_rev[i], &err) != PGML_OK)
			test_fail(__FILE__, __LINE__, "good revision \"%s\" rejected: %s", good_rev[i], err.msg);
	for (int i = 0; bad_rev[i]; i++)
		if (pgml_hub_validate_id("org/name", bad_rev[i], &err) != PGML_ERR_INVALID_ARGUMENT)
			test_fail(__FILE__, __LINE__, "bad revision \"%s\" accepted", bad_rev[i]);

	/* 96 characters per part is the limit */
	memset(longpart, 'a', 96);
	longpart[96] = '\0';
	snprintf(longid, sizeof(longid), "%s/%s", longpart, longpart);
	CHECK_INT(pgml_hub_validate_id(longid, NULL, &err), PGML_OK);
	longpart[96] = 'a';
	longpart[97] = '\0';
	snprintf(longid, sizeof(longid), "org/%s", longpart);
	CHECK_INT(pgml_hub_validate_id(longid, NULL, &err), PGML_ERR_INVALID_ARGUMENT);
	CHECK(strstr(err.msg, "invalid model id") != NULL);
	memset(longrev, 'r', 256);
	longrev[256] = '\0';
	CHECK_INT(pgml_hub_validate_id("org/name", longrev, &err), PGML_ERR_INVALID_ARGUMENT);
	CHECK_INT(pgml_hub_validate_id(NULL, NULL, &err), PGML_ERR_INVALID_ARGUMENT);
	CHECK_INT(pgml_hub_validate_id("/etc", NULL, &err), PGML_ERR_INVALID_ARGUMENT);
	CHECK(strstr(err.hint, "pgml.model_dirs") != NULL);
}

TEST(hub_rejects_bad_file_names)
{
	pgml_hub_config cfg = {.cache_dir = "/nonexistent/cache", .endpoint = "http://127.0.0.1:9", .offline = true};
	static const char *bad[] = {"../config.json", "a/../../b", "/etc/passwd", "a//b", "./x", "", "x\\y", "dir/",
	"?", NULL};
	char	   *dir = NULL;
	pgml_err	err;

	for (int i = 0; bad[i]; i++)
	{
		const char *files[] = {bad[i]};

		if (pgml_hub_resolve(&cfg, "org/tiny", NULL, files, 1, &dir, &err) != PGML_ERR_INVALID_ARGUMENT)
			test_fail(__FILE__, __LINE__, "bad file name \"%s\" accepted", bad[i]);
		CHECK(dir == NULL);
	}
}

TEST(hub_download_creates_cache_layout)
{
	env			e;
	const char *files[] = {"config.json", "tokenizer.json", "1_Pooling/config.json", "model.safetensors",
	"missing.txt?"};
	char	   *dir = NULL;
	char		expect[PATH_MAX * 2];
	char		link[PATH_MAX];
	ssize_t		n;
	pgml_err	err;
	fake_hub   *h;

	REQUIRE(env_init(&e, "org/tiny"));
	h = e.hub;
	tiny_repo(h);
	/* the CDN lives on another host name: the token must not travel there */
	snprintf(h->redirect_host, sizeof(h->redirect_host), "localhost");
	fh_start(h);
	e.cfg.token = "sekrit";
	log_text[0] = '\0';
	pgml_set_log_hook(capture_log, NULL);
	pgml_hub_set_progress_interval(0);

	CHECK_INT(pgml_hub_resolve(&e.cfg, "org/tiny", NULL, files, 5, &dir, &err), PGML_OK);
	pgml_hub_set_progress_interval(5);
	pgml_set_log_hook(NULL, NULL);
	if (dir == NULL)
		test_fail(__FILE__, __LINE__, "%s: %s", err.msg, err.detail);
	REQUIRE(dir != NULL);
	snprintf(expect, sizeof(expect), "%s/models--org--tiny/snapshots/%s", e.cache, COMMIT);
	CHECK_STR(dir, expect);

	/* refs/main holds the commit, without a newline */
	{
		FILE	   *fp = fopen(cache_path(&e, "refs/%s", "main"), "r");
		char		buf[64] = {0};

		REQUIRE(fp != NULL);
		CHECK(fread(buf, 1, sizeof(buf) - 1, fp) == 40);
		fclose(fp);
		CHECK_STR(buf, COMMIT);
	}
	/* blobs named by etag, snapshot files are relative symlinks to them */
	for (int i = 0; i < h->n_files; i++)
	{
		fh_file    *f = &h->files[i];
		char		snap[PATH_MAX * 2];
		char		target[PATH_MAX];
		bool		nested = strchr(f->path, '/') != NULL;

		CHECK_INT(file_size(cache_path(&e, "blobs/%s", f->blob)), f->len);
		snprintf(snap, sizeof(snap), "%s/%s", dir, f->path);
		CHECK(is_symlink(snap));
		n = readlink(snap, link, sizeof(link) - 1);
		REQUIRE(n > 0);
		link[n] = '\0';
		snprintf(target, sizeof(target), "%s../../blobs/%s", nested ? "../" : "", f->blob);
		CHECK_STR(link, target);
		CHECK(same_content(snap, f));
		CHECK_INT(atomic_load(&h->gets[i]), 1);
	}
	CHECK(strlen(h->files[3].blob) == 64);
	CHECK(strlen(h->files[0].blob) == 40);
	/* no temporary files anywhere in the repository folder */
	CHECK_INT(count_entries(cache_path(&e, "%s", "")), 4);	/* blobs refs snapshots .no_exist, nothing else */
	CHECK_INT(count_entries(cache_path(&e, "%s", "blobs")), 4);
	/* the optional file is absent, and remembered as such */
	snprintf(expect, sizeof(expect), "%s/missing.txt", dir);
	CHECK(!is_symlink(expect));
	CHECK(file_size(cache_path(&e, ".no_exist/" COMMIT "/%s", "missing.txt")) == 0);
	/* the lock files live where huggingface_hub keeps them */
	snprintf(expect, sizeof(expect), "%s/.locks/models--org--tiny/%s.lock", e.cache, h->files[3].blob);
	CHECK(file_size(expect) >= 0);
	/* token sent to the hub, not to the CDN host; user agent pgml/<version> */
	CHECK(atomic_load(&h->auth_resolve) >= 4);
	CHECK_INT(atomic_load(&h->auth_cdn), 0);
	CHECK_INT(atomic_load(&h->bad_agent), 0);
	/* progress notices name the model, the file and the sizes */
	CHECK(strstr(log_text, "downloading org/tiny model.safetensors: ") != NULL);
	CHECK(strstr(log_text, " of 300 kB") != NULL);
	free(dir);
	dir = NULL;

	/* the second resolve uses the cache: the server is gone */
	fh_stop(h);
	CHECK_INT(pgml_hub_resolve(&e.cfg, "org/tiny", NULL, files, 5, &dir, &err), PGML_OK);
	CHECK(dir != NULL && strstr(dir, COMMIT) != NULL);
	free(dir);
	dir = NULL;
	/* by commit, too */
	CHECK_INT(pgml_hub_resolve(&e.cfg, "org/tiny", COMMIT, files, 5, &dir, &err), PGML_OK);
	free(dir);
	dir = NULL;
	/* offline with everything cached */
	e.cfg.offline = true;
	CHECK_INT(pgml_hub_resolve(&e.cfg, "org/tiny", "main", files, 5, &dir, &err), PGML_OK);
	free(dir);
	dir = NULL;
	/* offline, a file that is not cached */
	{
		const char *more[] = {"config.json", "vocab.txt"};

		CHECK_INT(pgml_hub_resolve(&e.cfg, "org/tiny", NULL, more, 2, &dir, &err), PGML_ERR_NOT_FOUND);
		CHECK(strstr(err.msg, "vocab.txt") != NULL);
		CHECK(strstr(err.hint, "pgml.hub_offline") != NULL);
	}
	/* offline, a model that is not cached */
	CHECK_INT(pgml_hub_resolve(&e.cfg, "org/other", NULL, files, 1, &dir, &err), PGML_ERR_NOT_FOUND);
	CHECK(strstr(err.msg, "org/other") != NULL);
	CHECK(strstr(err.hint, "pgml.hub_offline") != NULL);
	CHECK(dir == NULL);
	/* online but unreachable: a network error with curl's words in the detail */
	e.cfg.offline = false;
	CHECK_INT(pgml_hub_resolve(&e.cfg, "org/other", NULL, files, 1, &dir, &err), PGML_ERR_NETWORK);
	CHECK(err.detail[0] != '\0');
	env_free(&e);
}

TEST(hub_http_errors)
{
	env			e;
	const char *files[] = {"config.json", "tokenizer.json"};
	char	   *dir = NULL;
	pgml_err	err;
	char		snap[PATH_MAX * 2];

	REQUIRE(env_init(&e, "org/tiny"));
	tiny_repo(e.hub);
	fh_start(e.hub);

	/* 404 of a required file */
	snprintf(e.hub->fail_path, sizeof(e.hub->fail_path), "tokenizer.json");
	e.hub->fail_status = 404;
	CHECK_INT(pgml_hub_resolve(&e.cfg, "org/tiny", NULL, files, 2, &dir, &err), PGML_ERR_NOT_FOUND);
	CHECK(strstr(err.msg, "tokenizer.json") != NULL && strstr(err.msg, "org/tiny") != NULL);
	CHECK(dir == NULL);
	snprintf(snap, sizeof(snap), "%s/models--org--tiny/snapshots/%s/tokenizer.json", e.cache, COMMIT);
	CHECK(!is_symlink(snap));
	/* ... that is fine when optional */
	{
		const char *opt[] = {"config.json", "tokenizer.json?"};

		CHECK_INT(pgml_hub_resolve(&e.cfg, "org/tiny", NULL, opt, 2, &dir, &err), PGML_OK);
		free(dir);
		dir = NULL;
	}
	/* 401: gated or private */
	e.hub->fail_status = 401;
	CHECK_INT(pgml_hub_resolve(&e.cfg, "org/tiny", NULL, files, 2, &dir, &err), PGML_ERR_NETWORK);
	CHECK(strstr(err.hint, "pgml.hub_token") != NULL);
	CHECK(strstr(err.msg, "401") != NULL);
	e.hub->fail_status = 403;
	CHECK_INT(pgml_hub_resolve(&e.cfg, "org/tiny", NULL, files, 2, &dir, &err), PGML_ERR_NETWORK);
	CHECK(strstr(err.hint, "gated") != NULL);
	/* 5xx */
	e.hub->fail_status = 503;
	CHECK_INT(pgml_hub_resolve(&e.cfg, "org/tiny", NULL, files, 2, &dir, &err), PGML_ERR_NETWORK);
	CHECK(strstr(err.detail, "503") != NULL);
	CHECK(!is_symlink(snap));
	/* unknown repository and revision */
	CHECK_INT(pgml_hub_resolve(&e.cfg, "org/nope", NULL, files, 1, &dir, &err), PGML_ERR_NOT_FOUND);
	CHECK(strstr(err.msg, "does not exist") != NULL);
	CHECK_INT(pgml_hub_resolve(&e.cfg, "org/tiny", "v9", files, 1, &dir, &err), PGML_ERR_NOT_FOUND);
	CHECK(strstr(err.msg, "v9") != NULL);
	CHECK(dir == NULL);
	env_free(&e);
}

TEST(hub_truncated_download_resumes)
{
	env			e;
	const char *files[] = {"config.json", "model.safetensors"};
	char	   *dir = NULL;
	pgml_err	err;
	fh_file    *w;
	char		path[PATH_MAX * 2];

	REQUIRE(env_init(&e, "org/tiny"));
	tiny_repo(e.hub);
	w = fh_find(e.hub, "model.safetensors");
	snprintf(e.hub->truncate_path, sizeof(e.hub->truncate_path), "model.safetensors");
	e.hub->truncate_at = 120000;
	atomic_store(&e.hub->truncate_left, 1);
	fh_start(e.hub);

	CHECK_INT(pgml_hub_resolve(&e.cfg, "org/tiny", NULL, files, 2, &dir, &err), PGML_ERR_NETWORK);
	CHECK(dir == NULL);
	CHECK(err.detail[0] != '\0');
	/* the partial file is kept for the next attempt; nothing in the snapshot */
	snprintf(path, sizeof(path), "%s/models--org--tiny/blobs/%s.incomplete", e.cache, w->blob);
	CHECK_INT(file_size(path), 120000);
	snprintf(path, sizeof(path), "%s/models--org--tiny/snapshots/%s/model.safetensors", e.cache, COMMIT);
	CHECK(!is_symlink(path));

	CHECK_INT(pgml_hub_resolve(&e.cfg, "org/tiny", NULL, files, 2, &dir, &err), PGML_OK);
	REQUIRE(dir != NULL);
	CHECK_INT(atomic_load(&e.hub->range_requests), 1);
	CHECK_INT(atomic_load(&e.hub->last_range_start), 120000);
	CHECK(same_content(path, w));
	snprintf(path, sizeof(path), "%s/models--org--tiny/blobs/%s.incomplete", e.cache, w->blob);
	CHECK_INT(file_size(path), -1);
	free(dir);
	env_free(&e);
}

TEST(hub_resume_restarts_when_range_ignored)
{
	env			e;
	const char *files[] = {"model.safetensors"};
	char	   *dir = NULL;
	pgml_err	err;
	fh_file    *w;
	char		path[PATH_MAX * 2];
	FILE	   *fp;

	REQUIRE(env_init(&e, "org/tiny"));
	tiny_repo(e.hub);
	w = fh_find(e.hub, "model.safetensors");
	e.hub->ignore_range = true;
	fh_start(e.hub);
	/* a leftover with wrong bytes */
	snprintf(path, sizeof(path), "%s/models--org--tiny/blobs", e.cache);
	snprintf(path, sizeof(path), "mkdir -p '%s/models--org--tiny/blobs'", e.cache);
	CHECK(system(path) == 0);
	snprintf(path, sizeof(path), "%s/models--org--tiny/blobs/%s.incomplete", e.cache, w->blob);
	fp = fopen(path, "wb");
	REQUIRE(fp != NULL);
	fwrite("garbage garbage", 1, 15, fp);
	fclose(fp);

	CHECK_INT(pgml_hub_resolve(&e.cfg, "org/tiny", NULL, files, 1, &dir, &err), PGML_OK);
	if (dir == NULL)
		test_fail(__FILE__, __LINE__, "%s: %s", err.msg, err.detail);
	CHECK_INT(atomic_load(&e.hub->range_requests), 1);
	snprintf(path, sizeof(path), "%s/models--org--tiny/blobs/%s", e.cache, w->blob);
	CHECK(same_content(path, w));
	free(dir);
	env_free(&e);
}

TEST(hub_corrupt_download_is_rejected)
{
	env			e;
	const char *files[] = {"config.json", "model.safetensors"};
	char	   *dir = NULL;
	pgml_err	err;
	fh_file    *w;
	char		path[PATH_MAX * 2];

	REQUIRE(env_init(&e, "org/tiny"));
	tiny_repo(e.hub);
	w = fh_find(e.hub, "model.safetensors");
	snprintf(e.hub->corrupt_path, sizeof(e.hub->corrupt_path), "model.safetensors");
	fh_start(e.hub);

	CHECK_INT(pgml_hub_resolve(&e.cfg, "org/tiny", NULL, files, 2, &dir, &err), PGML_ERR_CORRUPT);
	CHECK(dir == NULL);
	CHECK(strstr(err.msg, "checksum") != NULL);
	CHECK(strstr(err.detail, w->sha) != NULL);
	snprintf(path, sizeof(path), "%s/models--org--tiny/snapshots/%s/model.safetensors", e.cache, COMMIT);
	CHECK(!is_symlink(path));
	snprintf(path, sizeof(path), "%s/models--org--tiny/blobs/%s", e.cache, w->blob);
	CHECK_INT(file_size(path), -1);
	snprintf(path, sizeof(path), "%s/models--org--tiny/blobs/%s.incomplete", e.cache, w->blob);
	CHECK_INT(file_size(path), -1);
	env_free(&e);
}

TEST(hub_slow_download_times_out)
{
	env			e;
	const char *files[] = {"model.safetensors"};
	char	   *dir = NULL;
	pgml_err	err;
	double		t0;

	REQUIRE(env_init(&e, "org/tiny"));
	tiny_repo(e.hub);
	snprintf(e.hub->slow_path, sizeof(e.hub->slow_path), "model.safetensors");
	e.hub->slow_ms = 5000;
	fh_start(e.hub);
	e.cfg.timeout_s = 1;
	t0 = now_s();
	CHECK_INT(pgml_hub_resolve(&e.cfg, "org/tiny", NULL, files, 1, &dir, &err), PGML_ERR_NETWORK);
	CHECK(now_s() - t0 < 4.0);
	CHECK(dir == NULL);
	CHECK(err.detail[0] != '\0');
	env_free(&e);
}

static double stop_after;

static bool
stop_later(void *state)
{
	(void) state;
	return now_s() > stop_after;
}

TEST(hub_download_can_be_cancelled)
{
	env			e;
	const char *files[] = {"model.safetensors"};
	char	   *dir = NULL;
	pgml_err	err;
	double		t0;

	REQUIRE(env_init(&e, "org/tiny"));
	tiny_repo(e.hub);
	snprintf(e.hub->slow_path, sizeof(e.hub->slow_path), "model.safetensors");
	e.hub->slow_ms = 5000;
	fh_start(e.hub);
	t0 = now_s();
	stop_after = t0 + 0.3;
	pgml_set_should_stop(stop_later, NULL);
	CHECK_INT(pgml_hub_resolve(&e.cfg, "org/tiny", NULL, files, 1, &dir, &err), PGML_ERR_CANCELLED);
	pgml_set_should_stop(NULL, NULL);
	CHECK(now_s() - t0 < 1.0);
	CHECK(dir == NULL);
	env_free(&e);
}

typedef struct resolve_job
{
	env		   *e;
	pgml_status st;
	char	   *dir;
	pgml_err	err;
} resolve_job;

static void *
resolve_thread(void *p)
{
	resolve_job *j = p;
	const char *files[] = {"config.json", "tokenizer.json", "1_Pooling/config.json", "model.safetensors"};

	j->st = pgml_hub_resolve(&j->e->cfg, "org/tiny", NULL, files, 4, &j->dir, &j->err);
	return NULL;
}

TEST(hub_concurrent_resolves_download_once)
{
	env			e;
	resolve_job jobs[4];
	pthread_t	t[4];

	REQUIRE(env_init(&e, "org/tiny"));
	tiny_repo(e.hub);
	e.hub->lfs_delay_ms = 200;
	fh_start(e.hub);
	memset(jobs, 0, sizeof(jobs));
	for (int i = 0; i < 4; i++)
	{
		jobs[i].e = &e;
		pthread_create(&t[i], NULL, resolve_thread, &jobs[i]);
	}
	for (int i = 0; i < 4; i++)
	{
		pthread_join(t[i], NULL);
		CHECK_INT(jobs[i].st, PGML_OK);
		if (jobs[i].st != PGML_OK)
			test_fail(__FILE__, __LINE__, "%s: %s", jobs[i].err.msg, jobs[i].err.detail);
		CHECK(jobs[i].dir != NULL && strstr(jobs[i].dir, COMMIT) != NULL);
		free(jobs[i].dir);
	}
	for (int i = 0; i < e.hub->n_files; i++)
		CHECK_INT(atomic_load(&e.hub->gets[i]), 1);
	env_free(&e);
}

TEST(hub_sharded_safetensors)
{
	env			e;
	const char *files[] = {"config.json", "model.safetensors"};
	const char *index =
		"{\"metadata\": {\"total_size\": 3000}, \"weight_map\": {"
		"\"a.weight\": \"model-00001-of-00002.safetensors\", \"b.weight\": \"model-00001-of-00002.safetensors\","
		"\"c.weight\": \"model-00002-of-00002.safetensors\"}}";
	char	   *dir = NULL;
	pgml_err	err;
	char		path[PATH_MAX * 2];

	REQUIRE(env_init(&e, "org/tiny"));
	fh_add_str(e.hub, "config.json", "{}");
	fh_add_str(e.hub, "model.safetensors.index.json", index);
	fh_add_lfs(e.hub, "model-00001-of-00002.safetensors", 2000, 1);
	fh_add_lfs(e.hub, "model-00002-of-00002.safetensors", 1000, 2);
	fh_start(e.hub);

	CHECK_INT(pgml_hub_resolve(&e.cfg, "org/tiny", NULL, files, 2, &dir, &err), PGML_OK);
	REQUIRE(dir != NULL);
	for (int i = 0; i < e.hub->n_files; i++)
	{
		snprintf(path, sizeof(path), "%s/%s", dir, e.hub->files[i].path);
		CHECK(same_content(path, &e.hub->files[i]));
		CHECK_INT(atomic_load(&e.hub->gets[i]), 1);
	}
	snprintf(path, sizeof(path), "%s/model.safetensors", dir);
	CHECK(!is_symlink(path));
	free(dir);
	dir = NULL;

	/* cached: no network needed */
	fh_stop(e.hub);
	CHECK_INT(pgml_hub_resolve(&e.cfg, "org/tiny", NULL, files, 2, &dir, &err), PGML_OK);
	free(dir);
	dir = NULL;
	e.cfg.offline = true;
	CHECK_INT(pgml_hub_resolve(&e.cfg, "org/tiny", NULL, files, 2, &dir, &err), PGML_OK);
	free(dir);
	env_free(&e);
}

TEST(hub_sharded_index_with_bad_shard_names)
{
	static const char *shards[] = {"../evil.safetensors", "sub/x.safetensors", "/etc/passwd", ".hidden", NULL};

	for (int k = 0; shards[k]; k++)
	{
		env			e;
		const char *files[] = {"model.safetensors"};
		char		index[256];
		char	   *dir = NULL;
		pgml_err	err;

		snprintf(index, sizeof(index), "{\"weight_map\": {\"a\": \"%s\"}}", shards[k]);
		REQUIRE(env_init(&e, "org/tiny"));
		fh_add_str(e.hub, "model.safetensors.index.json", index);
		fh_start(e.hub);
		CHECK_INT(pgml_hub_resolve(&e.cfg, "org/tiny", NULL, files, 1, &dir, &err), PGML_ERR_CORRUPT);
		CHECK(dir == NULL);
		CHECK(strstr(err.msg, "invalid shard") != NULL);
		env_free(&e);
	}
	/* neither the weights nor an index */
	{
		env			e;
		const char *files[] = {"model.safetensors"};
		char	   *dir = NULL;
		pgml_err	err;

		REQUIRE(env_init(&e, "org/tiny"));
		fh_add_str(e.hub, "config.json", "{}");
		fh_start(e.hub);
		CHECK_INT(pgml_hub_resolve(&e.cfg, "org/tiny", NULL, files, 1, &dir, &err), PGML_ERR_NOT_FOUND);
		CHECK(strstr(err.msg, "model.safetensors") != NULL);
		env_free(&e);
	}
}

TEST(hub_local_dirs)
{
	char	   *tmp = make_tmpdir();
	char		allowed[PATH_MAX],
				outside[PATH_MAX],
				model[PATH_MAX],
				escape[PATH_MAX],
				sibling[PATH_MAX],
				p[PATH_MAX * 2],
				dirs[PATH_MAX * 3];
	char		real_model[PATH_MAX];
	pgml_hub_config cfg = {.cache_dir = "/nonexistent", .offline = true};
	char	   *dir = NULL;
	pgml_err	err;

	REQUIRE(tmp != NULL);
	snprintf(allowed, sizeof(allowed), "%s/allowed", tmp);
	snprintf(outside, sizeof(outside), "%s/outside", tmp);
	snprintf(sibling, sizeof(sibling), "%s/allowed2", tmp);
	snprintf(model, sizeof(model), "%s/allowed/my-model", tmp);
	snprintf(escape, sizeof(escape), "%s/allowed/escape", tmp);
	CHECK(mkdir(allowed, 0755) == 0 && mkdir(outside, 0755) == 0 && mkdir(sibling, 0755) == 0 && mkdir(model, 0755) == 0);
	CHECK(symlink(outside, escape) == 0);
	REQUIRE(realpath(model, real_model) != NULL);
	snprintf(dirs, sizeof(dirs), " /nonexistent/dir , %s/ ", allowed);
	cfg.local_dirs = dirs;

	CHECK_INT(pgml_hub_resolve(&cfg, model, NULL, NULL, 0, &dir, &err), PGML_OK);
	CHECK_STR(dir, real_model);
	free(dir);
	dir = NULL;
	/* the entry itself, and a path with "." components that stays inside */
	snprintf(p, sizeof(p), "%s/./my-model/", allowed);
	CHECK_INT(pgml_hub_resolve(&cfg, p, NULL, NULL, 0, &dir, &err), PGML_OK);
	free(dir);
	dir = NULL;
	/* a symlink escaping the allowed directory */
	CHECK_INT(pgml_hub_resolve(&cfg, escape, NULL, NULL, 0, &dir, &err), PGML_ERR_INVALID_ARGUMENT);
	CHECK_STR(pgml_err_get_sqlstate(&err), "42501");
	CHECK(strstr(err.msg, "pgml.model_dirs") != NULL);
	/* ".." out of it */
	snprintf(p, sizeof(p), "%s/../outside", allowed);
	CHECK_INT(pgml_hub_resolve(&cfg, p, NULL, NULL, 0, &dir, &err), PGML_ERR_INVALID_ARGUMENT);
	/* a sibling whose name starts with the allowed one */
	CHECK_INT(pgml_hub_resolve(&cfg, sibling, NULL, NULL, 0, &dir, &err), PGML_ERR_INVALID_ARGUMENT);
	CHECK_INT(pgml_hub_resolve(&cfg, "/etc", NULL, NULL, 0, &dir, &err), PGML_ERR_INVALID_ARGUMENT);
	/* missing inside: not found; missing outside: not allowed (existence is not revealed) */
	snprintf(p, sizeof(p), "%s/nope", allowed);
	CHECK_INT(pgml_hub_resolve(&cfg, p, NULL, NULL, 0, &dir, &err), PGML_ERR_NOT_FOUND);
	snprintf(p, sizeof(p), "%s/nope", outside);
	CHECK_INT(pgml_hub_resolve(&cfg, p, NULL, NULL, 0, &dir, &err), PGML_ERR_INVALID_ARGUMENT);
	/* a file, not a directory */
	snprintf(p, sizeof(p), "touch '%s/file'", allowed);
	CHECK(system(p) == 0);
	snprintf(p, sizeof(p), "%s/file", allowed);
	CHECK_INT(pgml_hub_resolve(&cfg, p, NULL, NULL, 0, &dir, &err), PGML_ERR_NOT_FOUND);
	/* no model_dirs at all */
	cfg.local_dirs = "";
	CHECK_INT(pgml_hub_resolve(&cfg, model, NULL, NULL, 0, &dir, &err), PGML_ERR_INVALID_ARGUMENT);
	CHECK(strstr(err.hint, "pgml.model_dirs") != NULL);
	cfg.local_dirs = NULL;
	CHECK_INT(pgml_hub_check_local_path(NULL, model, &dir, &err), PGML_ERR_INVALID_ARGUMENT);
	CHECK(dir == NULL);
	rm_rf(tmp);
	free(tmp);
}

TEST(hub_moved_branch_updates_ref)
{
	env			e;
	const char *files[] = {"config.json"};
	const char *old = "ffffffffffffffffffffffffffffffffffffffff";
	char		path[PATH_MAX * 3];
	char	   *dir = NULL;
	pgml_err	err;
	FILE	   *fp;
	char		buf[64] = {0};

	REQUIRE(env_init(&e, "org/tiny"));
	tiny_repo(e.hub);
	fh_start(e.hub);
	/* refs/main names an older commit whose snapshot lacks the file */
	snprintf(path, sizeof(path), "mkdir -p '%s/models--org--tiny/refs' '%s/models--org--tiny/snapshots/%s'",
			 e.cache, e.cache, old);
	CHECK(system(path) == 0);
	snprintf(path, sizeof(path), "%s/models--org--tiny/refs/main", e.cache);
	fp = fopen(path, "w");
	REQUIRE(fp != NULL);
	fputs(old, fp);
	fclose(fp);

	CHECK_INT(pgml_hub_resolve(&e.cfg, "org/tiny", NULL, files, 1, &dir, &err), PGML_OK);
	CHECK(dir != NULL && strstr(dir, COMMIT) != NULL);
	fp = fopen(path, "r");
	REQUIRE(fp != NULL);
	CHECK(fread(buf, 1, sizeof(buf) - 1, fp) == 40);
	fclose(fp);
	CHECK_STR(buf, COMMIT);
	free(dir);
	env_free(&e);
}

TEST(hub_rejects_etag_that_is_a_path)
{
	env			e;
	const char *files[] = {"config.json"};
	char	   *dir = NULL;
	pgml_err	err;
	char		path[PATH_MAX * 2];

	REQUIRE(env_init(&e, "org/tiny"));
	tiny_repo(e.hub);
	e.hub->evil_etag = true;
	fh_start(e.hub);
	CHECK_INT(pgml_hub_resolve(&e.cfg, "org/tiny", NULL, files, 1, &dir, &err), PGML_ERR_NETWORK);
	CHECK(strstr(err.msg, "etag") != NULL);
	CHECK(dir == NULL);
	snprintf(path, sizeof(path), "%s/evil", e.tmp);
	CHECK_INT(file_size(path), -1);
	snprintf(path, sizeof(path), "%s/models--org--tiny/blobs", e.cache);
	CHECK(count_entries(path) <= 0);
	env_free(&e);
}

TEST(hub_revision_with_slashes)
{
	env			e;
	const char *files[] = {"config.json"};
	char		path[PATH_MAX * 2];
	char	   *dir = NULL;
	pgml_err	err;

	REQUIRE(env_init(&e, "org/tiny"));
	tiny_repo(e.hub);
	fh_start(e.hub);
	CHECK_INT(pgml_hub_resolve(&e.cfg, "org/tiny", "refs/pr/1", files, 1, &dir, &err), PGML_OK);
	CHECK(dir != NULL && strstr(dir, COMMIT) != NULL);
	snprintf(path, sizeof(path), "%s/models--org--tiny/refs/refs/pr/1", e.cache);
	CHECK_INT(file_size(path), 40);
	free(dir);
	dir = NULL;
	fh_stop(e.hub);
	CHECK_INT(pgml_hub_resolve(&e.cfg, "org/tiny", "refs/pr/1", files, 1, &dir, &err), PGML_OK);
	free(dir);
	env_free(&e);
}

/*
 * Two processes share the cache: each file is downloaded once. The children only call the hub module
 * (curl, files, flock) and leave with _exit; the server runs in the parent.
 */
TEST(hub_two_processes_download_once)
{
	env			e;
	pid_t		kids[2];

	REQUIRE(env_init(&e, "org/tiny"));
	tiny_repo(e.hub);
	e.hub->lfs_delay_ms = 200;
	fh_start(e.hub);
	fflush(stdout);
	for (int i = 0; i < 2; i++)
	{
		kids[i] = fork();
		REQUIRE(kids[i] >= 0);
		if (kids[i] == 0)
		{
			const char *files[] = {"config.json", "tokenizer.json", "model.safetensors"};
			char	   *dir = NULL;
			pgml_err	err;
			pgml_status st = pgml_hub_resolve(&e.cfg, "org/tiny", NULL, files, 3, &dir, &err);

			_exit(st == PGML_OK && dir != NULL && strstr(dir, COMMIT) != NULL ? 0 : 10 + (int) st);
		}
	}
	for (int i = 0; i < 2; i++)
	{
		int			status = -1;

		CHECK(waitpid(kids[i], &status, 0) == kids[i]);
		CHECK(WIFEXITED(status));
		CHECK_INT(WEXITSTATUS(status), 0);
	}
	CHECK_INT(atomic_load(&e.hub->gets[0]), 1);
	CHECK_INT(atomic_load(&e.hub->gets[1]), 1);
	CHECK_INT(atomic_load(&e.hub->gets[3]), 1);
	env_free(&e);
}
