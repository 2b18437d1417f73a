#!/usr/bin/python3
"""bench/vector — approximate nearest-neighbour search in pgml: pgml_hnsw and pgml_ivfflat (issue 4).

Dataset (issue 4): 100,000 vectors of 384 dims, "embedding-like", float32, from numpy's default_rng(42):

    W = rng.standard_normal((32, 384))                        # N(0,1)^(32×384)
    X = rng.standard_normal((n, 32)) @ W + 0.1·√32 · rng.standard_normal((n, 384))
    Q = the same two draws again for the 1,000 queries, continuing the same generator

Ground truth: exact cosine top-10 with numpy (float64). Data and ground truth are cached in
bench/vector/.cache. Then, in a throw-away cluster: COPY into items(id bigint, embedding pgml.vector(384));
CREATE INDEX ... USING pgml_hnsw (embedding pgml.vector_cosine_ops) WITH (m = 16, ef_construction = 64),
timed; for each pgml.hnsw_ef_search single-client QPS and recall@10 of the prepared
SELECT id FROM items ORDER BY embedding <=> $1 LIMIT 10. The same for a pgml.halfvec(384) column with
pgml.halfvec_cosine_ops, and for pgml_ivfflat over pgml.ivfflat_probes; an exact sequential scan for scale.

Usage: bench/vector/run [--rows N] [--queries N] [--only hnsw,halfvec,ivfflat,exact] [--lists N]
Writes bench/results/vector.md (unless --no-write). Needs tools/deps.sh --bench (numpy, psycopg2).
"""
import argparse
import io
import os
import platform
import shlex
import struct
import subprocess
import sys
import tempfile
import time

import numpy as np
import psycopg2

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CACHE = os.path.join(ROOT, "bench/vector/.cache")
LATENT = 32
K = 10


# ---------------------------------------------------------------------------------------------------------
# data

def generate(rows, queries, dim, seed=42):
    """The issue's dataset, exactly: one generator, W first, then the rows, then the queries."""
    rng = np.random.default_rng(seed)
    w = rng.standard_normal((LATENT, dim))
    noise = 0.1 * np.sqrt(LATENT)

    def draw(n):
        z = rng.standard_normal((n, LATENT))
        eps = rng.standard_normal((n, dim))
        return (z @ w + noise * eps).astype(np.float32)

    return draw(rows), draw(queries)


def exact_top_k(x, q, k=K, chunk=50):
    """Exact cosine top-k of every query (float64, chunked so memory stays small)."""
    xn = x.astype(np.float64)
    xn /= np.linalg.norm(xn, axis=1, keepdims=True)
    qn = q.astype(np.float64)
    qn /= np.linalg.norm(qn, axis=1, keepdims=True)
    out = np.empty((len(q), k), dtype=np.int64)
    for s in range(0, len(q), chunk):
        sim = qn[s:s + chunk] @ xn.T
        part = np.argpartition(-sim, k, axis=1)[:, :k]
        order = np.argsort(-np.take_along_axis(sim, part, axis=1), axis=1)
        out[s:s + chunk] = np.take_along_axis(part, order, axis=1)
    return out


def dataset(rows, queries, dim):
    """(x, q, truth), from the cache when it has them."""
    os.makedirs(CACHE, exist_ok=True)
    path = os.path.join(CACHE, f"embedding-like-{rows}x{dim}-q{queries}-seed42.npz")
    if os.path.exists(path):
        d = np.load(path)
        return d["x"], d["q"], d["truth"]
    t0 = time.time()
    x, q = generate(rows, queries, dim)
    print(f"generated {rows:,} + {queries:,} vectors in {time.time() - t0:.1f} s", flush=True)
    t0 = time.time()
    truth = exact_top_k(x, q)
    print(f"exact cosine top-{K} in {time.time() - t0:.1f} s", flush=True)
    tmp = path + ".tmp.npz"
    np.savez(tmp, x=x, q=q, truth=truth)
    os.replace(tmp, path)
    return x, q, truth


def vector_text(v):
    return "[" + ",".join(repr(float(e)) for e in v) + "]"


def copy_binary(x, first_id=0):
    """COPY ... (FORMAT binary) data for rows (id bigint, embedding pgml.vector): pgvector's binary layout
    (int16 dim, int16 unused, dim × float4, big-endian)."""
    n, dim = x.shape
    row = np.dtype([("nfields", ">i2"), ("idlen", ">i4"), ("id", ">i8"), ("veclen", ">i4"),
                    ("dim", ">i2"), ("unused", ">i2"), ("x", ">f4", (dim,))])
    rows = np.empty(n, dtype=row)
    rows["nfields"] = 2
    rows["idlen"] = 8
    rows["id"] = np.arange(first_id, first_id + n)
    rows["veclen"] = 4 + 4 * dim
    rows["dim"] = dim
    rows["unused"] = 0
    rows["x"] = x
    return b"PGCOPY\n\xff\r\n\x00" + struct.pack(">ii", 0, 0) + rows.tobytes() + struct.pack(">h", -1)


# ---------------------------------------------------------------------------------------------------------
# the cluster

class Cluster:
    """A throw-away cluster (tools/pgml-server), sized for a 100k-vector index."""

    def __init__(self, settings):
        self.dir = tempfile.mkdtemp(prefix="cluster.", dir=os.environ.get("PGML_BENCH_TMP"))
        os.chmod(self.dir, 0o755)
        self.env = dict(os.environ, PGML_DATA=self.dir, PGML_LISTEN="", PGML_PORT="5432")
        self.server("start")
        self.host = os.path.join(self.dir, "run")
        self.conn = self.connect()
        for k, v in settings.items():
            self.sql(f"ALTER SYSTEM SET {k} = '{v}'")
        self.conn.close()
        self.server("restart")
        self.conn = self.connect()
        self.sql("CREATE EXTENSION IF NOT EXISTS pgml")
        self.sql("ALTER DATABASE pgml SET search_path = public, pgml")
        self.conn.close()
        self.conn = self.connect()

    def server(self, cmd):
        subprocess.run([os.path.join(ROOT, "tools/pgml-server"), cmd], env=self.env, check=True,
                       stdout=subprocess.DEVNULL)

    def connect(self):
        c = psycopg2.connect(host=self.host, port=5432, user="postgres", dbname="pgml")
        c.autocommit = True
        return c

    def sql(self, q, args=None):
        with self.conn.cursor() as cur:
            cur.execute(q, args)
            return cur.fetchall() if cur.description else None

    def one(self, q, args=None):
        r = self.sql(q, args)
        return r[0][0] if r else None

    def stop(self):
        self.conn.close()
        self.server("stop")
        subprocess.run(["rm", "-rf", self.dir])


# ---------------------------------------------------------------------------------------------------------
# measurements

def run_queries(db, stmt, queries):
    """Executes the prepared statement once per query vector; returns (seconds, ids per query)."""
    results = []
    with db.conn.cursor() as cur:
        t0 = time.perf_counter()
        for v in queries:
            cur.execute(f"EXECUTE {stmt}(%s)", (v,))
            results.append([r[0] for r in cur.fetchall()])
        return time.perf_counter() - t0, results


def recall_at_k(results, truth):
    hits = sum(len(set(r[:K]) & set(t[:K].tolist())) for r, t in zip(results, truth))
    return hits / (K * len(truth))


def measure(db, table, type_name, setting, values, qtext, truth, warmup, index=True):
    """QPS and recall@10 for each value of the search GUC; says when the index does not answer the query."""
    stmt = f"knn_{table}"
    db.sql(f"DEALLOCATE ALL")
    db.sql(f"PREPARE {stmt}({type_name}) AS SELECT id FROM {table} ORDER BY embedding <=> $1 LIMIT {K}")
    plan = "\n".join(r[0] for r in db.sql(f"EXPLAIN (COSTS OFF) EXECUTE {stmt}(%s)", (qtext[0],)))
    used = ("Index Scan" in plan) == index
    rows = []
    for v in values:
        if setting:
            db.sql(f"SET {setting} = {v}")
        run_queries(db, stmt, qtext[:warmup])
        seconds, results = run_queries(db, stmt, qtext)
        rows.append((v, len(qtext) / seconds, recall_at_k(results, truth), used))
        print(f"  {table} {setting or ''} {v}: {len(qtext) / seconds:,.0f} QPS, recall@{K} "
              f"{rows[-1][2]:.4f}{'' if used else ' (unexpected plan: ' + plan + ')'}", flush=True)
    if setting:
        db.sql(f"RESET {setting}")
    return rows


def build_index(db, sql):
    t0 = time.perf_counter()
    db.sql(sql)
    return time.perf_counter() - t0


def has(db, what, name):
    q = {"am": "SELECT count(*) FROM pg_am WHERE amname = %s",
         "type": "SELECT count(*) FROM pg_type WHERE typname = %s AND typnamespace = 'pgml'::regnamespace",
         "opclass": "SELECT count(*) FROM pg_opclass WHERE opcname = %s"}[what]
    return db.one(q, (name,)) > 0


def machine():
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return f"{cpu}, {os.cpu_count()} cores, {mem:.0f} GiB memory"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=100_000)
    ap.add_argument("--queries", type=int, default=1_000)
    ap.add_argument("--dim", type=int, default=384)
    ap.add_argument("--only", default="hnsw,halfvec,ivfflat,exact", help="comma-separated: hnsw,halfvec,ivfflat,exact")
    ap.add_argument("--ef-search", default="40,100,200")
    ap.add_argument("--lists", type=int, default=316)
    ap.add_argument("--probes", default="10,20,40,80")
    ap.add_argument("--exact-queries", type=int, default=50, help="queries for the sequential-scan baseline")
    ap.add_argument("--no-write", action="store_true", help="print the table, do not write bench/results/vector.md")
    ap.add_argument("--note", default="", help="a sentence for the results page (what was measured, and why)")
    args = ap.parse_args()
    only = set(filter(None, args.only.split(",")))
    argv = " ".join(shlex.quote(a) for a in sys.argv[1:])
    load_start = os.getloadavg()[0]

    x, q, truth = dataset(args.rows, args.queries, args.dim)
    qtext = [vector_text(v) for v in q]
    warmup = min(200, len(qtext))
    vec = f"pgml.vector({args.dim})"
    half = f"pgml.halfvec({args.dim})"

    db = Cluster({"shared_buffers": "2GB", "maintenance_work_mem": "2GB", "work_mem": "64MB",
                  "max_wal_size": "4GB", "checkpoint_timeout": "30min", "jit": "off"})
    results = []      # (index, column type, build s, size MB, setting, value, qps, recall, index used)
    notes = []
    try:
        version = db.one("SELECT pgml.version()")          # loads the library, which defines its GUCs
        threads = db.one("SELECT current_setting('pgml.threads', true)")
        if not has(db, "type", "vector"):
            sys.exit("bench/vector: this build has no pgml.vector type yet")
        db.sql(f"CREATE TABLE items (id bigint, embedding {vec})")
        t0 = time.perf_counter()
        with db.conn.cursor() as cur:
            cur.copy_expert("COPY items FROM STDIN WITH (FORMAT binary)", io.BytesIO(copy_binary(x)))
        load_s = time.perf_counter() - t0
        db.sql("VACUUM ANALYZE items")
        print(f"loaded {args.rows:,} rows in {load_s:.1f} s", flush=True)

        def size_mb(index):
            return db.one("SELECT pg_relation_size(%s::regclass)", (index,)) / 2**20

        if "exact" in only:
            db.sql("SET enable_indexscan = off")
            db.sql("SET enable_bitmapscan = off")
            n = min(args.exact_queries, len(qtext))
            for v, qps, rec, used in measure(db, "items", vec, None, ["—"], qtext[:n], truth[:n], min(5, n),
                                             index=False):
                results.append(("exact (sequential scan)", "vector", None, None, "", v, qps, rec, used))
            db.sql("RESET enable_indexscan")
            db.sql("RESET enable_bitmapscan")

        if "hnsw" in only or "halfvec" in only:
            if not has(db, "am", "pgml_hnsw"):
                notes.append("pgml_hnsw is not available in this build: no HNSW rows.")
            else:
                if "hnsw" in only:
                    s = build_index(db, "CREATE INDEX items_hnsw ON items USING pgml_hnsw "
                                        "(embedding pgml.vector_cosine_ops) WITH (m = 16, ef_construction = 64)")
                    mb = size_mb("items_hnsw")
                    print(f"pgml_hnsw vector build: {s:.1f} s, {mb:.0f} MB", flush=True)
                    for v, qps, rec, used in measure(db, "items", vec, "pgml.hnsw_ef_search",
                                                     args.ef_search.split(","), qtext, truth, warmup):
                        results.append(("pgml_hnsw", "vector", s, mb, "ef_search", v, qps, rec, used))
                    db.sql("DROP INDEX items_hnsw")
                if "halfvec" in only:
                    if not (has(db, "type", "halfvec") and has(db, "opclass", "halfvec_cosine_ops")):
                        notes.append("pgml.halfvec / pgml.halfvec_cosine_ops are not available: no halfvec rows.")
                    else:
                        db.sql(f"CREATE TABLE items_half AS SELECT id, embedding::{half} AS embedding FROM items")
                        db.sql("VACUUM ANALYZE items_half")
                        s = build_index(db, "CREATE INDEX items_half_hnsw ON items_half USING pgml_hnsw "
                                            "(embedding pgml.halfvec_cosine_ops) WITH (m = 16, ef_construction = 64)")
                        mb = size_mb("items_half_hnsw")
                        print(f"pgml_hnsw halfvec build: {s:.1f} s, {mb:.0f} MB", flush=True)
                        for v, qps, rec, used in measure(db, "items_half", half, "pgml.hnsw_ef_search",
                                                         args.ef_search.split(","), qtext, truth, warmup):
                            results.append(("pgml_hnsw", "halfvec", s, mb, "ef_search", v, qps, rec, used))
                        db.sql("DROP TABLE items_half")

        if "ivfflat" in only:
            if not has(db, "am", "pgml_ivfflat"):
                notes.append("pgml_ivfflat is not available in this build: no IVFFlat rows.")
            else:
                s = build_index(db, "CREATE INDEX items_ivfflat ON items USING pgml_ivfflat "
                                    f"(embedding pgml.vector_cosine_ops) WITH (lists = {args.lists})")
                mb = size_mb("items_ivfflat")
                print(f"pgml_ivfflat build: {s:.1f} s, {mb:.0f} MB", flush=True)
                for v, qps, rec, used in measure(db, "items", vec, "pgml.ivfflat_probes",
                                                 args.probes.split(","), qtext, truth, warmup):
                    results.append((f"pgml_ivfflat (lists {args.lists})", "vector", s, mb, "probes", v, qps, rec,
                                    used))
                db.sql("DROP INDEX items_ivfflat")
    finally:
        db.stop()

    write(args, argv, results, notes, load_s, threads, version, load_start)


def write(args, argv, results, notes, load_s, threads, version, load_start):
    def f(v, p):
        return "" if v is None else f"{v:,.{p}f}"

    lines = [
        "# Vector search: pgml_hnsw and pgml_ivfflat",
        "",
        f"Machine: {machine()}. pgml {version}; pgml.threads = {threads}. "
        f"Load average {load_start:.1f} at the start, {os.getloadavg()[0]:.1f} at the end "
        "(other work on the machine slows everything down)." + (f" {args.note}" if args.note else ""),
        "",
        f"Dataset (issue 4): {args.rows:,} vectors of {args.dim} dims, embedding-like, float32, numpy "
        "`default_rng(42)`: `W = rng.standard_normal((32, dim))`, then for the rows "
        "`rng.standard_normal((n, 32)) @ W + 0.1·√32 · rng.standard_normal((n, dim))`, then the same two draws for "
        f"{args.queries:,} queries. Ground truth: exact cosine top-10 (numpy, float64). Loaded with COPY (binary) "
        f"into `items(id bigint, embedding pgml.vector({args.dim}))` in {load_s:.1f} s.",
        "",
        "Each QPS figure is one client running the prepared "
        "`SELECT id FROM items ORDER BY embedding <=> $1 LIMIT 10` once per query, sequentially, through "
        "psycopg2 (after a warm-up); recall@10 is |result ∩ exact top-10| / 10 averaged over the queries. "
        "The halfvec rows use a `pgml.halfvec` copy of the table with `pgml.halfvec_cosine_ops`. "
        "Server: shared_buffers 2GB, maintenance_work_mem 2GB.",
        "",
        "| index | column | build (s) | size (MB) | setting | QPS | recall@10 |",
        "|---|---|---:|---:|---|---:|---:|",
    ]
    for index, col, build, mb, setting, value, qps, rec, used in results:
        flag = "" if used else " (unexpected plan!)"
        lines.append(f"| {index} | {col} | {f(build, 1)} | {f(mb, 0)} | {setting} {value} | {qps:,.0f}{flag} | "
                     f"{rec:.4f} |")
    if notes:
        lines += [""] + [f"- {n}" for n in notes]
    lines += [
        "",
        "## Targets (issue 4)",
        "",
        "On this machine kind, pgvector 0.8 builds the HNSW index (m 16, ef_construction 64) in about 44 s and "
        "answers about 300 queries/s at recall@10 0.96 (ef_search 100). Targets for pgml_hnsw:",
        "",
        "| | pgvector 0.8 (issue) | target | pgml |",
        "|---|---:|---:|---:|",
    ]
    hnsw = [r for r in results if r[0] == "pgml_hnsw" and r[1] == "vector"]
    halfv = [r for r in results if r[0] == "pgml_hnsw" and r[1] == "halfvec"]
    build = f(hnsw[0][2], 1) + " s" if hnsw else "n/a"
    good = [r for r in hnsw if r[7] >= 0.95]
    best = max(good, key=lambda r: r[6]) if good else None
    qps = f"{best[6]:,.0f} (ef_search {best[5]}, recall {best[7]:.3f})" if best else "n/a"
    lines.append(f"| build time | ~44 s | ≤ 30 s | {build} |")
    lines.append(f"| QPS at recall@10 ≥ 0.95 | ~300 | ≥ 450 | {qps} |")
    if hnsw and halfv:
        gap = max(v[7] - h[7] for v in hnsw for h in halfv if v[5] == h[5])
        lines.append(f"| halfvec recall behind vector | | ≤ 0.05 | {gap:.4f} (largest gap over ef_search) |")
    else:
        lines.append("| halfvec recall behind vector | | ≤ 0.05 | n/a |")
    lines += [
        "",
        "## Commands",
        "",
        "```sh",
        "tools/deps.sh --bench",
        f"bench/vector/run {argv}".rstrip(),
        "```",
        "",
        "`bench/vector/run` builds, installs the extension into a private copy of PostgreSQL "
        "(`tools/pg-private-install`) and starts a throw-away cluster. The dataset and ground truth are cached in "
        "`bench/vector/.cache/`.",
    ]
    text = "\n".join(lines) + "\n"
    if not args.no_write:
        os.makedirs(os.path.join(ROOT, "bench/results"), exist_ok=True)
        with open(os.path.join(ROOT, "bench/results/vector.md"), "w") as fh:
            fh.write(text)
    print(text)


if __name__ == "__main__":
    main()
