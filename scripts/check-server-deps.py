#!/usr/bin/env python3
"""Holds ARCHITECTURE.md's line: mscgrec-server links no training, dataset-reading or quantizer code.

Reads `swift package describe --type json` and walks the server's target dependencies transitively; exits 1 naming
the path to any forbidden module."""
import json, subprocess, sys

FORBIDDEN = {"Training", "Datasets", "Quantization", "Images", "TextEncoding", "Evaluation"}
package = json.loads(subprocess.run(["swift", "package", "describe", "--type", "json"], check=True,
                                    capture_output=True, text=True).stdout)
targets = {t["name"]: t.get("target_dependencies", []) for t in package["targets"]}

def walk(name, path):
    for dep in targets.get(name, []):
        if dep in FORBIDDEN:
            sys.exit(f"mscgrec-server links {dep}: {' -> '.join(path + [dep])}")
        walk(dep, path + [dep])

walk("mscgrec-server", ["mscgrec-server"])
print(f"mscgrec-server links none of {', '.join(sorted(FORBIDDEN))}")
