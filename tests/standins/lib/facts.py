#!/usr/bin/env python3
"""Prints one vendor fact for the stand-ins: facts.py PRODUCT KEY[.KEY...]

The facts are tests/fixtures/vendor/PRODUCT.json (what the vendor's real
releases name and accept); a list prints one item per line. A fact that is not
there is an error, never an empty answer.
"""
import json
import os
import sys


def main():
    if len(sys.argv) != 3:
        sys.exit("usage: facts.py PRODUCT KEY[.KEY...]")
    product, key = sys.argv[1], sys.argv[2]
    here = os.path.dirname(os.path.abspath(__file__))
    path = os.path.join(here, "..", "..", "fixtures", "vendor", product + ".json")
    with open(path, encoding="utf-8") as f:
        value = json.load(f)
    for part in key.split("."):
        if not isinstance(value, dict) or part not in value:
            sys.exit(f"{path}: no fact {key}")
        value = value[part]
    try:
        for item in value if isinstance(value, list) else [value]:
            print(item)
        sys.stdout.flush()
    except BrokenPipeError:
        # The reader stopped once it found what it looked for (a flag among
        # the accepted ones): that is its answer, not an error of this script.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())


main()
