#!/usr/bin/python3
"""bench/ml — pgml's classic machine learning against scikit-learn and XGBoost (Debian's packages).

For each dataset and algorithm: train with pgml.train (test_sampling 'last': the last 25% of rows test)
and with the reference library on the same split, and compare fit time and the test metric. Then
single-row pgml.predict throughput with pgbench (-M prepared, 4 clients, 2 threads).

Usage: bench/ml/run [--rows N] [--seconds S] [--only ALGO,...]
Writes bench/results/ml.md. Needs the extension installed and tools/deps.sh --bench.
"""
import argparse
import io
import json
import os
import platform
import subprocess
import sys
import tempfile
import time

import numpy as np
import psycopg2
from sklearn import cluster, datasets, decomposition, ensemble, linear_model, metrics, neighbors, svm

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

try:
    import xgboost
except ImportError:  # the table then has no xgboost reference
    xgboost = None


def reference(algorithm, task, hp):
    """The scikit-learn / XGBoost estimator pgml's algorithm stands for, or None."""
    reg = task == "regression"
    table = {
        "linear": lambda: linear_model.LinearRegression(**hp) if reg else linear_model.LogisticRegression(**hp),
        "ridge": lambda: linear_model.Ridge(**hp) if reg else linear_model.RidgeClassifier(**hp),
        "lasso": lambda: linear_model.Lasso(**hp),
        "elastic_net": lambda: linear_model.ElasticNet(**hp),
        "random_forest": lambda: ensemble.RandomForestRegressor(**hp) if reg else ensemble.RandomForestClassifier(**hp),
        "extra_trees": lambda: ensemble.ExtraTreesRegressor(**hp) if reg else ensemble.ExtraTreesClassifier(**hp),
        "gradient_boosting_trees": lambda: ensemble.GradientBoostingRegressor(**hp) if reg else ensemble.GradientBoostingClassifier(**hp),
        "svm": lambda: svm.SVR(**hp) if reg else svm.SVC(**hp),
        "hist_gradient_boosting": lambda: ensemble.HistGradientBoostingRegressor(**hp) if reg else ensemble.HistGradientBoostingClassifier(**hp),
        "nu_svm": lambda: svm.NuSVR(**hp) if reg else svm.NuSVC(**hp),
        "linear_svm": lambda: svm.LinearSVR(**hp) if reg else svm.LinearSVC(**hp),
        "knn": lambda: neighbors.KNeighborsRegressor(**hp) if reg else neighbors.KNeighborsClassifier(**hp),
        "kmeans": lambda: cluster.KMeans(**hp),
        "mini_batch_kmeans": lambda: cluster.MiniBatchKMeans(**hp),
        "pca": lambda: decomposition.PCA(**hp),
    }
    if algorithm in ("xgboost", "xgboost_random_forest"):
        if xgboost is None:
            return None
        if algorithm == "xgboost":
            return xgboost.XGBRegressor(**hp) if reg else xgboost.XGBClassifier(**hp)
        return xgboost.XGBRFRegressor(**hp) if reg else xgboost.XGBRFClassifier(**hp)
    make = table.get(algorithm)
    return make() if make else None


def score(task, model, x_test, y_test, x_train):
    if task == "regression":
        return "r2", metrics.r2_score(y_test, model.predict(x_test))
    if task == "classification":
        pred = model.predict(x_test)
        avg = "binary" if len(np.unique(y_test)) == 2 else "macro"
        return "f1", metrics.f1_score(y_test, pred, average=avg)
    if task == "clustering":
        # pgml samples 10,000 rows above that size (the silhouette is quadratic); so does the reference
        return "silhouette", metrics.silhouette_score(x_test, model.predict(x_test),
                                                      sample_size=min(10000, len(x_test)), random_state=0)
    z = model.transform(x_train)
    return "cumulative_explained_variance", float(z.var(axis=0).sum() / x_train.var(axis=0).sum())


class Cluster:
    """A throw-away cluster, as make test starts one."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="pgml-bench.")
        os.chmod(self.dir, 0o755)
        pgbin = subprocess.run([os.path.join(ROOT, "tools/pg-private-install"), os.path.join(self.dir, "install")],
                               capture_output=True, text=True, check=True).stdout.strip()
        self.env = dict(os.environ, PGML_DATA=os.path.join(self.dir, "cluster"), PGML_LISTEN="", PGML_PORT="5432",
                        PGML_PGBIN=pgbin)
        subprocess.run([os.path.join(ROOT, "tools/pgml-server"), "start"], env=self.env, check=True,
                       stdout=subprocess.DEVNULL)
        self.host = os.path.join(self.dir, "cluster", "run")
        self.conn = self.connect()
        self.sql("CREATE EXTENSION IF NOT EXISTS pgml")

    def connect(self):
        c = psycopg2.connect(host=self.host, port=5432, user="postgres", dbname="pgml")
        c.autocommit = True
        return c

    def sql(self, q, args=None):
        with self.conn.cursor() as cur:
            cur.execute(q, args)
            return cur.fetchall() if cur.description else None

    def stop(self):
        self.conn.close()
        subprocess.run([os.path.join(ROOT, "tools/pgml-server"), "stop"], env=self.env, stdout=subprocess.DEVNULL)
        subprocess.run(["rm", "-rf", self.dir])


def load_table(db, name, x, y):
    cols = ", ".join(f"f{i} real" for i in range(x.shape[1]))
    db.sql(f"DROP TABLE IF EXISTS {name}")
    db.sql(f"CREATE TABLE {name} ({cols}, y real)")
    buf = io.StringIO()
    np.savetxt(buf, np.column_stack([x, y]), delimiter=",", fmt="%.7g")
    buf.seek(0)
    with db.conn.cursor() as cur:
        cur.copy_expert(f"COPY {name} FROM STDIN WITH (FORMAT csv)", buf)


def split(x, y):
    n_test = int(round(len(x) * 0.25))
    n = len(x) - n_test
    return x[:n], y[:n] if y is not None else None, x[n:], y[n:] if y is not None else None


def bench_one(db, table, task, algorithm, hp, x, y, results):
    label = "y" if task in ("regression", "classification") else None
    project = f"bench {table} {algorithm}"
    db.sql("DELETE FROM pgml.projects WHERE name = %s", (project,))
    try:
        t0 = time.time()
        db.sql("SELECT * FROM pgml.train(%s, %s, %s, %s, algorithm => %s::pgml.algorithm, hyperparams => %s, "
               "test_sampling => 'last')", (project, task, table, label, algorithm, json.dumps(hp)))
        wall = time.time() - t0
    except psycopg2.Error as e:
        results.append((table, algorithm, None, None, None, None, str(e).splitlines()[0]))
        return
    m = db.sql("SELECT metrics FROM pgml.models m JOIN pgml.projects p ON p.id = m.project_id "
               "WHERE p.name = %s ORDER BY m.id DESC LIMIT 1", (project,))[0][0]
    name, ours = next((k, v) for k, v in m.items() if k in ("r2", "f1", "silhouette", "cumulative_explained_variance"))
    ref = reference(algorithm, task, hp)
    ref_fit = ref_score = None
    if ref is not None:
        x_train, y_train, x_test, y_test = split(x, y)
        t0 = time.time()
        if y_train is None:
            ref.fit(x_train)
        else:
            ref.fit(x_train, y_train)
        ref_fit = time.time() - t0
        ref_score = score(task, ref, x_test, y_test, x_train)[1]
    results.append((table, algorithm, m["fit_time"], ref_fit, ours, ref_score, f"{name}; train wall {wall:.2f} s"))


def pgbench(db, project, n_features, seconds):
    script = tempfile.NamedTemporaryFile("w", suffix=".sql", delete=False)
    values = ", ".join(f"{v:.3f}" for v in np.linspace(-1, 1, n_features))
    script.write(f"SELECT pgml.predict('{project}', ARRAY[{values}]::real[]);\n")
    script.close()
    out = subprocess.run(["/usr/lib/postgresql/15/bin/pgbench", "-n", "-M", "prepared", "-c", "4", "-j", "2",
                          "-T", str(seconds), "-f", script.name, "-h", db.host, "-p", "5432", "-U", "postgres", "pgml"],
                         capture_output=True, text=True, check=True).stdout
    os.unlink(script.name)
    for line in out.splitlines():
        if line.startswith("tps"):
            return float(line.split()[2])
    return None


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=1_000_000, help="rows of the synthetic datasets")
    ap.add_argument("--seconds", type=int, default=15, help="pgbench duration")
    ap.add_argument("--only", default="", help="comma-separated algorithms")
    ap.add_argument("--out", default="", help="results file name under bench/results (default ml.md)")
    args = ap.parse_args()
    only = set(filter(None, args.only.split(",")))
    load_start = os.getloadavg()[0]
    rng = np.random.default_rng(42)

    db = Cluster()
    try:
        small = {
            "diabetes": ("regression", datasets.load_diabetes(return_X_y=True)),
            "breast_cancer": ("classification", datasets.load_breast_cancer(return_X_y=True)),
            "digits": ("classification", datasets.load_digits(return_X_y=True)),
        }
        n = args.rows
        x_big = rng.standard_normal((n, 20)).astype(np.float32)
        w = rng.standard_normal(20)
        y_reg = (x_big @ w + 0.1 * rng.standard_normal(n)).astype(np.float32)
        y_clf = (y_reg > 0).astype(np.float32)
        tables = {}
        for name, (task, (x, y)) in small.items():
            x = x.astype(np.float32)
            y = y.astype(np.float32)
            load_table(db, name, x, y)
            tables[name] = (task, x, y)
        load_table(db, "synthetic_regression", x_big, y_reg)
        load_table(db, "synthetic_classification", x_big, y_clf)

        regression = ["linear", "ridge", "lasso", "elastic_net", "xgboost", "random_forest", "extra_trees",
                      "gradient_boosting_trees", "svm", "knn"]
        classification = ["linear", "ridge", "xgboost", "random_forest", "extra_trees", "gradient_boosting_trees",
                          "svm", "knn"]
        fast = ["linear", "ridge", "lasso", "xgboost", "random_forest", "lightgbm", "hist_gradient_boosting"]
        results = []
        for name, (task, x, y) in tables.items():
            for alg in regression if task == "regression" else classification:
                if not only or alg in only:
                    hp = {"n_estimators": 100} if alg in ("random_forest", "extra_trees", "xgboost") else {}
                    bench_one(db, name, task, alg, hp, x, y, results)
        for alg in fast:
            if not only or alg in only:
                hp = {"n_estimators": 100} if alg in ("random_forest", "xgboost") else {}
                if alg == "hist_gradient_boosting":
                    hp = {"early_stopping": False}
                bench_one(db, "synthetic_regression", "regression", alg, hp, x_big, y_reg, results)
                if alg != "lasso":
                    bench_one(db, "synthetic_classification", "classification", alg, hp, x_big, y_clf, results)
        for alg, task in (("kmeans", "clustering"), ("pca", "decomposition")):
            if not only or alg in only:
                hp = {"n_clusters": 8, "random_state": 0} if alg == "kmeans" else {"n_components": 5}
                db.sql("DROP VIEW IF EXISTS synthetic_features")
                db.sql("CREATE VIEW synthetic_features AS SELECT " + ", ".join(f"f{i}" for i in range(20))
                       + " FROM synthetic_regression")
                bench_one(db, "synthetic_features", task, alg, hp, x_big, None, results)

        # single-row prediction throughput: 11 features, linear and 100-tree xgboost
        x11 = rng.standard_normal((10000, 11)).astype(np.float32)
        y11 = (x11 @ rng.standard_normal(11)).astype(np.float32)
        load_table(db, "predict11", x11, y11)
        tps = {}
        for alg, hp in (("linear", {}), ("xgboost", {"n_estimators": 100})):
            db.sql("SELECT * FROM pgml.train(%s, 'regression', 'predict11', 'y', algorithm => %s::pgml.algorithm, "
                   "hyperparams => %s)", (f"predict {alg}", alg, json.dumps(hp)))
            tps[alg] = pgbench(db, f"predict {alg}", 11, args.seconds)
    finally:
        db.stop()

    lines = [
        "# Classic ML: pgml vs scikit-learn / XGBoost",
        "",
        f"Machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores. "
        f"Synthetic datasets: {args.rows:,} rows × 20 features (numpy default_rng(42)). "
        "Split: the last 25% of rows test (`test_sampling => 'last'`), the same rows for the reference. "
        "Fit times: pgml's `metrics.fit_time` (the fit alone, as the reference is timed); metric on the test rows.",
        "",
        f"Command: `bench/ml/run --rows {args.rows} --seconds {args.seconds}"
        f"{' --only ' + args.only if args.only else ''}{' --out ' + args.out if args.out else ''}`. "
        f"Load average during the run: {load_start:.1f} at the start, {os.getloadavg()[0]:.1f} at the end "
        "(other work on the machine slows both sides).",
        "",
        "| dataset | algorithm | pgml fit (s) | reference fit (s) | fit ratio | pgml metric | reference metric | Δ metric | notes |",
        "|---|---|---:|---:|---:|---:|---:|---:|---|",
    ]
    for table, alg, ours_t, ref_t, ours_m, ref_m, note in results:
        def f(v, p=4):
            return "" if v is None else f"{v:.{p}f}"
        ratio = f(ours_t / ref_t, 2) if ours_t and ref_t else ""
        delta = f(ours_m - ref_m) if ours_m is not None and ref_m is not None else ""
        lines.append(f"| {table} | {alg} | {f(ours_t, 3)} | {f(ref_t, 3)} | {ratio} | {f(ours_m)} | {f(ref_m)} | {delta} | {note} |")
    lines += ["", "Single-row `pgml.predict` throughput (pgbench `-M prepared -c 4 -j 2`, 11 features):", "",
              "| model | predictions/s |", "|---|---:|"]
    for alg, v in tps.items():
        lines.append(f"| {alg}{' (100 trees)' if alg == 'xgboost' else ''} | {v:,.0f} |")
    text = "\n".join(lines) + "\n"
    os.makedirs(os.path.join(ROOT, "bench/results"), exist_ok=True)
    with open(os.path.join(ROOT, "bench/results", args.out or "ml.md"), "w") as fh:
        fh.write(text)
    print(text)


if __name__ == "__main__":
    main()
