#!/bin/bash
echo post install
