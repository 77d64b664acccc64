#!/usr/bin/env python3
"""One measured loadgen run against a fresh database: sends/s, CPU of the
server and of PostgreSQL (the backends of this database, and every process of
the cluster), connections, and the mean group-commit size from /metrics.
usage: scaling-measure.py LABEL BINARY CLIENTS TRANSPORTS ROUNDS DURATION [ENV=V ...]

LOADGEN is a built cmd/loadgen (env LOADGEN, default ./loadgen). PostgreSQL
at 127.0.0.1:5432 (user postgres, trust), psql on PATH. CPU is read from
/proc/<pid>/stat (utime + stime) of the server, of the backends that
pg_stat_activity lists for the run's database, and of every process of the
cluster, before and after the run; the group size from /metrics
(sessionhub_send_group_size). See docs/scaling.md."""
import os, re, subprocess, sys, time, urllib.request, json

LOADGEN = os.environ.get('LOADGEN', './loadgen')

label, binary, clients, transports, rounds, duration = sys.argv[1:7]
extra = sys.argv[7:]
TICK = os.sysconf('SC_CLK_TCK')
db = 'bench_' + re.sub(r'[^a-z0-9]', '_', label.lower())
psql = ['psql', '-h', '127.0.0.1', '-U', 'postgres', '-Atq']
subprocess.run(psql + ['-c', f'DROP DATABASE IF EXISTS {db} WITH (FORCE)'], check=True)
subprocess.run(psql + ['-c', f'CREATE DATABASE {db}'], check=True)
url = f'postgres://postgres@127.0.0.1:5432/{db}?sslmode=disable'
import socket
with socket.socket() as probe:  # a free port: never measure someone else's server
    probe.bind(('127.0.0.1', 0))
    port = probe.getsockname()[1]
env = dict(os.environ, DATABASE_URL=url, RATE_LIMIT_PER_MINUTE='0', PORT=str(port))
for kv in extra:
    k, v = kv.split('=', 1)
    env[k] = v
log = open(f'/tmp/{db}.log', 'w')
srv = subprocess.Popen([binary], env=env, stdout=log, stderr=log)
base = f'http://127.0.0.1:{port}'
for _ in range(300):
    if srv.poll() is not None:
        sys.exit(f'{binary} exited; see its log')
    try:
        if urllib.request.urlopen(base + '/readyz', timeout=1).status == 200:
            break
    except Exception:
        time.sleep(0.1)
else:
    sys.exit(f'{binary} did not become ready')

def cpu(pid):
    try:
        f = open(f'/proc/{pid}/stat').read().rsplit(')', 1)[1].split()
        return (int(f[11]) + int(f[12])) / TICK
    except Exception:
        return None

def ppid(pid):
    try:
        return int(open(f'/proc/{pid}/stat').read().rsplit(')', 1)[1].split()[1])
    except Exception:
        return -1

def backends():
    out = subprocess.run(psql + ['-c', f"SELECT pid FROM pg_stat_activity WHERE datname = '{db}'"], capture_output=True, text=True).stdout
    return [int(x) for x in out.split()]

def cluster_pids():
    ckpt = int(subprocess.run(psql + ['-c', "SELECT pid FROM pg_stat_activity WHERE backend_type = 'checkpointer'"], capture_output=True, text=True).stdout)
    master = ppid(ckpt)
    return [int(p) for p in os.listdir('/proc') if p.isdigit() and ppid(int(p)) == master] + [master]

def metrics():
    text = urllib.request.urlopen(base + '/metrics').read().decode()
    def val(name):
        m = re.search(r'^' + re.escape(name) + r' (\S+)$', text, re.M)
        return float(m.group(1)) if m else 0.0
    return val('sessionhub_send_group_size_sum'), val('sessionhub_send_group_size_count')

def total_cpu():
    f = open('/proc/stat').readline().split()[1:]
    vals = list(map(int, f))
    return sum(vals) / TICK, (vals[3] + vals[4]) / TICK  # all, idle+iowait

# the pool opens lazily: one warm-up call
subprocess.run([LOADGEN, '-url', base, '-c', clients, '-d', '1s', '-warmup', '0s', '-rounds', '1', '-transports', transports.split(',')[0]], capture_output=True)
pids_c = cluster_pids()
pids_b = backends()
c0 = {p: cpu(p) for p in pids_c}
s0 = cpu(srv.pid)
g0 = metrics()
t0 = time.time(); all0, idle0 = total_cpu()
out = subprocess.run([LOADGEN, '-url', base, '-c', clients, '-d', duration, '-rounds', rounds, '-transports', transports], capture_output=True, text=True)
t1 = time.time(); all1, idle1 = total_cpu()
conns = len(backends())
g1 = metrics()
c1 = {p: cpu(p) for p in pids_c}
s1 = cpu(srv.pid)
wall = t1 - t0
def delta(pids):
    return sum(c1[p] - c0[p] for p in pids if c0.get(p) is not None and c1.get(p) is not None)
pg_db = delta(pids_b)
pg_all = delta(pids_c)
groups = g1[1] - g0[1]
mean_group = (g1[0] - g0[0]) / groups if groups else 0
busy = ((all1 - all0) - (idle1 - idle0)) / wall
print(out.stdout.strip())
if out.returncode:
    print(out.stderr.strip())
print(json.dumps({'label': label, 'clients': int(clients), 'transports': transports, 'wall_s': round(wall, 1),
                  'server_cores': round((s1 - s0) / wall, 2), 'pg_db_backend_cores': round(pg_db / wall, 2),
                  'pg_cluster_cores': round(pg_all / wall, 2), 'machine_busy_cores': round(busy, 2),
                  'db_connections': conns, 'statements': int(groups), 'sends_in_statements': int(g1[0] - g0[0]),
                  'mean_group': round(mean_group, 2)}))
srv.terminate(); srv.wait(30)
subprocess.run(psql + ['-c', f'DROP DATABASE IF EXISTS {db} WITH (FORCE)'])
