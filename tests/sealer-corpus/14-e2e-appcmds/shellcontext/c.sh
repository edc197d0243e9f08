#!/bin/bash
echo c
