#!/bin/bash
echo init kube placeholder
