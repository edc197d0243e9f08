#!/bin/bash
echo install nvidia-docker
