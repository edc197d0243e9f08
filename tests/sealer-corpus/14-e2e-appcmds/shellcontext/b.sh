#!/bin/bash
echo b
