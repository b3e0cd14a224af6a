#!/usr/bin/env python3
"""The mesh-config ConfigMap an NGINX Service Mesh deploy leaves behind, for the
nginx-meshctl stand-in: nsm_mesh_config.py NAMESPACE VERSION [--flag=value ...]

Starts from the vendor's defaults (tests/fixtures/vendor/nginx-service-mesh.json,
`mesh_config`), applies the deploy flags that change the configuration, checks
them as the vendor's deploy does, and prints the ConfigMap as JSON. A refused
flag value is printed to stderr with exit status 2.
"""
import base64
import copy
import json
import os
import sys


def facts():
    here = os.path.dirname(os.path.abspath(__file__))
    path = os.path.join(here, "..", "..", "fixtures", "vendor", "nginx-service-mesh.json")
    with open(path, encoding="utf-8") as f:
        return json.load(f)["mesh_config"]


def refuse(message):
    print(f"invalid configuration: {message}", file=sys.stderr)
    sys.exit(2)


def configure(mc, flags):
    config = copy.deepcopy(mc["defaults"])
    registry = config.pop("registry_server")
    for arg in flags:
        flag, _, value = arg.partition("=")
        allowed = mc["values"].get(flag)
        if allowed is not None and value not in allowed:
            refuse(f"{flag} must be one of {', '.join(allowed)}, not {value!r}")
        if flag == "--mtls-mode":
            config["mtls"]["mode"] = value
        elif flag == "--access-control-mode":
            config["accessControlMode"] = value
        elif flag == "--disable-auto-inject":
            if value not in ("true", "false"):
                refuse(f"--disable-auto-inject takes true or false, not {value!r}")
            config["injection"]["isAutoInjectEnabled"] = value == "false"
        elif flag == "--enabled-namespaces":
            config["injection"]["enabledNamespaces"] = [n for n in value.split(",") if n]
        elif flag == "--registry-server":
            registry = value
    injection = config["injection"]
    if injection["isAutoInjectEnabled"] and injection["enabledNamespaces"]:
        refuse("enabled namespaces should not be set when auto injection is enabled")
    return config, registry


def main():
    if len(sys.argv) < 3:
        sys.exit("usage: nsm_mesh_config.py NAMESPACE VERSION [--flag=value ...]")
    namespace, version, flags = sys.argv[1], sys.argv[2], sys.argv[3:]
    mc = facts()
    config, registry = configure(mc, flags)
    config["namespace"] = namespace
    config["sidecarImage"] = {"image": f"{registry}/nginx-mesh-sidecar:{version}", "name": "nginx-mesh-sidecar"}
    document = json.dumps(config, indent=2).encode()
    print(json.dumps({
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": mc["config_map"], "namespace": namespace,
                     "labels": {"app.kubernetes.io/part-of": "nginx-service-mesh"}},
        "binaryData": {mc["key"]: base64.b64encode(document).decode()},
    }))


main()
