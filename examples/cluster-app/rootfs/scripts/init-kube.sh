#!/bin/bash
set -euo pipefail
kubeadm init --config etc/kubeadm.yml
