#!/bin/bash
# serves rootfs/registry as the cluster's registry (placeholder)
