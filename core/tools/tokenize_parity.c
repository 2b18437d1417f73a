/*
 * tokenize-parity — encodes a corpus with a tokenizer.json and prints ids and byte offsets, for the
 * parity check against the Hugging Face tokenizers library (tools/tokenizer_parity/oracle.js).
 *
 *   tokenize-parity TOKENIZER.json CORPUS.jsonl INVALID.txt      parity lines on stdout
 *   tokenize-parity --bench SECONDS TOKENIZER.json CORPUS.jsonl  single-thread throughput
 *
 * Lines: "<i> S|N|P <id>:<begin>:<end> ..." (S with special tokens, N without, P pair of i and i+1),
 * "<i> D <json>" (decode of S, skipping special tokens), "<i> E <sqlstate>" for an invalid string.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "pgml/json.h"
#include "pgml/tokenizer.h"

static char **
read_corpus(const char *path, size_t **lens, size_t *n)
{
	FILE	   *f = fopen(path, "r");
	char	   *line = NULL;
	size_t		cap = 0,
				k = 0,
				vcap = 1024;
	ssize_t		l;
	char	  **v = malloc(vcap * sizeof(char *));

	*lens = malloc(vcap * sizeof(size_t));
	if (f == NULL)
	{
		fprintf(stderr, "cannot open %s\n", path);
		exit(2);
	}
	while ((l = getline(&line, &cap, f)) > 0)
	{
		json_error_t jerr;
		json_t	   *j = json_loadb(line, (size_t) l, JSON_DECODE_ANY | JSON_ALLOW_NUL, &jerr);

		if (j == NULL || !json_is_string(j))
		{
			fprintf(stderr, "bad corpus line %zu\n", k + 1);
			exit(2);
		}
		if (k == vcap)
		{
			vcap *= 2;
			v = realloc(v, vcap * sizeof(char *));
			*lens = realloc(*lens, vcap * sizeof(size_t));
		}
		(*lens)[k] = json_string_length(j);
		v[k] = malloc((*lens)[k] + 1);
		memcpy(v[k], json_string_value(j), (*lens)[k] + 1);
		k++;
		json_decref(j);
	}
	free(line);
	fclose(f);
	*n = k;
	return v;
}

static void
print_enc(size_t i, const char *tag, const pgml_encoding *e)
{
	printf("%zu %s", i, tag);
	for (size_t t = 0; t < e->n; t++)
		printf(" %d:%u:%u", e->ids[t], e->offsets[2 * t], e->offsets[2 * t + 1]);
	printf("\n");
}

static void
print_json_string(const char *s)
{
	json_t	   *j = json_stringn(s, strlen(s));
	char	   *d = j ? json_dumps(j, JSON_ENCODE_ANY | JSON_ENSURE_ASCII) : NULL;

	printf("%s\n", d ? d : "null");
	free(d);
	json_decref(j);
}

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double) ts.tv_sec + ts.tv_nsec * 1e-9;
}

int
main(int argc, char **argv)
{
	pgml_tokenizer *tok;
	pgml_err	err;
	char	  **corpus;
	size_t	   *lens,
				n;
	pgml_encode_opts o;

	if (argc == 5 && strcmp(argv[1], "--bench") == 0)
	{
		double		secs = atof(argv[2]),
					t0,
					t1;
		size_t		strings = 0,
					tokens = 0;

		if (pgml_tokenizer_load_file(argv[3], &tok, &err) != PGML_OK)
		{
			fprintf(stderr, "%s: %s %s\n", argv[3], err.msg, err.detail);
			return 1;
		}
		corpus = read_corpus(argv[4], &lens, &n);
		pgml_encode_opts_init(&o);
		o.add_special_tokens = false;
		o.truncate = false;
		t0 = now();
		do
		{
			for (size_t i = 0; i < n; i++)
			{
				pgml_encoding e;

				if (pgml_tokenizer_encode(tok, corpus[i], lens[i], NULL, 0, &o, &e, &err) == PGML_OK)
					for (size_t t = 0; t < e.n; t++)
						tokens += e.attention_mask[t];	/* padding from tokenizer.json is not counted */
				pgml_encoding_free(&e);
				strings++;
			}
			t1 = now();
		} while (t1 - t0 < secs);
		printf("%.1f %.1f\n", strings / (t1 - t0), tokens / (t1 - t0));
		pgml_tokenizer_free(tok);
		for (size_t i = 0; i < n; i++)
			free(corpus[i]);
		free(corpus);
		free(lens);
		return 0;
	}
	if (argc != 4)
	{
		fprintf(stderr, "usage: tokenize-parity TOKENIZER.json CORPUS.jsonl INVALID.txt\n");
		return 2;
	}
	if (pgml_tokenizer_load_file(argv[1], &tok, &err) != PGML_OK)
	{
		fprintf(stderr, "%s: %s %s\n", argv[1], err.msg, err.detail);
		return 1;
	}
	corpus = read_corpus(argv[2], &lens, &n);
	for (size_t i = 0; i < n; i++)
	{
		pgml_encoding e;

		pgml_encode_opts_init(&o);
		if (pgml_tokenizer_encode(tok, corpus[i], lens[i], NULL, 0, &o, &e, &err) != PGML_OK)
			printf("%zu S error %s\n", i, err.msg);
		else
		{
			print_enc(i, "S", &e);
			if (i % 5 == 0)
			{
				char	   *d;
				size_t		k = 0;

				/* the real tokens (padding removed), as the oracle decodes them */
				for (size_t t = 0; t < e.n; t++)
					if (e.attention_mask[t])
						e.ids[k++] = e.ids[t];
				if (pgml_tokenizer_decode(tok, e.ids, k, true, &d, &err) != PGML_OK)
					printf("%zu D error %s\n", i, err.msg);
				else
				{
					printf("%zu D ", i);
					print_json_string(d);
					pgml_free(d);
				}
			}
			pgml_encoding_free(&e);
		}
		o.add_special_tokens = false;
		if (pgml_tokenizer_encode(tok, corpus[i], lens[i], NULL, 0, &o, &e, &err) != PGML_OK)
			printf("%zu N error %s\n", i, err.msg);
		else
		{
			print_enc(i, "N", &e);
			pgml_encoding_free(&e);
		}
		if (i % 10 == 0 && i + 1 < n)
		{
			pgml_encode_opts_init(&o);
			if (pgml_tokenizer_encode(tok, corpus[i], lens[i], corpus[i + 1], lens[i + 1], &o, &e, &err) != PGML_OK)
				printf("%zu P error %s\n", i, err.msg);
			else
			{
				print_enc(i, "P", &e);
				pgml_encoding_free(&e);
			}
		}
	}
	{
		FILE	   *f = fopen(argv[3], "r");
		char		line[4096];
		size_t		k = 0;

		while (f && fgets(line, sizeof(line), f))
		{
			unsigned char buf[2048];
			size_t		bl = 0;
			pgml_encoding e;

			for (size_t p = 0; line[p] && line[p + 1] && line[p] != '\n'; p += 2)
			{
				unsigned int b;

				sscanf(line + p, "%2x", &b);
				buf[bl++] = (unsigned char) b;
			}
			pgml_encode_opts_init(&o);
			if (pgml_tokenizer_encode(tok, (const char *) buf, bl, NULL, 0, &o, &e, &err) == PGML_OK)
			{
				printf("%zu E ok\n", k);
				pgml_encoding_free(&e);
			}
			else
				printf("%zu E %s\n", k, pgml_err_get_sqlstate(&err));
			k++;
		}
		if (f)
			fclose(f);
	}
	pgml_tokenizer_free(tok);
	for (size_t i = 0; i < n; i++)
		free(corpus[i]);
	free(corpus);
	free(lens);
	return 0;
}
