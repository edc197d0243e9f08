#!/bin/bash
kubectl apply -f app.yaml
