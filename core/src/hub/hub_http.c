/*
 * hub_http.c — talking to the hub with libcurl: the metadata of a file (HEAD) and its download.
 *
 * The hub answers HEAD <endpoint>/<id>/resolve/<revision>/<file> with the commit the revision points to
 * (X-Repo-Commit) and the file's etag. A small file is answered directly (200, ETag "<git blob sha1>",
 * Content-Length). A large (LFS) file is answered with a 302 to a CDN plus X-Linked-Etag "<sha256>" and
 * X-Linked-Size; the HEAD is not followed, so those headers are the ones read. The download (GET) follows
 * redirects. libcurl does not send a custom Authorization header to a different host or port after a
 * redirect (CURLOPT_UNRESTRICTED_AUTH stays off), which is what keeps the token away from the CDN.
 *
 * A download appends to blobs/<etag>.incomplete, asking for the rest with a Range request when part of
 * it is there. A server that ignores the Range (200) restarts the file; a 416 restarts it from zero. The
 * sha256 of an LFS file is computed while writing (over the kept prefix first) and compared at the end.
 */
#include "hub_int.h"

#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "pgml/sha256.h"

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_rc = CURLE_FAILED_INIT;
static double progress_interval = 5.0;

static void
curl_init_once(void)
{
	curl_init_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

void
pgml_hub_set_progress_interval(double seconds)
{
	progress_interval = seconds < 0 ? 0 : seconds;
}

double
hub_progress_interval(void)
{
	return progress_interval;
}

static double
now_seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
}

/* Format a byte count for progress messages ("45 MB"). */
static void
human_bytes(long long n, char *buf, size_t size)
{
	if (n < 0)
		snprintf(buf, size, "?");
	else if (n >= 10LL * 1000 * 1000 * 1000)
		snprintf(buf, size, "%.0f GB", (double) n / 1e9);
	else if (n >= 1000LL * 1000 * 1000)
		snprintf(buf, size, "%.1f GB", (double) n / 1e9);
	else if (n >= 1000LL * 1000)
		snprintf(buf, size, "%.0f MB", (double) n / 1e6);
	else if (n >= 1000)
		snprintf(buf, size, "%.0f kB", (double) n / 1e3);
	else
		snprintf(buf, size, "%lld bytes", n);
}

/* One transfer: where the headers go, where the body goes. */
typedef struct hub_xfer
{
	const hub_ctx *ctx;
	const char *file;
	hub_meta   *meta;
	/* body (downloads only) */
	int			fd;
	long long	offset;			/* bytes in the file when the request was sent */
	long long	written;		/* bytes in the file now */
	bool		body_started;	/* the current response's first body byte has been seen */
	bool		range_mismatch;
	int			io_errno;
	bool		hashing;
	pgml_sha256_ctx sha;
	/* progress and cancel */
	long long	total;
	double		last_log;
	bool		cancelled;
	bool		logged;
} hub_xfer;

static void
trim_value(const char *in, size_t n, char *out, size_t size, bool *too_long)
{
	while (n > 0 && (*in == ' ' || *in == '\t'))
		in++, n--;
	while (n > 0 && (in[n - 1] == '\r' || in[n - 1] == '\n' || in[n - 1] == ' ' || in[n - 1] == '\t'))
		n--;
	if (too_long)
		*too_long = n >= size;
	if (n >= size)
		n = size - 1;
	memcpy(out, in, n);
	out[n] = '\0';
}

static long long
parse_ll(const char *s)
{
	char	   *end;
	long long	v;

	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno != 0 || end == s || v < 0)
		return -1;
	return v;
}

/* libcurl header callback: record the headers of the response in progress. */
static size_t
on_header(char *data, size_t size, size_t nitems, void *arg)
{
	hub_xfer   *x = arg;
	hub_meta   *m = x->meta;
	size_t		n = size * nitems;
	const char *colon;
	size_t		name_len;
	char		value[256];
	bool		too_long = false;

	if (n >= 5 && strncmp(data, "HTTP/", 5) == 0)
	{
		const char *sp = memchr(data, ' ', n);

		m->status = sp ? strtol(sp + 1, NULL, 10) : 0;
		m->r_etag[0] = m->r_linked_etag[0] = '\0';
		m->r_etag_long = m->r_linked_etag_long = false;
		m->r_linked_size = m->r_content_length = m->r_range_start = -1;
		x->body_started = false;
		return n;
	}
	colon = memchr(data, ':', n);
	if (colon == NULL)
		return n;
	name_len = (size_t) (colon - data);
	trim_value(colon + 1, n - name_len - 1, value, sizeof(value), &too_long);

#define HEADER_IS(h) (name_len == sizeof(h) - 1 && strncasecmp(data, h, name_len) == 0)
	if (HEADER_IS("x-repo-commit"))
	{
		if (hub_is_commit(value))
			strcpy(m->commit, value);
	}
	else if (HEADER_IS("etag"))
	{
		trim_value(value, strlen(value), m->r_etag, sizeof(m->r_etag), NULL);
		m->r_etag_long = too_long || strlen(value) >= sizeof(m->r_etag);
	}
	else if (HEADER_IS("x-linked-etag"))
	{
		trim_value(value, strlen(value), m->r_linked_etag, sizeof(m->r_linked_etag), NULL);
		m->r_linked_etag_long = too_long || strlen(value) >= sizeof(m->r_linked_etag);
	}
	else if (HEADER_IS("x-linked-size"))
		m->r_linked_size = parse_ll(value);
	else if (HEADER_IS("content-length"))
		m->r_content_length = parse_ll(value);
	else if (HEADER_IS("content-range"))
	{
		/* "bytes <start>-<end>/<total>" */
		if (strncasecmp(value, "bytes ", 6) == 0)
			m->r_range_start = parse_ll(value + 6);
	}
	else if (HEADER_IS("x-error-code"))
		trim_value(value, strlen(value), m->error_code, sizeof(m->error_code), NULL);
#undef HEADER_IS
	return n;
}

/* Turn a raw etag header ("W/\"abc\"") into a blob name; false when it cannot be one. */
static bool
normalize_etag(const char *raw, bool too_long, char *out)
{
	const char *s = raw;
	size_t		n;

	if (too_long)
		return false;
	if (strncmp(s, "W/", 2) == 0)
		s += 2;
	n = strlen(s);
	if (n >= 2 && s[0] == '"' && s[n - 1] == '"')
		s++, n -= 2;
	if (n == 0 || n > HUB_ETAG_MAX)
		return false;
	for (size_t i = 0; i < n; i++)
	{
		char		c = s[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
			  c == '-' || c == '_'))
			return false;
	}
	memcpy(out, s, n);
	out[n] = '\0';
	return true;
}

/* libcurl progress callback: poll the stop hook and log progress now and then. */
static int
on_progress(void *arg, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal, curl_off_t ulnow)
{
	hub_xfer   *x = arg;
	double		now;

	(void) dltotal;
	(void) ultotal;
	(void) ulnow;
	if (pgml_should_stop())
	{
		x->cancelled = true;
		return 1;
	}
	if (x->fd < 0)
		return 0;
	now = now_seconds();
	if (now - x->last_log >= progress_interval && dlnow > 0)
	{
		char		done[32],
					total[32];

		human_bytes(x->written, done, sizeof(done));
		human_bytes(x->total, total, sizeof(total));
		pgml_log(PGML_LOG_NOTICE, "downloading %s %s: %s of %s", x->ctx->id, x->file, done, total);
		x->last_log = now;
		x->logged = true;
	}
	return 0;
}

/* libcurl write callback: append the body of a 200 or 206 to the file. */
static size_t
on_body(char *data, size_t size, size_t nmemb, void *arg)
{
	hub_xfer   *x = arg;
	size_t		n = size * nmemb;
	long		status = x->meta->status;

	if (x->fd < 0 || (status != 200 && status != 206))
		return n;				/* the body of an error or a redirect: not kept */
	if (!x->body_started)
	{
		x->body_started = true;
		if (status == 200 && x->offset > 0)
		{
			/* the server ignored the Range: start over */
			if (ftruncate(x->fd, 0) != 0 || lseek(x->fd, 0, SEEK_SET) != 0)
			{
				x->io_errno = errno;
				return 0;
			}
			x->offset = x->written = 0;
			pgml_sha256_init(&x->sha);
		}
		else if (status == 206 && x->meta->r_range_start != x->offset)
		{
			x->range_mismatch = true;
			return 0;
		}
	}
	for (size_t done = 0; done < n;)
	{
		ssize_t		w = write(x->fd, data + done, n - done);

		if (w < 0)
		{
			if (errno == EINTR)
				continue;
			x->io_errno = errno;
			return 0;
		}
		done += (size_t) w;
	}
	if (x->hashing)
		pgml_sha256_update(&x->sha, data, n);
	x->written += (long long) n;
	return n;
}

/* Set the options every request shares. */
static pgml_status
easy_setup(const hub_ctx *ctx, CURL **out, struct curl_slist **headers, char *errbuf, hub_xfer *x,
		   const char *url, pgml_err *err)
{
	CURL	   *c;
	long		timeout = ctx->timeout_s > 0 ? ctx->timeout_s : 60;

	*out = NULL;
	*headers = NULL;
	pthread_once(&curl_once, curl_init_once);
	if (curl_init_rc != CURLE_OK)
		return pgml_error(err, PGML_ERR_NETWORK, "could not initialize libcurl: %s", curl_easy_strerror(curl_init_rc));
	c = curl_easy_init();
	if (c == NULL)
		return pgml_error(err, PGML_ERR_OUT_OF_MEMORY, "out of memory");
	if (ctx->cfg->token != NULL && ctx->cfg->token[0] != '\0')
	{
		char	   *h = pgml_asprintf("Authorization: Bearer %s", ctx->cfg->token);
		struct curl_slist *l = h ? curl_slist_append(NULL, h) : NULL;

		pgml_free(h);
		if (l == NULL)
		{
			curl_easy_cleanup(c);
			return pgml_error(err, PGML_ERR_OUT_OF_MEMORY, "out of memory");
		}
		*headers = l;
		curl_easy_setopt(c, CURLOPT_HTTPHEADER, l);
	}
	errbuf[0] = '\0';
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
	curl_easy_setopt(c, CURLOPT_USERAGENT, "pgml/" PGML_VERSION);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(c, CURLOPT_MAXREDIRS, 10L);
	curl_easy_setopt(c, CURLOPT_BUFFERSIZE, 256L * 1024);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, timeout);
	curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1L);
	curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, timeout);
	curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(c, CURLOPT_HEADERDATA, x);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, x);
	curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, on_progress);
	curl_easy_setopt(c, CURLOPT_XFERINFODATA, x);
	curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
	*out = c;
	return PGML_OK;
}

/*
 * Run a transfer through a multi handle, waking at least every 100 ms to poll the stop hook: libcurl
 * calls the progress callback only about once a second while a server is silent, which is too slow for
 * a query cancel.
 */
static CURLcode
perform(CURL *c, hub_xfer *x)
{
	CURLM	   *m = curl_multi_init();
	CURLcode	rc = CURLE_OK;
	int			running = 1;
	bool		done = false;

	if (m == NULL)
		return CURLE_OUT_OF_MEMORY;
	if (curl_multi_add_handle(m, c) != CURLM_OK)
	{
		curl_multi_cleanup(m);
		return CURLE_OUT_OF_MEMORY;
	}
	while (!done)
	{
		CURLMsg    *msg;
		int			queued;

		if (curl_multi_perform(m, &running) != CURLM_OK)
		{
			rc = CURLE_OUT_OF_MEMORY;
			break;
		}
		while ((msg = curl_multi_info_read(m, &queued)) != NULL)
		{
			if (msg->msg == CURLMSG_DONE && msg->easy_handle == c)
			{
				rc = msg->data.result;
				done = true;
			}
		}
		if (done || running == 0)
			break;
		if (pgml_should_stop())
		{
			x->cancelled = true;
			rc = CURLE_ABORTED_BY_CALLBACK;
			break;
		}
		if (curl_multi_poll(m, NULL, 0, 100, NULL) != CURLM_OK)
		{
			rc = CURLE_OUT_OF_MEMORY;
			break;
		}
	}
	if (!done && rc == CURLE_OK)
		rc = CURLE_FAILED_INIT; /* ended without a result: never report success */
	curl_multi_remove_handle(m, c);
	curl_multi_cleanup(m);
	return rc;
}

/* Record the error of a failed transfer. */
static pgml_status
transfer_error(const hub_ctx *ctx, const char *file, const char *url, CURLcode rc, const char *errbuf,
			   const hub_xfer *x, pgml_err *err)
{
	if (x->cancelled || rc == CURLE_ABORTED_BY_CALLBACK)
		return pgml_error(err, PGML_ERR_CANCELLED, "canceling statement due to user request");
	if (x->io_errno != 0)
		return pgml_error(err, PGML_ERR_IO, "could not write download of \"%s\" of model \"%s\": %s", file,
						  ctx->id, strerror(x->io_errno));
	pgml_error(err, PGML_ERR_NETWORK, "could not download \"%s\" of model \"%s\"", file, ctx->id);
	if (x->range_mismatch)
		pgml_err_detail(err, "The server answered a Range request from byte %lld with a different range (%s).",
						x->offset, url);
	else
		pgml_err_detail(err, "%s (%s).", errbuf[0] ? errbuf : curl_easy_strerror(rc), url);
	return PGML_ERR_NETWORK;
}

pgml_status
hub_http_head(const hub_ctx *ctx, const char *file, hub_meta *meta, pgml_err *err)
{
	char		errbuf[CURL_ERROR_SIZE];
	char	   *url;
	CURL	   *c = NULL;
	struct curl_slist *headers = NULL;
	hub_xfer	x;
	CURLcode	rc;
	pgml_status st;

	memset(meta, 0, sizeof(*meta));
	meta->size = -1;
	memset(&x, 0, sizeof(x));
	x.ctx = ctx;
	x.file = file;
	x.meta = meta;
	x.fd = -1;
	url = hub_url(ctx, file);
	if (url == NULL)
		return pgml_error(err, PGML_ERR_OUT_OF_MEMORY, "out of memory");
	st = easy_setup(ctx, &c, &headers, errbuf, &x, url, err);
	if (st != PGML_OK)
		goto done;
	curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
	curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
	rc = perform(c, &x);
	if (rc == CURLE_OK && meta->status >= 300 && meta->status < 400 &&
		meta->r_linked_etag[0] == '\0' && meta->r_etag[0] == '\0')
	{
		/* a redirect that is not an LFS file (a renamed repository): follow it */
		curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 1L);
		rc = perform(c, &x);
	}
	if (rc != CURLE_OK)
	{
		st = transfer_error(ctx, file, url, rc, errbuf, &x, err);
		goto done;
	}
	if (meta->r_linked_etag[0] != '\0')
		meta->etag_bad = !normalize_etag(meta->r_linked_etag, meta->r_linked_etag_long, meta->etag);
	else if (meta->r_etag[0] != '\0')
		meta->etag_bad = !normalize_etag(meta->r_etag, meta->r_etag_long, meta->etag);
	if (meta->r_linked_size >= 0)
		meta->size = meta->r_linked_size;
	else if (meta->status == 200)
		meta->size = meta->r_content_length;
	st = PGML_OK;

done:
	if (c != NULL)
		curl_easy_cleanup(c);
	curl_slist_free_all(headers);
	pgml_free(url);
	return st;
}

/* Hash the first n bytes of fd into sha; false on a read error. */
static bool
hash_prefix(int fd, long long n, pgml_sha256_ctx *sha)
{
	char		buf[65536];
	long long	left = n;

	if (lseek(fd, 0, SEEK_SET) != 0)
		return false;
	while (left > 0)
	{
		ssize_t		r = read(fd, buf, left < (long long) sizeof(buf) ? (size_t) left : sizeof(buf));

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return false;
		pgml_sha256_update(sha, buf, (size_t) r);
		left -= r;
	}
	return lseek(fd, n, SEEK_SET) == n;
}

/*
 * Download a file into incomplete_path (resuming what is there), and check its size and, for an LFS
 * file, its sha256. On success the file is complete and fsynced; on a checksum or size mismatch it is
 * removed (PGML_ERR_CORRUPT); after a network error or a cancel it is kept for the next attempt.
 */
pgml_status
hub_http_download(const hub_ctx *ctx, const char *file, const hub_meta *meta, const char *incomplete_path,
				  pgml_err *err)
{
	char		errbuf[CURL_ERROR_SIZE];
	char	   *url;
	CURL	   *c = NULL;
	struct curl_slist *headers = NULL;
	hub_xfer	x;
	hub_meta	resp;
	struct stat stbuf;
	CURLcode	rc = CURLE_OK;
	pgml_status st = PGML_OK;
	bool		lfs = strlen(meta->etag) == 64 && hub_is_hex(meta->etag, 64);
	double		started = now_seconds();

	memset(&x, 0, sizeof(x));
	memset(&resp, 0, sizeof(resp));
	x.ctx = ctx;
	x.file = file;
	x.meta = &resp;
	x.hashing = lfs;
	x.total = meta->size;
	x.last_log = started;
	x.fd = open(incomplete_path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	if (x.fd < 0)
		return pgml_error(err, PGML_ERR_IO, "could not open file \"%s\": %s", incomplete_path, strerror(errno));
	url = hub_url(ctx, file);
	if (url == NULL)
	{
		st = pgml_error(err, PGML_ERR_OUT_OF_MEMORY, "out of memory");
		goto done;
	}
	if (fstat(x.fd, &stbuf) != 0)
	{
		st = pgml_error(err, PGML_ERR_IO, "could not stat file \"%s\": %s", incomplete_path, strerror(errno));
		goto done;
	}
	x.offset = (long long) stbuf.st_size;
	pgml_sha256_init(&x.sha);
	if (x.offset > 0 && (meta->size < 0 || x.offset > meta->size ||
						 (x.hashing && !hash_prefix(x.fd, x.offset, &x.sha))))
	{
		/* unusable leftovers: start from zero */
		pgml_sha256_init(&x.sha);
		if (ftruncate(x.fd, 0) != 0)
		{
			st = pgml_error(err, PGML_ERR_IO, "could not truncate file \"%s\": %s", incomplete_path, strerror(errno));
			goto done;
		}
		x.offset = 0;
	}
	if (lseek(x.fd, x.offset, SEEK_SET) != x.offset)
	{
		st = pgml_error(err, PGML_ERR_IO, "could not seek in file \"%s\": %s", incomplete_path, strerror(errno));
		goto done;
	}
	x.written = x.offset;
	if (x.offset > 0)
		pgml_log(PGML_LOG_DEBUG, "resuming download of %s %s at byte %lld", ctx->id, file, x.offset);

	st = easy_setup(ctx, &c, &headers, errbuf, &x, url, err);
	if (st != PGML_OK)
		goto done;
	curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 1L);
	for (int attempt = 0; attempt < 2; attempt++)
	{
		char		range[48];

		if (meta->size >= 0 && x.offset == meta->size && x.offset > 0)
			break;				/* already complete */
		if (x.offset > 0)
		{
			snprintf(range, sizeof(range), "%lld-", x.offset);
			curl_easy_setopt(c, CURLOPT_RANGE, range);
		}
		else
			curl_easy_setopt(c, CURLOPT_RANGE, NULL);
		x.body_started = false;
		rc = perform(c, &x);
		if (rc == CURLE_OK && resp.status == 416 && x.offset > 0)
		{
			/* the range does not fit what the server has: start over */
			if (ftruncate(x.fd, 0) != 0 || lseek(x.fd, 0, SEEK_SET) != 0)
			{
				st = pgml_error(err, PGML_ERR_IO, "could not truncate file \"%s\": %s", incomplete_path, strerror(errno));
				goto done;
			}
			x.offset = x.written = 0;
			pgml_sha256_init(&x.sha);
			continue;
		}
		break;
	}
	if (rc != CURLE_OK)
	{
		st = transfer_error(ctx, file, url, rc, errbuf, &x, err);
		goto done;
	}
	if (resp.status != 200 && resp.status != 206 && !(meta->size >= 0 && x.offset == meta->size))
	{
		pgml_error(err, PGML_ERR_NETWORK, "could not download \"%s\" of model \"%s\"", file, ctx->id);
		pgml_err_detail(err, "The server answered HTTP %ld (%s).", resp.status, url);
		st = PGML_ERR_NETWORK;
		goto done;
	}
	if (meta->size >= 0 && x.written != meta->size)
	{
		pgml_error(err, PGML_ERR_CORRUPT, "downloaded file \"%s\" of model \"%s\" has the wrong size", file, ctx->id);
		pgml_err_detail(err, "The hub announced %lld bytes; %lld arrived.", meta->size, x.written);
		unlink(incomplete_path);
		st = PGML_ERR_CORRUPT;
		goto done;
	}
	if (x.hashing)
	{
		uint8_t		digest[32];
		char		hex[65];

		pgml_sha256_final(&x.sha, digest);
		pgml_sha256_hex(digest, hex);
		if (strcasecmp(hex, meta->etag) != 0)
		{
			pgml_error(err, PGML_ERR_CORRUPT, "downloaded file \"%s\" of model \"%s\" does not match its checksum",
					   file, ctx->id);
			pgml_err_detail(err, "The hub announced sha256 %s; the content has sha256 %s.", meta->etag, hex);
			unlink(incomplete_path);
			st = PGML_ERR_CORRUPT;
			goto done;
		}
	}
	if (fsync(x.fd) != 0)
	{
		st = pgml_error(err, PGML_ERR_IO, "could not fsync file \"%s\": %s", incomplete_path, strerror(errno));
		goto done;
	}
	if (x.logged)
	{
		char		total[32];

		human_bytes(x.written, total, sizeof(total));
		pgml_log(PGML_LOG_NOTICE, "downloaded %s %s: %s in %.0f s", ctx->id, file, total, now_seconds() - started);
	}

done:
	if (c != NULL)
		curl_easy_cleanup(c);
	curl_slist_free_all(headers);
	pgml_free(url);
	if (x.fd >= 0)
		close(x.fd);
	return st;
}
