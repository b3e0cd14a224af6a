#!/usr/bin/env python3
"""What one kumactl release accepts, for the kumactl stand-in:

    kumactl_facts.py PRODUCT VERSION WHAT

PRODUCT is kuma or kong-mesh, VERSION the kumactl's own release. WHAT is
  install-flags   the flags of `install control-plane`, one a line
  modes           the values its --mode takes
  default-mode    the mode it renders when --mode is not given
  checks-mode     prints yes when kumactl itself refuses another mode
  version-flags   the flags of `version`
  version-line    the line `version` prints first ({product}, {version} left in)
  base            the Kuma release the kumactl is built on

The facts are tests/fixtures/vendor/kuma.json (kumactl.*, as since/until
ranges) and, for Kong Mesh, kong-mesh.json (which Kuma release each Kong Mesh
release is built on, and its extra flags). A release the facts cannot place is
an error, never a guess.
"""
import json
import os
import sys


def version(text):
    try:
        return tuple(int(p) for p in text.split("."))
    except ValueError:
        sys.exit(f"not a release: {text}")


def load(product):
    here = os.path.dirname(os.path.abspath(__file__))
    path = os.path.join(here, "..", "..", "fixtures", "vendor", product + ".json")
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def within(release, span):
    since, until = span.get("since"), span.get("until")
    return (since is None or version(since) <= release) and (until is None or release < version(until))


def names(table, release):
    return [name for name, span in table.items() if within(release, span)]


def kuma_base(product, own):
    if product == "kuma":
        return own
    if product != "kong-mesh":
        sys.exit(f"kumactl facts are for kuma or kong-mesh, not {product}")
    facts = load("kong-mesh")["kumactl"]
    line = ".".join(str(p) for p in own[:2]) + ".0"
    if version(facts["same_as_kuma_since"]) <= own:
        return own
    if line in facts["kuma_base"]:
        return version(facts["kuma_base"][line])
    sys.exit(f"kong-mesh.json: no fact says which Kuma release Kong Mesh {'.'.join(map(str, own))} is built on")


def main():
    if len(sys.argv) != 4:
        sys.exit("usage: kumactl_facts.py PRODUCT VERSION WHAT")
    product, own, what = sys.argv[1], version(sys.argv[2]), sys.argv[3]
    base = kuma_base(product, own)
    kumactl = load("kuma")["kumactl"]
    install = kumactl["install_control_plane"]
    if what == "install-flags":
        out = names(install["flags"], base)
        if product == "kong-mesh":
            out += names(load("kong-mesh")["kumactl"]["extra_install_flags"], own)
    elif what == "modes":
        out = names(install["modes"], base)
    elif what == "default-mode":
        out = names(install["default_mode"], base)
    elif what == "checks-mode":
        out = ["yes" if within(base, install["kumactl_checks_mode"]) else "no"]
    elif what == "version-flags":
        out = names(kumactl["version"]["flags"], base)
    elif what == "version-line":
        out = names(kumactl["version"]["prints"], base)
    elif what == "base":
        out = [".".join(map(str, base))]
    else:
        sys.exit(f"unknown question: {what}")
    try:
        for item in out:
            print(item)
        sys.stdout.flush()
    except BrokenPipeError:
        # The reader stopped once it found what it looked for: not an error here.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())


main()
