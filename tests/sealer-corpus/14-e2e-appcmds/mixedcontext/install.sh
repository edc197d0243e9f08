#!/bin/bash
echo mixed
