#!/usr/bin/env python3
"""fake_hub.py - a local stand-in for the Hugging Face hub, for tests and the demo tour.

Serves the model repositories under --root (<root>/<org>/<name>/<files>, or <root>/<name>/<files>) the
way huggingface.co does for downloads, so pgml's hub module (and huggingface_hub itself) can fetch
from it with pgml.hub_endpoint = 'http://127.0.0.1:<port>':

  HEAD/GET /<org>/<name>/resolve/<revision>/<path>
      revision: "main" or the repository's commit (a sha1 of its file list and contents)
      small files: 200, ETag "<git blob sha1>", X-Repo-Commit, Content-Length, Range support
      files larger than --lfs-threshold (1 MB): 302 to /cdn/<sha256> with X-Linked-Etag "<sha256>",
      X-Linked-Size and X-Repo-Commit; the CDN path serves the bytes (ETag "<sha256>", Range support)
      missing file: 404 X-Error-Code: EntryNotFound (with X-Repo-Commit); unknown revision: 404
      RevisionNotFound; unknown repository: 404 RepoNotFound
  With --token T every /resolve/ request must carry "Authorization: Bearer T" (else 401), as for a
  gated model; the CDN path needs none.

Usage: python3 tools/fake_hub.py --root DIR [--host 127.0.0.1] [--port 0] [--port-file F] [--log F]
The chosen port is printed on stdout (one line) and written to --port-file. Standard library only.
"""
import argparse
import hashlib
import http.server
import os
import posixpath
import re
import sys
import threading
import urllib.parse

ID_PART = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


class Repos:
    """The repositories under root, with digests cached by (path, size, mtime)."""

    def __init__(self, root, lfs_threshold):
        self.root = os.path.realpath(root)
        self.lfs_threshold = lfs_threshold
        self.lock = threading.Lock()
        self.digests = {}  # path -> ((size, mtime), sha256, git_sha1)
        self.by_sha = {}  # sha256 -> path

    def repo_dir(self, repo_id):
        parts = repo_id.split("/")
        if not 1 <= len(parts) <= 2 or not all(ID_PART.match(p) and ".." not in p for p in parts):
            return None
        d = os.path.join(self.root, *parts)
        return d if os.path.isdir(d) else None

    def file_path(self, repo_dir, rel):
        if rel.startswith("/") or any(c in ("", ".", "..") for c in rel.split("/")):
            return None
        p = os.path.realpath(os.path.join(repo_dir, rel))
        if not p.startswith(os.path.realpath(repo_dir) + os.sep) or not os.path.isfile(p):
            return None
        return p

    def digest(self, path):
        st = os.stat(path)
        key = (st.st_size, st.st_mtime_ns)
        with self.lock:
            hit = self.digests.get(path)
            if hit and hit[0] == key:
                return hit[1], hit[2]
        sha256 = hashlib.sha256()
        sha1 = hashlib.sha1(b"blob %d\0" % st.st_size)
        with open(path, "rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                sha256.update(chunk)
                sha1.update(chunk)
        result = (sha256.hexdigest(), sha1.hexdigest())
        with self.lock:
            self.digests[path] = (key, result[0], result[1])
            self.by_sha[result[0]] = path
        return result

    def commit(self, repo_dir):
        """A stable fake commit: sha1 over the sorted (path, sha256) list."""
        h = hashlib.sha1()
        for dirpath, dirnames, filenames in os.walk(repo_dir):
            dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
            for name in sorted(filenames):
                if name.startswith("."):
                    continue
                p = os.path.join(dirpath, name)
                rel = os.path.relpath(p, repo_dir)
                h.update(rel.encode() + b"\0" + self.digest(p)[0].encode() + b"\n")
        return h.hexdigest()


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "fake-hub/1"

    def log_message(self, fmt, *args):
        if self.server.verbose:
            sys.stderr.write("fake_hub: " + (fmt % args) + "\n")

    def record(self, status):
        if self.server.log_path:
            with self.server.log_lock, open(self.server.log_path, "a") as f:
                f.write("%s %s %d\n" % (self.command, self.path, status))

    def reply(self, status, headers=(), body=b""):
        self.record(status)
        self.send_response(status)
        for k, v in headers:
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD" and body:
            self.wfile.write(body)

    def serve_file(self, path, size, headers):
        """200 or 206 (Range: bytes=N- or N-M) with the file's bytes."""
        start, end = 0, size - 1
        status = 200
        rng = self.headers.get("Range")
        if rng:
            m = re.match(r"^bytes=(\d+)-(\d*)$", rng.strip())
            if m:
                start = int(m.group(1))
                if m.group(2):
                    end = min(int(m.group(2)), size - 1)
                if start >= size or start > end:
                    self.reply(416, [("Content-Range", "bytes */%d" % size)] + headers)
                    return
                status = 206
                headers = headers + [("Content-Range", "bytes %d-%d/%d" % (start, end, size))]
        self.record(status)
        self.send_response(status)
        for k, v in headers + [("Accept-Ranges", "bytes"), ("Content-Length", str(end - start + 1))]:
            self.send_header(k, v)
        self.end_headers()
        if self.command == "HEAD":
            return
        with open(path, "rb") as f:
            f.seek(start)
            left = end - start + 1
            while left > 0:
                chunk = f.read(min(left, 1 << 20))
                if not chunk:
                    break
                self.wfile.write(chunk)
                left -= len(chunk)

    def handle_request(self):
        repos = self.server.repos
        url = urllib.parse.urlsplit(self.path)
        path = urllib.parse.unquote(url.path)
        if path.startswith("/cdn/"):
            sha = path[5:]
            with repos.lock:
                target = repos.by_sha.get(sha)
            if target is None or not os.path.isfile(target):
                self.reply(404)
                return
            self.serve_file(target, os.path.getsize(target), [("ETag", '"%s"' % sha)])
            return
        # /<repo id>/resolve/<revision>/<file>; the revision is URL-encoded ("refs%2Fpr%2F1")
        raw = url.path
        i = raw.find("/resolve/")
        if i <= 0:
            self.reply(404, [("X-Error-Code", "RepoNotFound")])
            return
        repo_id = urllib.parse.unquote(raw[1:i])
        rest = raw[i + len("/resolve/"):]
        if "/" not in rest:
            self.reply(404, [("X-Error-Code", "EntryNotFound")])
            return
        revision, rel = rest.split("/", 1)
        revision, rel = urllib.parse.unquote(revision), urllib.parse.unquote(rel)
        if self.server.token is not None:
            if self.headers.get("Authorization") != "Bearer " + self.server.token:
                self.reply(401, [("X-Error-Code", "GatedRepo")], b"Access to this model is restricted.\n")
                return
        repo_dir = repos.repo_dir(repo_id)
        if repo_dir is None:
            self.reply(404, [("X-Error-Code", "RepoNotFound")], b"Repository not found\n")
            return
        commit = repos.commit(repo_dir)
        if revision not in ("main", commit):
            self.reply(404, [("X-Error-Code", "RevisionNotFound")], b"Revision not found\n")
            return
        common = [("X-Repo-Commit", commit)]
        target = repos.file_path(repo_dir, rel)
        if target is None:
            self.reply(404, common + [("X-Error-Code", "EntryNotFound")], b"Entry not found\n")
            return
        size = os.path.getsize(target)
        sha256, sha1 = repos.digest(target)
        if size > repos.lfs_threshold:
            host = self.headers.get("Host") or "%s:%d" % self.server.server_address[:2]
            self.reply(302, common + [("X-Linked-Etag", '"%s"' % sha256), ("X-Linked-Size", str(size)),
                                      ("ETag", '"%s"' % sha256),
                                      ("Location", "http://%s/cdn/%s" % (host, sha256))])
            return
        self.serve_file(target, size, common + [("ETag", '"%s"' % sha1)])

    def do_GET(self):
        try:
            self.handle_request()
        except (BrokenPipeError, ConnectionResetError):
            pass

    do_HEAD = do_GET


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--root", required=True, help="directory of <org>/<name>/ model repositories")
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=0, help="0 picks a free port")
    ap.add_argument("--port-file", help="write the port here once listening")
    ap.add_argument("--token", help="require Authorization: Bearer TOKEN on /resolve/ (a gated model)")
    ap.add_argument("--lfs-threshold", type=int, default=1 << 20, help="files larger than this are LFS")
    ap.add_argument("--log", help="append one line per request: METHOD PATH STATUS")
    ap.add_argument("--verbose", action="store_true")
    args = ap.parse_args()
    if not os.path.isdir(args.root):
        ap.error("--root %s is not a directory" % args.root)

    server = http.server.ThreadingHTTPServer((args.host, args.port), Handler)
    server.daemon_threads = True
    server.repos = Repos(args.root, args.lfs_threshold)
    server.token = args.token
    server.verbose = args.verbose
    server.log_path = args.log
    server.log_lock = threading.Lock()
    port = server.server_address[1]
    if args.port_file:
        tmp = args.port_file + ".tmp"
        with open(tmp, "w") as f:
            f.write("%d\n" % port)
        os.replace(tmp, args.port_file)
    print(port, flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


if __name__ == "__main__":
    main()
