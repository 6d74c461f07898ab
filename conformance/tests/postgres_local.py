"""A real PostgreSQL server for the tests of hosts that share a queue
(`[server] store = "postgres://…"`): Debian's `postgresql` package (installed
by scripts/install-deps), a fresh cluster in a temporary folder, run as the
package's `postgres` user (initdb refuses root), on a free loopback port.

    cluster = PgCluster.start()
    url = cluster.create_database("async")   # a database of its own per host group
    cluster.restart(); cluster.stop()

Trust authentication on 127.0.0.1 only: the cluster lives as long as the
test session. bench/queue/shared.py uses it too, so it needs no pytest."""

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _binary(name):
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}")) or [shutil.which(name)]
    if not found[-1]:
        raise RuntimeError(f"PostgreSQL's {name} not found: run scripts/install-deps (Debian's postgresql)")
    return found[-1]


class PgCluster:
    def __init__(self, folder, port):
        self.folder = folder
        self.data = os.path.join(folder, "data")
        self.port = port
        self.log = os.path.join(folder, "server.log")

    @classmethod
    def start(cls):
        try:
            user = pwd.getpwnam("postgres")
        except KeyError:
            raise RuntimeError("no `postgres` user: run scripts/install-deps (Debian's postgresql)")
        folder = tempfile.mkdtemp(prefix="flick-pg-")
        os.chown(folder, user.pw_uid, user.pw_gid)
        cluster = cls(folder, free_port())
        cluster._as_postgres([_binary("initdb"), "-D", cluster.data, "-U", "postgres",
                              "--auth=trust", "--no-sync", "-E", "UTF8"])
        cluster._pg_ctl("start")
        return cluster

    def _as_postgres(self, argv, check=True):
        proc = subprocess.run(["runuser", "-u", "postgres", "--", *argv], capture_output=True,
                              text=True, timeout=120, cwd=self.folder)
        if check and proc.returncode != 0:
            raise RuntimeError(f"{' '.join(argv)} failed:\n{proc.stdout}{proc.stderr}\n{self.server_log()}")
        return proc

    def _pg_ctl(self, action, *extra):
        options = f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.folder} -c max_connections=200"
        self._as_postgres([_binary("pg_ctl"), "-D", self.data, "-l", self.log, "-o", options,
                           "-w", "-t", "60", *extra, action])

    def server_log(self):
        try:
            with open(self.log) as f:
                return f.read()[-3000:]
        except OSError:
            return ""

    def url(self, database="postgres"):
        return f"postgres://postgres@127.0.0.1:{self.port}/{database}"

    def psql(self, sql, database="postgres"):
        """Runs `sql`; returns its unaligned output."""
        proc = subprocess.run(["psql", "-X", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-d", self.url(database),
                               "-c", sql], capture_output=True, text=True, timeout=60)
        if proc.returncode != 0:
            raise RuntimeError(f"psql {sql!r}: {proc.stderr}")
        return proc.stdout.strip()

    def create_database(self, name):
        self.psql(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def restart(self, down_s=0.0):
        """Stops the server (fast: connections are cut), waits, starts it again."""
        self._pg_ctl("stop", "-m", "fast")
        time.sleep(down_s)
        self._pg_ctl("start")

    def stop(self):
        self._as_postgres([_binary("pg_ctl"), "-D", self.data, "-m", "immediate", "-w", "stop"], check=False)
        shutil.rmtree(self.folder, ignore_errors=True)
