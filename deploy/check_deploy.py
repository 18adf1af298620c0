#!/usr/bin/env python3
"""Checks of deploy/ that no off-the-shelf linter makes.

    check_deploy.py consistency        # manifests agree with each other and with the repo
    check_deploy.py dockerfile         # the documented Dockerfile rules (see below)
    check_deploy.py ldd BINARY         # the binary needs only the runtime image's libraries
    check_deploy.py healthcheck        # print the Dockerfile's HEALTHCHECK command (for a live run)

Each prints its findings and exits 1 if there is any.
"""

import glob
import json
import os
import re
import shlex
import subprocess
import sys

import yaml

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
K8S = os.path.join(HERE, "kubernetes")
PORT = 9741
JOB = "mitra-exporter"

# Packages every debian:bookworm-slim image already has: libc6 is Essential, libgcc-s1
# and libstdc++6 come with apt, zlib1g with dpkg, libpcre2-8-0 with grep (Essential).
BASE_IMAGE_PACKAGES = {"libc6", "libgcc-s1", "libstdc++6", "zlib1g", "libpcre2-8-0"}


def load_all(path):
    with open(path) as handle:
        return [d for d in yaml.safe_load_all(handle) if d]


def manifests():
    found = {}
    for path in sorted(glob.glob(os.path.join(K8S, "*.yaml"))):
        if os.path.basename(path) == "kustomization.yaml":
            continue
        for document in load_all(path):
            found[(document["kind"], document["metadata"]["name"])] = (os.path.basename(path), document)
    return found


def report(problems, what):
    for problem in problems:
        print(problem, file=sys.stderr)
    print(f"{what}: {len(problems)} problems")
    return 1 if problems else 0


# ---------------------------------------------------------------------------------------------


def consistency():
    problems = []
    objects = manifests()

    def get(kind, name):
        item = objects.get((kind, name))
        if item is None:
            problems.append(f"no {kind} {name}")
            return None
        return item[1]

    kustomization = load_all(os.path.join(K8S, "kustomization.yaml"))[0]
    listed = set(kustomization["resources"])
    present = {os.path.basename(p) for p in glob.glob(os.path.join(K8S, "*.yaml"))} - {"kustomization.yaml"}
    for missing in sorted(listed - present):
        problems.append(f"kustomization.yaml lists {missing}, which does not exist")
    for unlisted in sorted(present - listed):
        problems.append(f"{unlisted} is not in kustomization.yaml's resources")

    sts = get("StatefulSet", "mitra-exporter")
    svc = get("Service", "mitra-exporter")
    monitor = get("ServiceMonitor", "mitra-exporter")
    if not (sts and svc and monitor):
        return report(problems, "consistency")

    pod = sts["spec"]["template"]
    pod_labels = pod["metadata"]["labels"]
    container = pod["spec"]["containers"][0]
    env = {e["name"]: e for e in container.get("env", [])}

    if sts["spec"]["serviceName"] != svc["metadata"]["name"]:
        problems.append("StatefulSet serviceName is not the Service's name")
    if svc["metadata"]["name"] != JOB:
        problems.append(f"the Service must be named {JOB}: its name is the job label the alerts use")
    if svc["spec"].get("clusterIP") != "None":
        problems.append("the Service must be headless so each shard is scraped")
    for key, value in svc["spec"]["selector"].items():
        if pod_labels.get(key) != value:
            problems.append(f"Service selector {key}={value} does not match the pod labels")
    for key, value in sts["spec"]["selector"]["matchLabels"].items():
        if pod_labels.get(key) != value:
            problems.append(f"StatefulSet selector {key}={value} does not match its pod template")
    for key, value in monitor["spec"]["selector"]["matchLabels"].items():
        if svc["metadata"]["labels"].get(key) != value:
            problems.append(f"ServiceMonitor selector {key}={value} does not match the Service's labels")

    ports = {p["name"]: p for p in container["ports"]}
    service_ports = {p["name"]: p for p in svc["spec"]["ports"]}
    for endpoint in monitor["spec"]["endpoints"]:
        if endpoint.get("port") not in service_ports:
            problems.append(f"ServiceMonitor endpoint port {endpoint.get('port')} is not a Service port name")
    for name, port in service_ports.items():
        if port.get("targetPort") not in ports and port.get("targetPort") != ports.get(name, {}).get("containerPort"):
            problems.append(f"Service port {name} targets {port.get('targetPort')}, not a container port")
    if ports.get("http-metrics", {}).get("containerPort") != PORT:
        problems.append(f"container port http-metrics is not {PORT}")
    if f"--web.listen-address=:{PORT}" not in container["args"]:
        problems.append(f"container args do not listen on :{PORT}")
    for probe in ("readinessProbe", "livenessProbe"):
        path = container.get(probe, {}).get("httpGet", {}).get("path")
        want = "/-/ready" if probe == "readinessProbe" else "/-/healthy"
        if path != want:
            problems.append(f"{probe} path is {path}, want {want}")

    # Sharding: the pod ordinal and the replica count.
    if "--shard=$(SHARD_INDEX)/$(SHARD_COUNT)" not in container["args"]:
        problems.append("container args lack --shard=$(SHARD_INDEX)/$(SHARD_COUNT)")
    index_ref = env.get("SHARD_INDEX", {}).get("valueFrom", {}).get("fieldRef", {}).get("fieldPath")
    if index_ref != "metadata.labels['apps.kubernetes.io/pod-index']":
        problems.append("SHARD_INDEX must come from the pod-index label")
    if str(env.get("SHARD_COUNT", {}).get("value")) != str(sts["spec"]["replicas"]):
        problems.append(f"SHARD_COUNT {env.get('SHARD_COUNT', {}).get('value')} != replicas {sts['spec']['replicas']}")

    # Secrets and config.
    for source in container.get("envFrom", []):
        name = source.get("secretRef", {}).get("name")
        if name and not get("Secret", name):
            problems.append(f"envFrom secret {name} is not defined")
    for volume in pod["spec"].get("volumes", []):
        name = volume.get("configMap", {}).get("name")
        if name:
            config = get("ConfigMap", name)
            if config and "mitra-exporter.yml" not in config.get("data", {}):
                problems.append(f"ConfigMap {name} has no mitra-exporter.yml")
    secret = get("Secret", "mitra-exporter-secrets")
    config = get("ConfigMap", "mitra-exporter-config")
    if secret and config:
        text = "\n".join(line for line in config["data"]["mitra-exporter.yml"].splitlines()
                         if not line.lstrip().startswith("#"))
        used = set(re.findall(r"\$\{env:(\w+)\}", text))
        provided = set(secret.get("stringData", {})) | set(secret.get("data", {}))
        for name in sorted(used - provided):
            problems.append(f"the config reads ${{env:{name}}} but the Secret does not provide it")

    # Hardening the pod must keep.
    pod_security = pod["spec"].get("securityContext", {})
    security = container.get("securityContext", {})
    if not pod_security.get("runAsNonRoot"):
        problems.append("pod must set runAsNonRoot")
    if security.get("allowPrivilegeEscalation") is not False or not security.get("readOnlyRootFilesystem"):
        problems.append("container must disallow privilege escalation and use a read-only root filesystem")
    if security.get("capabilities", {}).get("drop") != ["ALL"]:
        problems.append("container must drop all capabilities")
    if "memory" not in container.get("resources", {}).get("limits", {}):
        problems.append("container needs a memory limit")

    # The image kustomize rewrites must be the container's image name.
    image = container["image"].split(":")[0]
    if image not in {i["name"] for i in kustomization.get("images", [])}:
        problems.append(f"kustomization images do not cover {image}")

    # The PrometheusRule carries exactly the rule groups of alerts/rules.
    rule = get("PrometheusRule", "mitra-exporter")
    groups = []
    for path in sorted(glob.glob(os.path.join(REPO, "alerts", "rules", "*.rules.yml"))):
        groups += load_all(path)[0]["groups"]
    if rule and rule["spec"]["groups"] != groups:
        problems.append("PrometheusRule groups differ from alerts/rules (run tools/gen_kubernetes.py)")

    # One dashboard ConfigMap per dashboard, each with the sidecar label.
    dashboards = {os.path.basename(p) for p in glob.glob(os.path.join(REPO, "dashboards", "*.json"))}
    shipped = set()
    for (kind, name), (_, document) in objects.items():
        if kind == "ConfigMap" and document["metadata"].get("labels", {}).get("grafana_dashboard") == "1":
            for key, text in document["data"].items():
                json.loads(text)
                shipped.add(key)
    if shipped != dashboards:
        problems.append(f"dashboard ConfigMaps {sorted(shipped)} != dashboards/ {sorted(dashboards)}")

    # The other deployment files use the same port and job.
    with open(os.path.join(HERE, "Dockerfile")) as handle:
        dockerfile = handle.read()
    if f"EXPOSE {PORT}" not in dockerfile:
        problems.append(f"Dockerfile does not EXPOSE {PORT}")
    with open(os.path.join(HERE, "systemd", "mitra-exporter.service")) as handle:
        if f"--web.listen-address=:{PORT}" not in handle.read():
            problems.append(f"systemd unit does not listen on :{PORT}")
    prometheus = load_all(os.path.join(HERE, "prometheus", "prometheus.yml"))[0]
    jobs = {c["job_name"]: c for c in prometheus["scrape_configs"]}
    if JOB not in jobs:
        problems.append(f"prometheus.yml has no job {JOB}")
    elif not any(t.endswith(f":{PORT}") for sc in jobs[JOB]["static_configs"] for t in sc["targets"]):
        problems.append(f"prometheus.yml does not scrape port {PORT}")
    return report(problems, "consistency")


# ---------------------------------------------------------------------------------------------
# Dockerfile rules, beyond hadolint's:
#   1. multi-stage: a Swift build stage and a separate runtime stage;
#   2. the build links the Swift runtime statically (--static-swift-stdlib), so the runtime
#      image needs no Swift libraries;
#   3. the runtime stage is Debian slim and installs only libpq5, libcurl4, libyaml-0-2 and
#      the CA bundle,
#      without recommended packages, and removes the apt lists;
#   4. it runs as a numeric non-root user;
#   5. it has a HEALTHCHECK on /-/healthy and exposes the default port.


def makefile_text():
    with open(os.path.join(REPO, "Makefile")) as handle:
        return handle.read()


def dockerfile_stages():
    with open(os.path.join(HERE, "Dockerfile")) as handle:
        text = handle.read().replace("\\\n", " ")
    stages, current = [], None
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        word, _, rest = line.partition(" ")
        if word.upper() == "FROM":
            current = {"from": rest, "lines": []}
            stages.append(current)
        elif current is not None:
            current["lines"].append((word.upper(), rest))
    args = {m.group(1): m.group(2) for m in re.finditer(r"^ARG (\w+)=(\S+)", text, flags=re.M)}
    return stages, args


def runtime_packages():
    stages, _ = dockerfile_stages()
    packages = []
    for word, rest in stages[-1]["lines"]:
        if word == "RUN":
            for command in re.split(r"&&|;", rest):
                tokens = shlex.split(command)
                if tokens[:2] == ["apt-get", "install"]:
                    packages += [t for t in tokens[2:] if not t.startswith("-")]
    return packages


def dockerfile():
    problems = []
    stages, args = dockerfile_stages()
    if len(stages) < 2:
        return report(["the Dockerfile must be multi-stage"], "dockerfile")
    build, runtime = stages[0], stages[-1]
    build_from = re.sub(r"\$\{(\w+)\}", lambda m: args.get(m.group(1), ""), build["from"])
    runtime_from = re.sub(r"\$\{(\w+)\}", lambda m: args.get(m.group(1), ""), runtime["from"])
    if not build_from.startswith("swift:") or " AS " not in build_from.upper():
        problems.append(f"the first stage must be a named Swift build stage, not {build_from}")
    if not re.fullmatch(r"debian:\w+-slim", runtime_from):
        problems.append(f"the runtime stage must be Debian slim, not {runtime_from}")
    build_runs = " ".join(" ".join(rest.split()) for word, rest in build["lines"] if word == "RUN")
    if "--static-swift-stdlib" not in build_runs or "-c release" not in build_runs:
        problems.append("the build stage must build -c release with --static-swift-stdlib")
    # The image's binary is built like `make build`'s: the Makefile's RELEASE flags, then the
    # symbol table swapped for compressed function symbols.
    # RELEASE may continue over several lines (backslash-newline); both sides are compared
    # with their whitespace collapsed, as make and the shell read them.
    release = re.search(r"^RELEASE := ((?:.*\\\n)*.+)$", makefile_text(), flags=re.M)
    if release is None:
        problems.append("the Makefile has no RELEASE := line to compare the build flags with")
    else:
        flags = " ".join(release.group(1).replace("\\\n", " ").split())
        if f"swift build {flags} " not in build_runs:
            problems.append(f"the build stage must run swift build {flags} (the Makefile's RELEASE)")
    if "scripts/minidebuginfo.sh" not in build_runs:
        problems.append("the build stage must run scripts/minidebuginfo.sh on the binary, as make build does")
    packages = runtime_packages()
    if sorted(packages) != ["ca-certificates", "libcurl4", "libpq5", "libyaml-0-2"]:
        problems.append(f"the runtime stage installs {packages}; only libpq5, libcurl4, libyaml-0-2, ca-certificates")
    runtime_runs = " ".join(rest for word, rest in runtime["lines"] if word == "RUN")
    if "--no-install-recommends" not in runtime_runs or "rm -rf /var/lib/apt/lists/*" not in runtime_runs:
        problems.append("runtime apt-get install needs --no-install-recommends and must remove the apt lists")
    users = [rest for word, rest in runtime["lines"] if word == "USER"]
    if not users or not re.fullmatch(r"[1-9][0-9]*(:[1-9][0-9]*)?", users[-1]):
        problems.append("the runtime stage must end with a numeric non-root USER (runAsNonRoot can verify it)")
    checks = [rest for word, rest in runtime["lines"] if word == "HEALTHCHECK"]
    if not checks or "/-/healthy" not in checks[-1]:
        problems.append("the runtime stage needs a HEALTHCHECK on /-/healthy")
    if ("EXPOSE", str(PORT)) not in runtime["lines"]:
        problems.append(f"the runtime stage must EXPOSE {PORT}")
    if not any(word == "COPY" and rest.startswith("--from=build") for word, rest in runtime["lines"]):
        problems.append("the runtime stage must copy the binary from the build stage")
    return report(problems, "dockerfile")


def healthcheck():
    stages, _ = dockerfile_stages()
    for word, rest in stages[-1]["lines"]:
        if word == "HEALTHCHECK":
            command = json.loads(rest[rest.index("CMD") + 3:].strip())
            print("\0".join(command), end="")
            return 0
    return 1


# ---------------------------------------------------------------------------------------------


def package_closure(roots):
    """The installed packages `roots` depend on, recursively (Depends and Pre-Depends)."""
    seen, todo = set(), list(roots)
    while todo:
        package = todo.pop()
        if package in seen:
            continue
        seen.add(package)
        result = subprocess.run(["dpkg-query", "-W", "-f=${Depends}, ${Pre-Depends}", package],
                                capture_output=True, text=True)
        if result.returncode != 0:
            continue
        for clause in result.stdout.split(","):
            for alternative in clause.split("|"):
                name = alternative.strip().split(" ")[0].split(":")[0]
                if name and subprocess.run(["dpkg-query", "-W", name], capture_output=True).returncode == 0:
                    todo.append(name)
    return seen


def owner(path):
    """The Debian package that ships a library, trying the merged-/usr spellings of its path."""
    real = os.path.realpath(path)
    candidates = [path, real]
    for p in (path, real):
        if p.startswith("/lib"):
            candidates.append("/usr" + p)
        if p.startswith("/usr/lib"):
            candidates.append(p[4:])
    for candidate in candidates:
        result = subprocess.run(["dpkg", "-S", candidate], capture_output=True, text=True)
        if result.returncode == 0:
            return result.stdout.split(":")[0].strip()
    return None


# Libraries the binary loads with dlopen when first needed, so ldd does not list them:
# soname -> why. Each must be found on this machine, come from a runtime-image package, and
# be named in the binary (the loader's string), so this list cannot outlive the code.
LOADED_AT_RUN_TIME = {"libcurl.so.4": "HTTP checks"}

SWIFT_RUNTIME = re.compile(r"^(libswift\w*|libFoundation\w*|lib_FoundationICU|libdispatch|libBlocksRuntime)\.so")


def ldd(binary):
    problems = []
    output = subprocess.run(["ldd", binary], capture_output=True, text=True, check=True).stdout
    runtime = runtime_packages()
    allowed = package_closure([p for p in runtime if p != "ca-certificates"]) | BASE_IMAGE_PACKAGES
    used_roots = set()
    closures = {root: package_closure([root]) for root in runtime}
    rows = []
    for line in output.splitlines():
        match = re.match(r"\s*(\S+)\s+=>\s+(\S+)", line)
        if not match:
            continue  # vdso and the dynamic loader itself (libc6)
        soname, path = match.groups()
        if path == "not":
            problems.append(f"{soname}: not found on this machine")
            continue
        if SWIFT_RUNTIME.match(soname):
            # A dynamically linked development build; the image links these statically
            # (--static-swift-stdlib, checked by `dockerfile`).
            rows.append((soname, "Swift runtime (static in the image)"))
            continue
        package = owner(path)
        rows.append((soname, package or "?"))
        if package is None:
            problems.append(f"{soname} ({path}) belongs to no Debian package")
        elif package not in allowed:
            problems.append(f"{soname} comes from {package}, which the runtime image does not install")
        for root in runtime:
            if package and package in closures[root]:
                used_roots.add(root)
    with open(binary, "rb") as handle:
        image = handle.read()
    cache = subprocess.run(["ldconfig", "-p"], capture_output=True, text=True, check=True).stdout
    for soname, purpose in LOADED_AT_RUN_TIME.items():
        if soname.encode() + b"\0" not in image:
            problems.append(f"{soname} is listed as loaded at run time, but the binary does not name it")
            continue
        path = next((line.split(" => ")[1].strip() for line in cache.splitlines()
                     if line.strip().startswith(soname + " ") and "x86-64" in line), None)
        if path is None:
            problems.append(f"{soname} (loaded at run time for {purpose}): not found on this machine")
            continue
        package = owner(path)
        rows.append((soname, f"{package or '?'} (loaded at run time for {purpose})"))
        if package not in allowed:
            problems.append(f"{soname} comes from {package}, which the runtime image does not install")
        for root in runtime:
            if package and package in closures[root]:
                used_roots.add(root)
    for root in runtime:
        if root != "ca-certificates" and root not in used_roots:
            problems.append(f"the runtime image installs {root}, but the binary does not need it")
    width = max((len(r[0]) for r in rows), default=0)
    for soname, package in rows:
        print(f"  {soname:<{width}}  {package}")
    return report(problems, f"ldd {binary}")


if __name__ == "__main__":
    command = sys.argv[1] if len(sys.argv) > 1 else ""
    if command == "consistency":
        sys.exit(consistency())
    if command == "dockerfile":
        sys.exit(dockerfile())
    if command == "healthcheck":
        sys.exit(healthcheck())
    if command == "ldd" and len(sys.argv) == 3:
        sys.exit(ldd(sys.argv[2]))
    print(__doc__, file=sys.stderr)
    sys.exit(2)
