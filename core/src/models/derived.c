/*
 * derived.c — the derived-weights file (see pgml/derived.h).
 *
 * Every entry this load uses is listed in `e`: fetched ones point into a mapping, added ones into heap
 * buffers until commit. Commit writes all of them (so a file that lacked an entry is completed, not
 * truncated to what was added), maps the new file and repoints the added entries' owners; mappings are
 * kept until the set is freed, because callers hold pointers into every one of them.
 */
#include "pgml/derived.h"

#include "pgml/sha256.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define MAGIC "PGMLDRV"			/* with its NUL: 8 bytes */
#define VERSION 1
#define HEADER_SIZE 64
#define ENTRY_SIZE 128
#define ALIGN 64
#define MAX_ENTRIES ((uint32_t) 1 << 20)

typedef struct file_header
{
	char		magic[8];
	uint32_t	version;
	uint32_t	n_entries;
	uint64_t	file_size;
	uint8_t		key[32];
	uint64_t	reserved;
} file_header;

typedef struct file_entry
{
	char		name[PGML_DERIVED_NAME_MAX + 1];
	uint64_t	offset;
	uint64_t	bytes;
} file_entry;

_Static_assert(sizeof(file_header) == HEADER_SIZE, "derived file header is 64 bytes");
_Static_assert(sizeof(file_entry) == ENTRY_SIZE, "derived file entry is 128 bytes");

typedef enum slot_kind
{
	SLOT_NONE,					/* fetched: the caller keeps the pointer (its mapping stays) */
	SLOT_F32,
	SLOT_Q8_W,
	SLOT_Q8_SCALE,
	SLOT_Q8_WSUM,
} slot_kind;

typedef struct entry
{
	char		name[PGML_DERIVED_NAME_MAX + 1];
	size_t		bytes;
	const void *data;			/* in a mapping, or == heap */
	void	   *heap;			/* owned until commit maps it */
	slot_kind	kind;
	bool		shared_only;	/* dropped at commit unless mapped */
	union
	{
		const float **f;
		pgml_q8_weight *q;
	}			slot;
} entry;

typedef struct mapping
{
	void	   *addr;
	size_t		size;
} mapping;

struct pgml_derived
{
	char	   *path;			/* NULL: in memory only */
	uint8_t		key[32];
	const file_header *hdr;		/* the file found at open (in maps[0]), or NULL */
	const file_entry *table;
	mapping    *maps;
	size_t		n_maps;
	entry	   *e;
	size_t		n,
				cap;
	bool		reused;
};

static void
unmap_all(pgml_derived *d)
{
	for (size_t i = 0; i < d->n_maps; i++)
		munmap(d->maps[i].addr, d->maps[i].size);
	pgml_free(d->maps);
	d->maps = NULL;
	d->n_maps = 0;
}

static bool
push_map(pgml_derived *d, void *addr, size_t size)
{
	mapping    *m = pgml_realloc(d->maps, (d->n_maps + 1) * sizeof(mapping));

	if (m == NULL)
		return false;
	d->maps = m;
	d->maps[d->n_maps].addr = addr;
	d->maps[d->n_maps].size = size;
	d->n_maps++;
	return true;
}

/* Maps the file at open and checks it; false (no error) when it is absent or unusable. */
static bool
map_existing(pgml_derived *d)
{
	int			fd = open(d->path, O_RDONLY | O_CLOEXEC);
	struct stat sb;
	void	   *map;
	const file_header *h;
	const file_entry *t;
	size_t		size,
				table_end;

	if (fd < 0)
		return false;
	if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode) || sb.st_size < HEADER_SIZE)
	{
		close(fd);
		return false;
	}
	size = (size_t) sb.st_size;
	map = mmap(NULL, size, PROT_READ, MAP_SHARED, fd, 0);
	close(fd);
	if (map == MAP_FAILED)
		return false;
	h = map;
	t = (const file_entry *) ((const char *) map + HEADER_SIZE);
	table_end = HEADER_SIZE + (size_t) h->n_entries * ENTRY_SIZE;
	if (memcmp(h->magic, MAGIC, 8) != 0 || h->version != VERSION || h->file_size != size ||
		h->n_entries > MAX_ENTRIES || table_end > size || memcmp(h->key, d->key, 32) != 0)
		goto bad;
	for (uint32_t i = 0; i < h->n_entries; i++)
		if (memchr(t[i].name, '\0', sizeof(t[i].name)) == NULL || t[i].offset % ALIGN != 0 ||
			t[i].offset < table_end || t[i].offset > size || t[i].bytes > size - t[i].offset)
			goto bad;
	if (!push_map(d, map, size))
		goto bad;
	d->hdr = h;
	d->table = t;
	return true;
bad:
	munmap(map, size);
	return false;
}

pgml_status
pgml_derived_open(const char *path, const uint8_t key[32], pgml_derived **out, pgml_err *err)
{
	pgml_derived *d = pgml_calloc(1, sizeof(pgml_derived));

	*out = NULL;
	if (d == NULL)
		return pgml_error(err, PGML_ERR_OUT_OF_MEMORY, "out of memory");
	memcpy(d->key, key, 32);
	if (path != NULL)
	{
		d->path = pgml_strdup(path);
		if (d->path == NULL)
		{
			pgml_free(d);
			return pgml_error(err, PGML_ERR_OUT_OF_MEMORY, "out of memory");
		}
		d->reused = map_existing(d);
	}
	*out = d;
	return PGML_OK;
}

void
pgml_derived_free(pgml_derived *d)
{
	if (d == NULL)
		return;
	for (size_t i = 0; i < d->n; i++)
		pgml_free(d->e[i].heap);
	pgml_free(d->e);
	unmap_all(d);
	pgml_free(d->path);
	pgml_free(d);
}

/* name as stored: itself, or "#" and its digest when it is too long for an entry */
static const char *
stored_name(const char *name, char buf[PGML_DERIVED_NAME_MAX + 1])
{
	uint8_t		dg[32];

	if (strlen(name) <= PGML_DERIVED_NAME_MAX)
		return name;
	pgml_sha256(name, strlen(name), dg);
	buf[0] = '#';
	pgml_sha256_hex(dg, buf + 1);
	return buf;
}

static entry *
new_entry(pgml_derived *d, const char *name, size_t bytes)
{
	entry	   *e;
	char		buf[PGML_DERIVED_NAME_MAX + 1];

	name = stored_name(name, buf);
	if (d->n == d->cap)
	{
		size_t		cap = d->cap ? 2 * d->cap : 64;
		entry	   *ne = pgml_realloc(d->e, cap * sizeof(entry));

		if (ne == NULL)
			return NULL;
		d->e = ne;
		d->cap = cap;
	}
	e = &d->e[d->n++];
	memset(e, 0, sizeof(*e));
	strcpy(e->name, name);
	e->bytes = bytes;
	return e;
}

/* The file's entry called name of exactly `bytes` bytes, recorded as used; NULL when absent. */
static const void *
fetch(pgml_derived *d, const char *name, size_t bytes)
{
	char		buf[PGML_DERIVED_NAME_MAX + 1];

	if (d->hdr == NULL)
		return NULL;
	name = stored_name(name, buf);
	for (uint32_t i = 0; i < d->hdr->n_entries; i++)
		if (strcmp(d->table[i].name, name) == 0)
		{
			const void *p;
			entry	   *e;

			if (d->table[i].bytes != bytes)
				return NULL;
			p = (const char *) d->hdr + d->table[i].offset;
			e = new_entry(d, name, bytes);
			if (e == NULL)
				return NULL;	/* out of memory: recompute it instead */
			e->data = p;
			return p;
		}
	return NULL;
}

const float *
pgml_derived_get_f32(pgml_derived *d, const char *name, size_t n)
{
	return fetch(d, name, n * sizeof(float));
}

pgml_status
pgml_derived_add_f32(pgml_derived *d, const char *name, float *heap, size_t n, const float **slot, pgml_err *err)
{
	entry	   *e = new_entry(d, name, n * sizeof(float));

	if (e == NULL)
	{
		pgml_free(heap);
		return pgml_error(err, PGML_ERR_OUT_OF_MEMORY, "out of memory");
	}
	e->heap = heap;
	e->data = heap;
	e->kind = SLOT_F32;
	e->slot.f = slot;
	*slot = heap;
	return PGML_OK;
}

pgml_status
pgml_derived_add_f32_shared(pgml_derived *d, const char *name, float *heap, size_t n, const float **slot,
							pgml_err *err)
{
	pgml_status rc = pgml_derived_add_f32(d, name, heap, n, slot, err);

	if (rc == PGML_OK)
		d->e[d->n - 1].shared_only = true;
	return rc;
}

bool
pgml_derived_has_file(const pgml_derived *d)
{
	return d != NULL && d->path != NULL;
}

/* Frees the heap copies of shared-only entries that were not mapped, and clears their slots. */
static void
drop_unshared(pgml_derived *d)
{
	for (size_t i = 0; i < d->n; i++)
	{
		entry	   *e = &d->e[i];

		if (!e->shared_only || e->heap == NULL)
			continue;
		*e->slot.f = NULL;
		pgml_free(e->heap);
		e->heap = NULL;
		e->data = NULL;
		e->bytes = 0;
		e->kind = SLOT_NONE;
	}
}

/* Byte sizes of a q8 weight's three arrays (as pgml_q8_quantize allocates them). */
static void
q8_sizes(size_t N, size_t K, size_t sizes[3])
{
	size_t		np = (N + 31) / 32 * 32,
				Kp = (K + 3) / 4 * 4;

	sizes[0] = np * Kp;
	sizes[1] = np * sizeof(float);
	sizes[2] = np * sizeof(int32_t);
}

static const char *const q8_parts[3] = {"w", "scale", "wsum"};

bool
pgml_derived_get_q8(pgml_derived *d, const char *name, size_t N, size_t K, pgml_q8_weight *q)
{
	size_t		sizes[3];
	const void *p[3];
	size_t		mark = d->n;

	if (d->hdr == NULL || N == 0 || K == 0 || N > ((size_t) 1 << 30) || K > ((size_t) 1 << 20))
		return false;
	q8_sizes(N, K, sizes);
	for (int i = 0; i < 3; i++)
	{
		char		full[PGML_DERIVED_NAME_MAX + 64];

		snprintf(full, sizeof(full), "%s[%zux%zu]:%s", name, N, K, q8_parts[i]);
		if ((p[i] = fetch(d, full, sizes[i])) == NULL)
		{
			d->n = mark;		/* forget the parts fetched so far */
			return false;
		}
	}
	memset(q, 0, sizeof(*q));
	q->w = (int8_t *) p[0];
	q->scale = (float *) p[1];
	q->wsum = (int32_t *) p[2];
	q->N = N;
	q->K = K;
	q->Kp = (K + 3) / 4 * 4;
	q->borrowed = true;
	return true;
}

pgml_status
pgml_derived_add_q8(pgml_derived *d, const char *name, pgml_q8_weight *q, pgml_err *err)
{
	size_t		sizes[3];
	void	   *bufs[3] = {q->w, q->scale, q->wsum};
	static const slot_kind kinds[3] = {SLOT_Q8_W, SLOT_Q8_SCALE, SLOT_Q8_WSUM};
	int			i;

	q8_sizes(q->N, q->K, sizes);
	q->borrowed = true;			/* from here on the set owns the buffers */
	for (i = 0; i < 3; i++)
	{
		char		full[PGML_DERIVED_NAME_MAX + 64];
		entry	   *e;

		snprintf(full, sizeof(full), "%s[%zux%zu]:%s", name, q->N, q->K, q8_parts[i]);
		e = new_entry(d, full, sizes[i]);
		if (e == NULL)
			break;
		e->heap = bufs[i];
		e->data = bufs[i];
		e->kind = kinds[i];
		e->slot.q = q;
	}
	if (i < 3)
	{
		for (; i < 3; i++)
			pgml_free(bufs[i]);
		return pgml_error(err, PGML_ERR_OUT_OF_MEMORY, "out of memory");
	}
	return PGML_OK;
}

static bool
write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;

	while (len > 0)
	{
		ssize_t		w = write(fd, p, len);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return false;
		p += w;
		len -= (size_t) w;
	}
	return true;
}

/*
 * Removes temporary files of this path (PATH.tmp.PID.N) older than STALE_TMP_SECONDS: left by a process
 * that died while writing. A live writer finishes in seconds, so an hour-old one is not being written.
 */
#define STALE_TMP_SECONDS 3600

static void
remove_stale_tmp(const char *path)
{
	const char *slash = strrchr(path, '/');
	char	   *dir = slash ? pgml_strndup(path, (size_t) (slash - path)) : pgml_strdup(".");
	const char *base = slash ? slash + 1 : path;
	size_t		blen = strlen(base);
	DIR		   *dh;
	struct dirent *de;
	time_t		now = time(NULL);

	if (dir == NULL || (dh = opendir(dir)) == NULL)
	{
		pgml_free(dir);
		return;
	}
	while ((de = readdir(dh)) != NULL)
	{
		char	   *full;
		struct stat sb;

		if (strncmp(de->d_name, base, blen) != 0 || strncmp(de->d_name + blen, ".tmp.", 5) != 0)
			continue;
		full = pgml_asprintf("%s/%s", dir, de->d_name);
		if (full != NULL && lstat(full, &sb) == 0 && S_ISREG(sb.st_mode) &&
			now - sb.st_mtime > STALE_TMP_SECONDS)
			unlink(full);
		pgml_free(full);
	}
	closedir(dh);
	pgml_free(dir);
}

/* Writes every entry to a new file at d->path; returns its mapping or NULL (nothing changed). */
static void *
write_file(pgml_derived *d, size_t *size_out, size_t *offsets)
{
	static atomic_uint counter;
	char	   *tmp;
	int			fd;
	size_t		table_end = HEADER_SIZE + d->n * ENTRY_SIZE,
				off = (table_end + ALIGN - 1) / ALIGN * ALIGN,
				pos;
	file_header h;
	file_entry *t;
	void	   *map = NULL;
	static const char zeros[ALIGN];

	if (d->n > MAX_ENTRIES)
		return NULL;
	for (size_t i = 0; i < d->n; i++)
	{
		offsets[i] = off;
		if (d->e[i].bytes > SIZE_MAX / 2 - off)
			return NULL;
		off = (off + d->e[i].bytes + ALIGN - 1) / ALIGN * ALIGN;
	}
	t = pgml_calloc(d->n ? d->n : 1, sizeof(file_entry));
	tmp = pgml_asprintf("%s.tmp.%ld.%u", d->path, (long) getpid(), atomic_fetch_add(&counter, 1));
	if (t == NULL || tmp == NULL)
	{
		pgml_free(t);
		pgml_free(tmp);
		return NULL;
	}
	memset(&h, 0, sizeof(h));
	memcpy(h.magic, MAGIC, 8);
	h.version = VERSION;
	h.n_entries = (uint32_t) d->n;
	h.file_size = off;
	memcpy(h.key, d->key, 32);
	for (size_t i = 0; i < d->n; i++)
	{
		strcpy(t[i].name, d->e[i].name);
		t[i].offset = offsets[i];
		t[i].bytes = d->e[i].bytes;
	}
	fd = open(tmp, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (fd < 0)
		goto out;
	pos = table_end;
	if (!write_all(fd, &h, sizeof(h)) || !write_all(fd, t, d->n * ENTRY_SIZE))
		goto fail;
	for (size_t i = 0; i < d->n; i++)
	{
		if (!write_all(fd, zeros, offsets[i] - pos) || !write_all(fd, d->e[i].data, d->e[i].bytes))
			goto fail;
		pos = offsets[i] + d->e[i].bytes;
	}
	if (!write_all(fd, zeros, off - pos) || fsync(fd) != 0)
		goto fail;
	map = mmap(NULL, off, PROT_READ, MAP_SHARED, fd, 0);
	if (map == MAP_FAILED)
	{
		map = NULL;
		goto fail;
	}
	if (rename(tmp, d->path) != 0)
	{
		munmap(map, off);
		map = NULL;
		goto fail;
	}
	close(fd);
	*size_out = off;
	goto out;
fail:
	close(fd);
	unlink(tmp);
out:
	pgml_free(t);
	pgml_free(tmp);
	return map;
}

pgml_status
pgml_derived_commit(pgml_derived *d, pgml_err *err)
{
	size_t	   *offsets;
	size_t		size = 0;
	char	   *map;
	bool		added = false;

	for (size_t i = 0; i < d->n && !added; i++)
		added = d->e[i].heap != NULL;
	if (d->path == NULL || !added)
	{
		drop_unshared(d);
		return PGML_OK;
	}
	offsets = pgml_malloc((d->n ? d->n : 1) * sizeof(size_t));
	if (offsets == NULL)
		return pgml_error(err, PGML_ERR_OUT_OF_MEMORY, "out of memory");
	remove_stale_tmp(d->path);
	map = write_file(d, &size, offsets);
	if (map != NULL && !push_map(d, map, size))
	{
		munmap(map, size);
		map = NULL;
	}
	if (map != NULL)
		for (size_t i = 0; i < d->n; i++)
		{
			entry	   *e = &d->e[i];
			void	   *p = map + offsets[i];

			if (e->heap == NULL)
				continue;
			switch (e->kind)
			{
				case SLOT_F32:
					*e->slot.f = p;
					break;
				case SLOT_Q8_W:
					e->slot.q->w = p;
					break;
				case SLOT_Q8_SCALE:
					e->slot.q->scale = p;
					break;
				case SLOT_Q8_WSUM:
					e->slot.q->wsum = p;
					break;
				case SLOT_NONE:
					continue;	/* a fetched entry never owns a heap copy */
			}
			e->data = p;
			pgml_free(e->heap);
			e->heap = NULL;
		}
	pgml_free(offsets);
	drop_unshared(d);			/* the file could not be written: no copies kept only to be shared */
	return PGML_OK;
}

size_t
pgml_derived_mapped_bytes(const pgml_derived *d)
{
	size_t		b = 0;

	for (size_t i = 0; d != NULL && i < d->n; i++)
		if (d->e[i].heap == NULL)
			b += d->e[i].bytes;
	return b;
}

size_t
pgml_derived_heap_bytes(const pgml_derived *d)
{
	size_t		b = 0;

	for (size_t i = 0; d != NULL && i < d->n; i++)
		if (d->e[i].heap != NULL)
			b += d->e[i].bytes;
	return b;
}

bool
pgml_derived_reused(const pgml_derived *d)
{
	return d != NULL && d->reused;
}
