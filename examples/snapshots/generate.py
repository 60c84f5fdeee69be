#!/usr/bin/env python3
"""Regenerate the example cluster snapshots from the base branch of the example repository.

It renders every project of examples/gitops-base with the pinned tools (scripts/install-tools.sh),
then writes what `kubectl get -o yaml` would show after Flux's kustomize-controller applied
those objects with server-side apply: Flux owner labels, a managedFields entry per manager,
server defaults, allocated fields and status. One drift is injected on purpose (a `kubectl
edit` of the payments-api LOG_LEVEL), so the plan shows a change labelled as drift.

    python3 examples/snapshots/generate.py

Output: examples/snapshots/<cluster>/<namespace>.yaml, one `kind: List` per namespace.
Deterministic: fixed uids, timestamps and resource versions.
"""

import base64
import copy
import hashlib
import json
import os
import subprocess
import sys

import yaml

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
REPO = os.path.join(ROOT, "examples", "gitops-base")
TOOLS = os.environ.get("THULE_TOOLS_DIR", os.path.join(ROOT, ".tools", "bin"))
STAMP = "2026-10-01T08:00:00Z"
APPLIED = "2026-11-20T14:02:11Z"

# (project, cluster, mode, path, namespace, helm release, helm values files, chart)
PROJECTS = [
    ("shop-staging", "prod", "kustomize", "apps/shop/overlays/staging", "shop-staging", None, [], None),
    ("shop-prod", "prod", "kustomize", "apps/shop/overlays/prod", "shop", None, [], None),
    ("web-prod", "prod", "helm", "apps/web", "web", "web", ["apps/web/values-prod.yaml"], "charts/web"),
    ("payments", "prod", "yaml", "apps/payments", "payments", None, [], None),
    ("monitoring", "ops", "yaml", "platform/monitoring", "monitoring", None, [], None),
]

# List-map keys (SSA x-kubernetes-list-map-keys) for the fields the example uses.
MAP_KEYS = {
    "containers": ["name"],
    "initContainers": ["name"],
    "env": ["name"],
    "volumeMounts": ["mountPath"],
    "volumes": ["name"],
    "imagePullSecrets": ["name"],
}


def render(mode, path, namespace, release, values, chart):
    if mode == "kustomize":
        out = subprocess.run([os.path.join(TOOLS, "kubectl"), "kustomize", os.path.join(REPO, path)],
                             check=True, capture_output=True, text=True).stdout
    elif mode == "helm":
        args = [os.path.join(TOOLS, "helm"), "template", release, os.path.join(REPO, chart),
                "--namespace", namespace]
        for v in values:
            args += ["--values", os.path.join(REPO, v)]
        out = subprocess.run(args, check=True, capture_output=True, text=True).stdout
    else:
        docs = []
        for name in sorted(os.listdir(os.path.join(REPO, path))):
            if name.endswith(".yaml") and name != "thule.yaml":
                with open(os.path.join(REPO, path, name)) as f:
                    docs.append(f.read())
        out = "\n---\n".join(docs)
    objs = [d for d in yaml.safe_load_all(out) if d]
    for o in objs:
        if o["kind"] != "Namespace":
            o.setdefault("metadata", {}).setdefault("namespace", namespace)
    return objs


def key_of(item, keys):
    return "k:" + json.dumps({k: item[k] for k in sorted(keys)}, separators=(",", ":"))


def fields(value, parent=None):
    """FieldsV1 of an applied value (what the applier owns)."""
    out = {}
    for k, v in value.items():
        if isinstance(v, dict):
            if k in ("selector", "matchLabels") and parent == "spec" and k == "selector":
                out["f:" + k] = {}  # LabelSelector is atomic
            elif v:
                out["f:" + k] = fields(v, k)
            else:
                out["f:" + k] = {}
        elif isinstance(v, list) and k in MAP_KEYS and all(isinstance(i, dict) for i in v):
            node = {}
            for item in v:
                entry = fields(item, k)
                entry["."] = {}
                node[key_of(item, MAP_KEYS[k])] = entry
            out["f:" + k] = node
        elif isinstance(v, list) and k == "ports" and all(isinstance(i, dict) for i in v):
            node = {}
            for item in v:
                keys = ["containerPort", "protocol"] if "containerPort" in item else ["port", "protocol"]
                entry = fields(item, k)
                entry["."] = {}
                node[key_of(item, keys)] = entry
            out["f:" + k] = node
        else:
            out["f:" + k] = {}
    return out


def default_pod_spec(spec):
    spec.setdefault("dnsPolicy", "ClusterFirst")
    spec.setdefault("restartPolicy", "Always")
    spec.setdefault("schedulerName", "default-scheduler")
    spec.setdefault("securityContext", {})
    spec.setdefault("terminationGracePeriodSeconds", 30)
    for c in spec.get("containers", []):
        tag = c["image"].rsplit(":", 1)[-1] if ":" in c["image"].rsplit("/", 1)[-1] else "latest"
        c.setdefault("imagePullPolicy", "Always" if tag == "latest" else "IfNotPresent")
        c.setdefault("terminationMessagePath", "/dev/termination-log")
        c.setdefault("terminationMessagePolicy", "File")
        c.setdefault("resources", {})
        for p in c.get("ports", []):
            p.setdefault("protocol", "TCP")
        for e in c.get("env", []):
            ref = e.get("valueFrom", {}).get("fieldRef")
            if ref:
                ref.setdefault("apiVersion", "v1")


def with_protocol_defaults(desired):
    """The applied configuration as the server sees it (key fields defaulted, §3.5)."""
    d = copy.deepcopy(desired)
    spec = d.get("spec", {})
    if d["kind"] == "Service":
        for p in spec.get("ports", []):
            p.setdefault("protocol", "TCP")
    tmpl = spec.get("template", {}).get("spec")
    if tmpl:
        for c in tmpl.get("containers", []):
            for p in c.get("ports", []):
                p.setdefault("protocol", "TCP")
    if d["kind"] == "Secret" and "stringData" in d:
        d.setdefault("data", {})
        for k, v in d.pop("stringData").items():
            d["data"][k] = base64.b64encode(v.encode()).decode()
    return d


def live_of(desired, project, index):
    applied = with_protocol_defaults(desired)
    labels = applied.setdefault("metadata", {}).setdefault("labels", {})
    labels["kustomize.toolkit.fluxcd.io/name"] = project
    labels["kustomize.toolkit.fluxcd.io/namespace"] = "flux-system"
    live = copy.deepcopy(applied)
    meta = live["metadata"]
    ident = f"{project}/{live['kind']}/{meta.get('namespace', '')}/{meta['name']}"
    digest = hashlib.sha256(ident.encode()).hexdigest()
    meta["uid"] = f"{digest[:8]}-{digest[8:12]}-{digest[12:16]}-{digest[16:20]}-{digest[20:32]}"
    meta["resourceVersion"] = str(48000 + index * 17)
    meta["creationTimestamp"] = STAMP
    body = {k: v for k, v in applied.items() if k not in ("apiVersion", "kind")}
    body["metadata"] = {k: v for k, v in body["metadata"].items() if k in ("labels", "annotations")}
    managed = [{
        "apiVersion": applied["apiVersion"],
        "fieldsType": "FieldsV1",
        "fieldsV1": fields(body),
        "manager": "kustomize-controller",
        "operation": "Apply",
        "time": APPLIED,
    }]
    kind = live["kind"]
    spec = live.get("spec", {})
    if kind == "Deployment":
        meta["generation"] = 3
        meta.setdefault("annotations", {})["deployment.kubernetes.io/revision"] = "3"
        spec.setdefault("progressDeadlineSeconds", 600)
        spec.setdefault("revisionHistoryLimit", 10)
        spec.setdefault("strategy", {"type": "RollingUpdate",
                                     "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"}})
        spec["template"].setdefault("metadata", {})["creationTimestamp"] = None
        default_pod_spec(spec["template"]["spec"])
        replicas = spec.get("replicas", 1)
        live["status"] = {
            "availableReplicas": replicas, "observedGeneration": 3, "readyReplicas": replicas,
            "replicas": replicas, "updatedReplicas": replicas,
            "conditions": [
                {"type": "Available", "status": "True", "reason": "MinimumReplicasAvailable",
                 "message": "Deployment has minimum availability.",
                 "lastTransitionTime": STAMP, "lastUpdateTime": STAMP},
                {"type": "Progressing", "status": "True", "reason": "NewReplicaSetAvailable",
                 "message": f"ReplicaSet \"{meta['name']}-7d9c6b5f4\" has successfully progressed.",
                 "lastTransitionTime": STAMP, "lastUpdateTime": APPLIED},
            ],
        }
        managed.append({
            "apiVersion": "apps/v1", "fieldsType": "FieldsV1", "manager": "kube-controller-manager",
            "operation": "Update", "subresource": "status", "time": APPLIED,
            "fieldsV1": {"f:metadata": {"f:annotations": {".": {}, "f:deployment.kubernetes.io/revision": {}}},
                         "f:status": {"f:availableReplicas": {}, "f:conditions": {}, "f:observedGeneration": {},
                                      "f:readyReplicas": {}, "f:replicas": {}, "f:updatedReplicas": {}}},
        })
    elif kind == "Service":
        ip = "10.96.%d.%d" % (int(digest[:2], 16), int(digest[2:4], 16) or 1)
        spec["clusterIP"] = ip
        spec["clusterIPs"] = [ip]
        spec["internalTrafficPolicy"] = "Cluster"
        spec["ipFamilies"] = ["IPv4"]
        spec["ipFamilyPolicy"] = "SingleStack"
        spec["sessionAffinity"] = "None"
        spec["type"] = "ClusterIP"
        for p in spec.get("ports", []):
            p.setdefault("targetPort", p["port"])
        live["status"] = {"loadBalancer": {}}
    elif kind == "Secret":
        live.setdefault("type", "Opaque")
    elif kind == "Namespace":
        meta["labels"]["kubernetes.io/metadata.name"] = meta["name"]
        live["spec"] = {"finalizers": ["kubernetes"]}
        live["status"] = {"phase": "Active"}
    elif kind == "ServiceAccount":
        pass
    live["metadata"] = dict(sorted(meta.items()))
    live["metadata"]["managedFields"] = managed
    return live


def inject_drift(objects):
    """Someone ran `kubectl edit` on payments-api and set LOG_LEVEL=debug."""
    for o in objects:
        if o["kind"] == "Deployment" and o["metadata"]["name"] == "payments-api":
            for c in o["spec"]["template"]["spec"]["containers"]:
                for e in c.get("env", []):
                    if e["name"] == "LOG_LEVEL":
                        e["value"] = "debug"
            ko = o["metadata"]["managedFields"][0]["fieldsV1"]
            env = ko["f:spec"]["f:template"]["f:spec"]["f:containers"]['k:{"name":"api"}']["f:env"]
            del env['k:{"name":"LOG_LEVEL"}']["f:value"]
            o["metadata"]["managedFields"].append({
                "apiVersion": "apps/v1", "fieldsType": "FieldsV1", "manager": "kubectl-edit",
                "operation": "Update", "time": "2026-11-21T09:13:40Z",
                "fieldsV1": {"f:spec": {"f:template": {"f:spec": {"f:containers": {'k:{"name":"api"}': {
                    "f:env": {'k:{"name":"LOG_LEVEL"}': {"f:value": {}}}}}}}}},
            })


def main():
    by_file = {}
    index = 0
    for project, cluster, mode, path, ns, release, values, chart in PROJECTS:
        for obj in render(mode, path, ns, release, values, chart):
            index += 1
            live = live_of(obj, project, index)
            namespace = live["metadata"].get("namespace") or "cluster"
            by_file.setdefault((cluster, namespace), []).append(live)
    for objects in by_file.values():
        inject_drift(objects)
    for (cluster, namespace), objects in sorted(by_file.items()):
        out_dir = os.path.join(HERE, cluster)
        os.makedirs(out_dir, exist_ok=True)
        objects.sort(key=lambda o: (o["kind"], o["metadata"]["name"]))
        doc = {"apiVersion": "v1", "items": objects, "kind": "List", "metadata": {"resourceVersion": ""}}
        with open(os.path.join(out_dir, f"{namespace}.yaml"), "w") as f:
            f.write(f"# kubectl get all,cm,secret,sa,netpol -n {namespace} -o yaml (generated by generate.py)\n")
            yaml.safe_dump(doc, f, sort_keys=True, default_flow_style=False, width=1000)
        print(f"wrote {cluster}/{namespace}.yaml ({len(objects)} objects)", file=sys.stderr)


if __name__ == "__main__":
    main()
