#!/bin/bash
echo pre-start placeholder
