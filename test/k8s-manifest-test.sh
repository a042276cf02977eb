#!/bin/sh
# k8s-manifest-test.sh - parses contrib/kubernetes/scope-plugin-host.yaml
# and checks the properties the deployment depends on: the plugin root
# must exist before the probe starts and never be removed (see
# docs/ARCHITECTURE.md, "What Scope's probe expects" 1).
#
# Needs a python3 with the yaml module (Debian: apt-get install
# python3-yaml); the whole test is skipped (exit 77) without one.
# Prints "N passed, N failed" and exits non-zero on a failure.

: "${srcdir:=$(dirname "$0")/..}"
MANIFEST=${MANIFEST:-$srcdir/contrib/kubernetes/scope-plugin-host.yaml}
DOCKERFILE=${DOCKERFILE:-$srcdir/contrib/Dockerfile}

if [ ! -f "$MANIFEST" ]; then
	echo "ERROR: $MANIFEST not found" >&2
	exit 99
fi

py=
for cand in python3 /usr/bin/python3; do
	if command -v "$cand" >/dev/null 2>&1 &&
	    "$cand" -c 'import yaml' >/dev/null 2>&1; then
		py=$cand
		break
	fi
done
if [ -z "$py" ]; then
	echo "SKIP: no python3 with the yaml module (apt-get install python3-yaml)"
	exit 77
fi

exec "$py" - "$MANIFEST" "$DOCKERFILE" <<'PYEOF'
import re
import sys

import yaml

manifest, dockerfile = sys.argv[1], sys.argv[2]
passed = failed = 0


def check(desc, cond, detail=""):
    global passed, failed
    if cond:
        passed += 1
        print("PASS: " + desc)
    else:
        failed += 1
        print("FAIL: " + desc + (": " + detail if detail else ""))


def finish():
    print("%d passed, %d failed" % (passed, failed))
    sys.exit(1 if failed else 0)


try:
    with open(manifest, encoding="utf-8") as f:
        docs = [d for d in yaml.safe_load_all(f) if d is not None]
    check("YAML parses", True)
except yaml.YAMLError as e:
    check("YAML parses", False, str(e).replace("\n", " "))
    finish()

check("every document has apiVersion, kind, metadata.name",
      all(isinstance(d, dict) and d.get("apiVersion") and d.get("kind")
          and isinstance(d.get("metadata"), dict) and d["metadata"].get("name")
          for d in docs))
kinds = [d.get("kind") for d in docs if isinstance(d, dict)]
check("no Namespace object (kubectl delete must not remove Scope's)",
      "Namespace" not in kinds)
ds = [d for d in docs if isinstance(d, dict) and d.get("kind") == "DaemonSet"]
check("exactly one DaemonSet", len(ds) == 1, "kinds: %r" % kinds)
if len(ds) != 1:
    finish()
ds = ds[0]
check("DaemonSet apiVersion apps/v1", ds.get("apiVersion") == "apps/v1")

spec = ds.get("spec") or {}
tmpl = spec.get("template") or {}
pod = tmpl.get("spec") or {}
sel = (spec.get("selector") or {}).get("matchLabels") or {}
labels = (tmpl.get("metadata") or {}).get("labels") or {}
check("selector matches the pod template labels",
      sel and all(labels.get(k) == v for k, v in sel.items()))

check("hostPID: true (procfds must see the node's processes and PIDs)",
      pod.get("hostPID") is True)
check("hostNetwork: true (network reads the node's /proc/net/dev)",
      pod.get("hostNetwork") is True)
check("tolerates every taint (runs on every node, like the probe)",
      any(t.get("operator") == "Exists" and not t.get("key")
          and not t.get("effect") for t in pod.get("tolerations") or []))
check("service account token not mounted",
      pod.get("automountServiceAccountToken") is False)

volumes = {v.get("name"): v for v in pod.get("volumes") or []}
root = [v for v in volumes.values()
        if (v.get("hostPath") or {}).get("path", "").rstrip("/")
        in ("/var/run/scope/plugins", "/run/scope/plugins")]
check("hostPath volume for /var/run/scope/plugins", len(root) == 1)
if root:
    check("plugin root hostPath type DirectoryOrCreate",
          root[0]["hostPath"].get("type") == "DirectoryOrCreate",
          repr(root[0]["hostPath"].get("type")))
check("no hostPath on a parent of the plugin root",
      not any((v.get("hostPath") or {}).get("path", "").rstrip("/")
              in ("", "/var/run", "/run", "/var/run/scope", "/run/scope", "/var")
              for v in volumes.values() if v.get("hostPath")))

containers = pod.get("containers") or []
check("one container", len(containers) == 1)
if len(containers) != 1:
    finish()
c = containers[0]
check("image set", bool(c.get("image")))
mounts = c.get("volumeMounts") or []
rootm = [m for m in mounts if root and m.get("name") == root[0].get("name")]
check("plugin root mounted at /var/run/scope/plugins (the default socket dir)",
      len(rootm) == 1 and rootm[0].get("mountPath", "").rstrip("/")
      == "/var/run/scope/plugins")
check("plugin root mounted read-write",
      len(rootm) == 1 and not rootm[0].get("readOnly"))
check("every mount names a declared volume",
      all(m.get("name") in volumes for m in mounts))

sc = c.get("securityContext") or {}
caps = sc.get("capabilities") or {}
check("not privileged", sc.get("privileged") is not True)
check("allowPrivilegeEscalation: false", sc.get("allowPrivilegeEscalation") is False)
check("readOnlyRootFilesystem: true", sc.get("readOnlyRootFilesystem") is True)
check("capabilities: drop ALL", "ALL" in (caps.get("drop") or []))
add = set(caps.get("add") or [])
check("capabilities added only from DAC_READ_SEARCH, SYS_PTRACE",
      add <= {"DAC_READ_SEARCH", "SYS_PTRACE"}, repr(sorted(add)))
check("DAC_READ_SEARCH added (procfds lists /proc/PID/fd)",
      "DAC_READ_SEARCH" in add)
check("SYS_PTRACE added (procfds reads /proc/PID/io)", "SYS_PTRACE" in add)

res = c.get("resources") or {}
check("cpu and memory requests set",
      all(k in (res.get("requests") or {}) for k in ("cpu", "memory")))
check("memory limit set", "memory" in (res.get("limits") or {}))

probe_cmds = [" ".join(map(str, (p.get("exec") or {}).get("command") or []))
              for p in (c.get(k) for k in ("livenessProbe", "readinessProbe",
                                           "startupProbe")) if p]
check("no probe runs --check (it would restart every module for one bad one)",
      not any("--check" in cmd for cmd in probe_cmds))

args = [str(a) for a in (c.get("args") or [])]
check("args are options", all(a.startswith("--") for a in args), repr(args))
check("--foreground not dropped by a command override",
      "command" not in c or "--foreground" in " ".join(map(str, c["command"] + args)))
mpaths = {m.get("mountPath", "").rstrip("/"): m for m in mounts}
for a in args:
    m = re.match(r"--param=[A-Za-z0-9-]+\.(proc|sys|cgroup)_root=(.*)$", a)
    if m:
        p = m.group(2).rstrip("/")
        check("%s is a read-only mount" % a,
              p in mpaths and mpaths[p].get("readOnly") is True)

# containers: the node's cgroup tree, not the pod's cgroup namespace.
cg = [re.match(r"--param=containers\.cgroup_root=(.*)$", a) for a in args]
cg = [m.group(1).rstrip("/") for m in cg if m]
check("containers.cgroup_root set once", len(cg) == 1, repr(cg))
if len(cg) == 1:
    m = mpaths.get(cg[0]) or {}
    v = volumes.get(m.get("name")) or {}
    check("containers.cgroup_root is the node's /sys/fs/cgroup (hostPath)",
          (v.get("hostPath") or {}).get("path", "").rstrip("/")
          == "/sys/fs/cgroup", repr(v))
    check("the node's cgroup fs is mounted read-only",
          m.get("readOnly") is True)
    check("its v1 controller mounts reach the pod (HostToContainer)",
          m.get("mountPropagation") == "HostToContainer")

try:
    with open(dockerfile, encoding="utf-8") as f:
        df = f.read()
    froms = re.findall(r"^FROM\s+(\S+)", df, re.M)
    check("Dockerfile based on Debian bookworm",
          froms and all(x.startswith("debian:bookworm") for x in froms), repr(froms))
    run = re.search(r"^#\s+docker run .*?(?=^#\s*$|^[^#])", df, re.M | re.S)
    run = run.group(0) if run else ""
    check("Dockerfile's docker run mounts the node's cgroup fs read-only",
          re.search(r"-v /sys/fs/cgroup:(\S+):ro\b", run) is not None, run)
    m = re.search(r"-v /sys/fs/cgroup:(\S+):ro\b", run)
    check("Dockerfile's docker run points containers.cgroup_root at it",
          m is not None and "containers.cgroup_root=%s" % m.group(1) in run)
    ep = re.findall(r"^ENTRYPOINT\s+(.*)$", df, re.M)
    check("Dockerfile entrypoint runs scope-plugin-host --foreground",
          ep and "scope-plugin-host" in ep[-1] and "--foreground" in ep[-1])
except OSError:
    print("note: %s not found, Dockerfile checks left out" % dockerfile)

finish()
PYEOF
