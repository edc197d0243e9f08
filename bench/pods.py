#!/usr/bin/env python3
"""Writes N Pods as one YAML stream, the input of bench/policy_apply.sh and
bench/image_search.sh: 7 distinct images, 50 namespaces, every fourth Pod
privileged (so policies have failures to report).

usage: bench/pods.py N OUT
"""
import sys

n, out = int(sys.argv[1]), sys.argv[2]
with open(out, "w") as f:
    for i in range(n):
        sc = "\n        securityContext:\n          privileged: true" if i % 4 == 0 else ""
        f.write(f"""---
apiVersion: v1
kind: Pod
metadata:
  name: pod-{i}
  namespace: ns-{i % 50}
spec:
  containers:
      - name: app
        image: registry.example.com/app:{i % 7}.0{sc}
""")
