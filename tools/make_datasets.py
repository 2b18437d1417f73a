#!/usr/bin/python3
"""Writes pg/data/*.csv, the built-in datasets of pgml.load_dataset, from Debian's python3-sklearn.

Run with Debian's interpreter (/usr/bin/python3, package python3-sklearn). The CSV files are committed; this
script only needs to run again if the source data changes. Column names, order and row counts follow
PostgresML's tables (see docs/sql-reference.md, pgml.load_dataset).
"""
import csv
import os
import sys

from sklearn import datasets

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "pg", "data")


def num(x):
    """Shortest text that round-trips the value (float64); PostgreSQL rounds to the column type."""
    v = float(x)
    return str(int(v)) if v.is_integer() else repr(v)


def write(name, header, rows):
    path = os.path.join(OUT, name + ".csv")
    with open(path, "w", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(header)
        n = 0
        for r in rows:
            w.writerow(r)
            n += 1
    print(f"{path}: {n} rows", file=sys.stderr)


def main():
    os.makedirs(OUT, exist_ok=True)

    d = datasets.load_iris()
    write("iris", ["sepal_length", "sepal_width", "petal_length", "petal_width", "target"],
          ([num(v) for v in x] + [int(t)] for x, t in zip(d.data, d.target)))

    d = datasets.load_diabetes()  # scaled features, as sklearn (and PostgresML) ship them
    write("diabetes", ["age", "sex", "bmi", "bp", "s1", "s2", "s3", "s4", "s5", "s6", "target"],
          ([num(v) for v in x] + [num(t)] for x, t in zip(d.data, d.target)))

    d = datasets.load_digits()
    def image(flat):
        px = [int(v) for v in flat]
        return "{" + ",".join("{" + ",".join(str(v) for v in px[r * 8:(r + 1) * 8]) + "}" for r in range(8)) + "}"
    write("digits", ["image", "target"], ([image(x), int(t)] for x, t in zip(d.data, d.target)))

    d = datasets.load_breast_cancer()
    # sklearn: target 0 = malignant, 1 = benign
    write("breast_cancer", list(d.feature_names) + ["malignant"],
          ([num(v) for v in x] + ["t" if t == 0 else "f"] for x, t in zip(d.data, d.target)))

    d = datasets.load_linnerud()
    write("linnerud", ["chins", "situps", "jumps", "weight", "waist", "pulse"],
          ([num(v) for v in x] + [num(v) for v in y] for x, y in zip(d.data, d.target)))

    d = datasets.load_wine()
    write("wine", list(d.feature_names) + ["target"],
          ([num(v) for v in x] + [int(t)] for x, t in zip(d.data, d.target)))


if __name__ == "__main__":
    main()
