#!/usr/bin/env python3
"""Honest MSRV (issue 15): pyact's rust-version must be the real minimum of its whole graph.

Fails if any package that `cargo metadata` resolves (dependencies of every kind and platform,
and the forks in vendor/) declares a higher rust-version than pyact, or if a workspace
member (a fork) declares another one than pyact. Run by .ci/run.
"""
import json
import os
import subprocess
import sys

os.chdir(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
meta = json.loads(
    subprocess.run(
        ["cargo", "metadata", "--format-version", "1", "--locked"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
)


def ver(v):
    return tuple(int(x) for x in (v.split(".") + ["0", "0"])[:3])


root = next(p for p in meta["packages"] if p["name"] == "pyact")
msrv = root.get("rust_version")
if not msrv:
    sys.exit("pyact declares no rust-version")
bad = []
for p in meta["packages"]:
    rv = p.get("rust_version")
    if rv and ver(rv) > ver(msrv):
        bad.append("%s %s needs rust %s" % (p["name"], p["version"], rv))
    if p["id"] in meta["workspace_members"] and rv != msrv:
        bad.append("workspace member %s declares rust-version %s" % (p["name"], rv))
if bad:
    sys.exit("pyact declares rust-version %s, but:\n  %s" % (msrv, "\n  ".join(bad)))
print("msrv: pyact %s; none of the %d packages in its graph needs more" % (msrv, len(meta["packages"])))
